"""The one place botocore's exceptions become bucketsync's (``raise ... from exc``)."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from bucketsync.errors import (
    BucketSyncError,
    ConfigurationError,
    RetryableError,
    SinkWriteError,
)

RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "SlowDown",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PreconditionFailed",  # the object changed between two reads: read again
    }
)
CONFIGURATION_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ResourceNotFoundException",
        "NoSuchBucket",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def translate(exc: Exception, action: str) -> BucketSyncError:
    """Classify an SDK failure by what the caller should do about it."""
    if isinstance(exc, ClientError):
        code, status = error_code(exc), http_status(exc)
        message = f"{action}: {code or status}: {exc.response.get('Error', {}).get('Message', '')}"
        if code in RETRYABLE_CODES or status >= 500 or status == 429:
            return RetryableError(message)
        if code in CONFIGURATION_CODES or status == 403:
            return ConfigurationError(message)
        return SinkWriteError(message)
    if isinstance(exc, ConnectionError | HTTPClientError | BotoCoreError):
        return RetryableError(f"{action}: {exc}")
    return BucketSyncError(f"{action}: {exc}")
