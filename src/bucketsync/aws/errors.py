"""The one place botocore's exceptions become bucketsync's (``raise ... from exc``).

The type chosen is what ``bucketsync.errors.fault_of`` reads: ``RetryableError`` (ours,
passing), ``ConfigurationError`` (ours, lasting: the worker pauses on it rather than spend the
message) and ``SinkWriteError`` (the message's own: it fails alone).
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

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
        "LimitExceededException",
        "TooManyRequestsException",
        "ServiceUnavailableException",
        "RequestThrottled",  # SQS
        "OverLimit",  # SQS: too many messages in flight
        "KMS.ThrottlingException",
    }
)
# One object's own state, though S3 answers 403 for it: not the table's, not the role's.
MESSAGE_CODES = frozenset({"InvalidObjectState"})
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
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "MissingAuthenticationToken",
        "InvalidSignatureException",
        "KMS.DisabledException",
        "KMS.NotFoundException",
    }
)


# S3's answers for "the version asked for is not there (any more)": deleted, replaced since
# (an IfMatch that no longer holds), or a version id deleted. HeadObject, with no body, has
# only the status to say it ("404").
GONE_CODES = frozenset({"PreconditionFailed", "NoSuchKey", "NoSuchVersion", "404", "412"})


def is_gone(exc: ClientError) -> bool:
    """The object (or the version of it the request pinned) is gone: nothing to read."""
    return error_code(exc) in GONE_CODES


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
        if code in MESSAGE_CODES:  # an archived object: the message's, not a permission
            return SinkWriteError(message)
        if code in CONFIGURATION_CODES or status == 403:
            return ConfigurationError(message)
        return SinkWriteError(message)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | NoRegionError):
        # Nobody configured them: no retry will find them.
        return ConfigurationError(f"{action}: {exc}")
    if isinstance(exc, ConnectionError | HTTPClientError | BotoCoreError):
        return RetryableError(f"{action}: {exc}")
    return BucketSyncError(f"{action}: {exc}")
