"""One record of an S3 event notification (``{"Records": [{"eventSource": "aws:s3", ...}]}``).

The same JSON reaches us invoked directly by S3, as an SQS body, and inside SNS.
Shape: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html

Lenient where AWS and the emulator differ: moto 5.2.5 sends no ``sequencer``, ``versionId``,
``userIdentity``, ``requestParameters`` or ``responseElements``, so all of them are optional
(and Powertools' ``S3Model``, which requires them, cannot parse moto's events).
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from bucketsync.events.fields import (
    JsonObject,
    describe,
    fail,
    opt_etag,
    opt_nonempty_str,
    opt_object,
    opt_sequencer,
    opt_size,
    opt_str,
    req_object,
    req_str,
    req_time,
)
from bucketsync.events.model import Change, ChangeKind

SOURCE = "aws:s3"

_CREATED = "ObjectCreated"
_REMOVED = frozenset({"ObjectRemoved", "LifecycleExpiration"})
# Recognised, but not a change to whether an object exists or what it holds. A lost RRS object
# is still listed by S3 (reads fail), so the catalogue has nothing to change either.
_SKIPPED = frozenset(
    {
        "ObjectRestore",
        "ObjectTagging",
        "ObjectAcl",
        "Replication",
        "LifecycleTransition",
        "IntelligentTiering",
        "ReducedRedundancyLostObject",
    }
)
_DELETE_MARKER = "DeleteMarkerCreated"


def parse_record(record: JsonObject, where: str) -> Change | None:
    """The record's change, or None for an event that changes no object's content."""
    name = req_str(record, "eventName", where)
    family, _, detail = name.partition(":")
    if family in _SKIPPED:
        return None
    if family == _CREATED:
        kind = ChangeKind.CREATED
    elif family in _REMOVED:
        kind = ChangeKind.REMOVED
    else:
        fail(f"unknown S3 event name {describe(name)}", where, "eventName")
    if not detail:
        fail(f"event name {describe(name)} has nothing after the colon", where, "eventName")

    s3 = req_object(record, "s3", where)
    bucket = req_str(req_object(s3, "bucket", where, "s3"), "name", where, "s3.bucket")
    obj = req_object(s3, "object", where, "s3")
    key = _decode_key(req_str(obj, "key", where, "s3.object"), where)

    identity = opt_object(record, "userIdentity", where)
    request = opt_object(record, "requestParameters", where)
    response = opt_object(record, "responseElements", where)
    return Change(
        bucket=bucket,
        key=key,
        kind=kind,
        event_name=name,
        event_time=req_time(record, "eventTime", where),
        sequencer=opt_sequencer(obj, "sequencer", where, "s3.object"),
        version_id=opt_nonempty_str(obj, "versionId", where, "s3.object"),
        size=opt_size(obj, "size", where, "s3.object"),
        etag=opt_etag(obj, "eTag", where, "s3.object"),
        requester=(
            None if identity is None else opt_str(identity, "principalId", where, "userIdentity")
        ),
        source_ip=(
            None
            if request is None
            else opt_str(request, "sourceIPAddress", where, "requestParameters")
        ),
        request_id=(
            None
            if response is None
            else opt_str(response, "x-amz-request-id", where, "responseElements")
        ),
        region=opt_str(record, "awsRegion", where),
        delete_marker=kind is ChangeKind.REMOVED and detail == _DELETE_MARKER,
    )


def _decode_key(raw: str, where: str) -> str:
    """Undo S3's form-encoding of the key, exactly once.

    S3 encodes a space as ``+`` and other bytes as ``%xx`` (``a b+c.txt`` arrives as
    ``a+b%2Bc.txt``); real S3 leaves ``/`` alone, moto sends ``%2F``; both decode the same.
    Invalid UTF-8 after ``%``-decoding is refused rather than replaced with U+FFFD, which would
    silently name a different object.
    """
    if "%" not in raw and "+" not in raw:
        return raw
    try:
        return unquote_plus(raw, errors="strict")
    except UnicodeDecodeError:
        fail("is not a percent-encoded UTF-8 key", where, "key", "s3.object")
