"""The one client factory: the emulator and real AWS share this code path.

With ``endpoint_url`` unset, boto3's default credential chain and endpoints are used.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from bucketsync.aws.request_counter import RequestCounter
from bucketsync.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient


class Clients:
    """Lazily built, thread-safe boto3 clients sharing one session and retry policy."""

    def __init__(self, settings: Settings, counter: RequestCounter | None = None) -> None:
        self.settings = settings
        self.counter = counter
        kwargs: dict[str, Any] = {"region_name": settings.region}
        if settings.access_key_id and settings.secret_access_key:
            kwargs["aws_access_key_id"] = settings.access_key_id.get_secret_value()
            kwargs["aws_secret_access_key"] = settings.secret_access_key.get_secret_value()
        self._session = boto3.session.Session(**kwargs)
        self._config = Config(
            retries={"max_attempts": settings.max_attempts, "mode": "adaptive"},
            max_pool_connections=settings.max_pool_connections,
            connect_timeout=5,
            read_timeout=30,
            # Path-style keeps bucket names out of DNS, which the emulator needs.
            s3={"addressing_style": "path"} if settings.endpoint_url else None,
        )

    def client(
        self, service: str, *, validate: bool = True, max_attempts: int | None = None
    ) -> Any:
        """A new client. ``validate=False`` skips botocore's check of each request's
        parameters against the API model (the service checks them anyway): a sixth of a
        conditional PutItem's client CPU, for writers that build their requests themselves."""
        config = (
            self._config if validate else self._config.merge(Config(parameter_validation=False))
        )
        if max_attempts is not None:
            config = config.merge(
                Config(retries={"max_attempts": max_attempts, "mode": "standard"})
            )
        client = self._session.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.settings.endpoint_url,
            config=config,
        )
        if self.counter is not None:
            self.counter.attach(client)
        return client

    @cached_property
    def s3(self) -> S3Client:
        client: S3Client = self.client("s3")
        return client

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        client: DynamoDBClient = self.client("dynamodb")
        return client

    @cached_property
    def sqs(self) -> SQSClient:
        client: SQSClient = self.client("sqs")
        return client
