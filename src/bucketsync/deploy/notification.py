"""bucketsync's entry in a bucket's notification configuration, merged with what is there.

``PutBucketNotificationConfiguration`` replaces a bucket's whole configuration, so an existing
bucket's other notifications (a team's Lambda, an SNS topic) would be wiped by a naive put.
``merged`` keeps every other entry, replaces only bucketsync's own (by its ``Id``), and refuses,
as S3 itself would, an entry whose events and key filters overlap another's: S3 cannot send one
event to two destinations that way. ``without`` takes bucketsync's entry out again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bucketsync.errors import ConfigurationError

EVENTS = ("s3:ObjectCreated:*", "s3:ObjectRemoved:*")
KINDS = (
    "QueueConfigurations",
    "TopicConfigurations",
    "LambdaFunctionConfigurations",
)
_TARGET = {
    "QueueConfigurations": "QueueArn",
    "TopicConfigurations": "TopicArn",
    "LambdaFunctionConfigurations": "LambdaFunctionArn",
}


@dataclass(frozen=True)
class Entry:
    """bucketsync's queue configuration: its Id, the queue, and the key filters."""

    id: str
    queue_arn: str
    prefix: str = ""
    suffix: str = ""
    events: Sequence[str] = EVENTS

    def configuration(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Id": self.id,
            "QueueArn": self.queue_arn,
            "Events": list(self.events),
        }
        rules = [
            {"Name": name, "Value": value}
            for name, value in (("prefix", self.prefix), ("suffix", self.suffix))
            if value
        ]
        if rules:
            out["Filter"] = {"Key": {"FilterRules": rules}}
        return out


def merged(current: Mapping[str, Any], entry: Entry) -> dict[str, Any]:
    """``current`` with ``entry`` in place of any earlier bucketsync entry of that Id."""
    config = _plain(without(current, entry.id))
    for kind in KINDS:
        for other in config.get(kind, []):
            if _overlap(other, entry):
                raise ConfigurationError(
                    f"the bucket's notification {other.get('Id') or '(no Id)'} "
                    f"({kind[:-14].lower()} {other.get(_TARGET[kind], '')}) already receives "
                    f"{', '.join(sorted(_events(other) & _expand(entry.events)))} for keys "
                    f"that bucketsync's filter (prefix {entry.prefix!r}, suffix "
                    f"{entry.suffix!r}) also covers; S3 allows one destination per event: "
                    "narrow one of the filters (--prefix, --suffix)"
                )
    config.setdefault("QueueConfigurations", []).append(entry.configuration())
    return config


def without(current: Mapping[str, Any], entry_id: str) -> dict[str, Any]:
    """``current`` without the entry ``entry_id``; everything else as it was."""
    config = _plain(current)
    queues = [q for q in config.get("QueueConfigurations", []) if q.get("Id") != entry_id]
    if queues:
        config["QueueConfigurations"] = queues
    else:
        config.pop("QueueConfigurations", None)
    return config


def has(current: Mapping[str, Any], entry_id: str) -> bool:
    return any(q.get("Id") == entry_id for q in current.get("QueueConfigurations", []))


def _plain(config: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration as PutBucketNotificationConfiguration takes it (no response fields)."""
    return {
        k: list(v) if isinstance(v, list) else v
        for k, v in config.items()
        if k != "ResponseMetadata"
    }


def _rules(configuration: Mapping[str, Any]) -> dict[str, str]:
    rules = configuration.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    return {str(r.get("Name", "")).lower(): str(r.get("Value", "")) for r in rules}


def _overlap(other: Mapping[str, Any], entry: Entry) -> bool:
    if not _events(other) & _expand(entry.events):
        return False
    rules = _rules(other)
    prefix, suffix = rules.get("prefix", ""), rules.get("suffix", "")
    prefixes = prefix.startswith(entry.prefix) or entry.prefix.startswith(prefix)
    suffixes = suffix.endswith(entry.suffix) or entry.suffix.endswith(suffix)
    return prefixes and suffixes


# The event types S3 names (what a wildcard covers), for telling whether two entries share any.
_FAMILIES = {
    "s3:ObjectCreated": ("Put", "Post", "Copy", "CompleteMultipartUpload"),
    "s3:ObjectRemoved": ("Delete", "DeleteMarkerCreated"),
}


def _expand(events: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for event in events:
        family, _, kind = event.rpartition(":")
        if kind == "*" and family in _FAMILIES:
            out |= {f"{family}:{name}" for name in _FAMILIES[family]}
        else:
            out.add(event)
    return out


def _events(configuration: Mapping[str, Any]) -> set[str]:
    return _expand(configuration.get("Events", []))
