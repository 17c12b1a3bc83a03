"""S3 events delivered by Amazon EventBridge (``"source": "aws.s3"``), to Lambda or to SQS.

Shape: https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html

The key is used as sent, NOT URL-decoded. The S3 guide documents URL encoding only for the
notification format ("The object key name value is URL encoded", notification-content-
structure.html); its EventBridge page says nothing of it, and what evidence there is says the
key is raw: a real captured event (gist.github.com/vincentclaes/7a5eb53acc05b316c86769fed25d4e1a)
carries ``raw/health-check/2023-08-08T14:03:40.532432.zip`` with its ``:`` unescaped, where a
notification sends ``%3A`` (aws/aws-sdk-js#837); aws-solutions-library-samples/
guidance-for-medialake-on-aws PR #21 dropped its EventBridge key decoding because keys with a
literal ``+`` were mis-decoded, then tested ``test+b.png`` and ``%2B%20%%%.png`` through
EventBridge; and moto sends the raw key. (Powertools' ``S3EventBridgeNotificationObject.key``
does apply ``unquote_plus``, which would turn such a ``+`` into a space.)

There is no event name in an EventBridge event, so one is built in the notification style:

    Object Created, reason PutObject                  ObjectCreated:PutObject
    Object Created, reason POST Object                ObjectCreated:POSTObject
    Object Created, reason CopyObject                 ObjectCreated:CopyObject
    Object Created, reason CompleteMultipartUpload    ObjectCreated:CompleteMultipartUpload
    Object Deleted, reason DeleteObject               ObjectRemoved:<deletion-type>
    Object Deleted, reason Lifecycle Expiration       LifecycleExpiration:<deletion-type>

with spaces dropped (``PermanentlyDeleted``, ``DeleteMarkerCreated``: the latter matches the
notification's own name), and just the family when reason or deletion-type is absent.
Other detail-types (restores, tags, ACLs, storage class changes, CloudTrail's
``AWS API Call via CloudTrail``) are recognised and skipped.

moto 5.2.5 differs: ``eTag`` instead of ``etag``, ``reason`` is ``ObjectCreated`` /
``ObjectRemoved``, no ``deletion-type``, ``version-id`` is ``"null"``, the sequencer is the
constant from AWS's example, and ``time`` is epoch seconds until an SQS target formats it.
"""

from __future__ import annotations

from bucketsync.events.fields import (
    JsonObject,
    opt_etag,
    opt_nonempty_str,
    opt_sequencer,
    opt_size,
    opt_str,
    req_object,
    req_str,
    req_time,
)
from bucketsync.events.model import Change, ChangeKind

SOURCE = "aws.s3"

_KINDS = {"Object Created": ChangeKind.CREATED, "Object Deleted": ChangeKind.REMOVED}
_LIFECYCLE = "Lifecycle Expiration"
_DELETE_MARKER = "Delete Marker Created"


def parse_event(event: JsonObject, where: str) -> Change | None:
    """The event's change, or None for a detail-type that changes no object's content."""
    kind = _KINDS.get(req_str(event, "detail-type", where))
    if kind is None:
        return None
    detail = req_object(event, "detail", where)
    bucket = req_str(req_object(detail, "bucket", where, "detail"), "name", where, "detail.bucket")
    obj = req_object(detail, "object", where, "detail")
    key = req_str(obj, "key", where, "detail.object")

    reason = opt_str(detail, "reason", where, "detail")
    deletion_type = opt_str(detail, "deletion-type", where, "detail")
    etag = opt_etag(obj, "etag", where, "detail.object")
    if etag is None:
        etag = opt_etag(obj, "eTag", where, "detail.object")
    return Change(
        bucket=bucket,
        key=key,
        kind=kind,
        event_name=_event_name(kind, reason, deletion_type),
        event_time=req_time(event, "time", where),
        sequencer=opt_sequencer(obj, "sequencer", where, "detail.object"),
        version_id=opt_nonempty_str(obj, "version-id", where, "detail.object"),
        size=opt_size(obj, "size", where, "detail.object"),
        etag=etag,
        requester=opt_str(detail, "requester", where, "detail"),
        source_ip=opt_str(detail, "source-ip-address", where, "detail"),
        request_id=opt_str(detail, "request-id", where, "detail"),
        region=opt_str(event, "region", where),
        delete_marker=kind is ChangeKind.REMOVED and deletion_type == _DELETE_MARKER,
    )


def _event_name(kind: ChangeKind, reason: str | None, deletion_type: str | None) -> str:
    if kind is ChangeKind.CREATED:
        family, detail = "ObjectCreated", reason
    else:
        family = "LifecycleExpiration" if reason == _LIFECYCLE else "ObjectRemoved"
        detail = deletion_type
    detail = detail.replace(" ", "") if detail else ""
    return f"{family}:{detail}" if detail else family
