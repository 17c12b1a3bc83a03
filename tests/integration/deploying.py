"""A bucket to deploy onto (objects, another team's notification, routes) and the CLI at the
emulator: shared by the deploy, destroy and operate tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from bucketsync.aws.clients import Clients
from bucketsync.cli import app
from bucketsync.deploy import package
from bucketsync.deploy.stack import stack_name
from bucketsync.local.emulator import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY
from bucketsync.local.stack import StackNames
from bucketsync.settings import Settings

PREFIX = "uploads/"
OTHER_PREFIX = "other/"
EXISTING = ("uploads/a.txt", "uploads/b.txt", "other/c.txt")


def other_entry(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [q for q in config.get("QueueConfigurations", []) if q["Id"] == "another-team"]


@dataclass
class Deploying:
    """One test's bucket, its names, and the CLI pointed at the emulator."""

    settings: Settings
    clients: Clients
    names: StackNames
    zip_path: Path
    routes_file: Path
    other_queue_arn: str

    @property
    def bucket(self) -> str:
        return self.names.bucket

    @property
    def stack(self) -> str:
        return stack_name(self.bucket)

    @property
    def rows_table(self) -> str:
        return f"{self.names.table}-rows"

    def cli(self, *args: str, stdin: str | None = None) -> Result:
        assert self.settings.endpoint_url
        return CliRunner().invoke(
            app,
            ["--endpoint-url", self.settings.endpoint_url, *args],
            input=stdin,
            env={
                "BUCKETSYNC_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
                "BUCKETSYNC_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
                "COLUMNS": "250",
                "FORCE_COLOR": None,
                "TTY_COMPATIBLE": None,
            },
        )

    def deploy(self, *extra: str) -> Result:
        return self.cli(
            "deploy",
            self.bucket,
            "--package",
            str(self.zip_path),
            "--prefix",
            PREFIX,
            "--routes-file",
            str(self.routes_file),
            "-p",
            f"TableName={self.names.table}",
            *extra,
        )

    def outputs(self) -> dict[str, str]:
        stacks = self.cfn.describe_stacks(StackName=self.stack)["Stacks"]
        return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

    def template(self) -> dict[str, Any]:
        """The template the stack holds (boto3 parses a JSON body itself)."""
        body = self.cfn.get_template(StackName=self.stack)["TemplateBody"]
        return dict(body) if not isinstance(body, str) else dict(json.loads(body))

    @property
    def cfn(self) -> Any:
        return self.clients.client("cloudformation")

    def client(self, service: str) -> Any:
        return self.clients.client(service)

    def notification(self) -> dict[str, Any]:
        config = dict(self.clients.s3.get_bucket_notification_configuration(Bucket=self.bucket))
        config.pop("ResponseMetadata", None)
        return config


def make_deploying(
    settings: Settings,
    clients: Clients,
    names: StackNames,
    function_zip: package.Built,
    tmp_path: Path,
) -> Deploying:
    """A bucket that already holds objects and another team's notification (on other/)."""
    clients.s3.create_bucket(Bucket=names.bucket)
    for key in EXISTING:
        clients.s3.put_object(Bucket=names.bucket, Key=key, Body=key.encode())
    other = clients.sqs.create_queue(QueueName=f"{names.queue}-other")["QueueUrl"]
    other_arn = clients.sqs.get_queue_attributes(QueueUrl=other, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    clients.s3.put_bucket_notification_configuration(
        Bucket=names.bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "another-team",
                    "QueueArn": other_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "other/"}]}},
                }
            ]
        },
    )
    routes = tmp_path / "routes.json"
    routes.write_text(
        json.dumps(
            [
                {
                    "match": "uploads/data/*.jsonl",
                    "table": f"{names.table}-rows",
                    "errors_prefix": "uploads/errors/",
                }
            ]
        )
    )
    return Deploying(settings, clients, names, function_zip.path, routes, other_arn)
