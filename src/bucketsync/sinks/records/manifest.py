"""The per-file manifest: who may load a file, how far a load got, which generation is current.

One item per file (``pk = FILE#<bucket>/<key>``, ``sk = MANIFEST``), changed only by
conditional UpdateItems, so it is the lock that BatchWriteItem's unconditional row writes
need (see docs/records.md):

* ``rev``: the newest version stamp seen, and ``wrote``, when it was set. Whether a version
  may replace it is ``engine.ordering``'s rule: an older one is stale, a sequencer without an
  observation over an observed ``rev`` is confirmed first (``ClaimKind.CONFIRM``).
* a lease (``load_stamp``, ``lease_until``): the one load allowed to write rows now. A newer
  version that finds an older load holding it raises ``rev`` and waits; the older load sees
  that at its next checkpoint and stops.
* ``gen``: the generation readers take as current; rows carry the ``_gen`` that wrote them.
  ``gen_counter`` hands out a new generation to each load.
* the checkpoint of the load in progress: ``next_index``, and where that row's read starts
  (``next_offset``, ``next_line``; 0 where the format has no exact offsets), counts.
* ``_mb`` and ``_mk``, the keys of the ``bucketsync-manifests`` index (``records.index``),
  which lists a bucket's manifests in key order for reconcile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from bucketsync.aws.dynamo import conditional_update, get_item
from bucketsync.engine.ordering import Verdict, condition, decide, observed_at
from bucketsync.engine.stamp import OBSERVED_FAMILY
from bucketsync.engine.state import ABSENT, Held
from bucketsync.engine.update import EVENT, Update
from bucketsync.errors import LostLeaseError
from bucketsync.sinks.records.claims import Claim, ClaimKind, Manifest
from bucketsync.sinks.records.layout import (
    MANIFEST_SK,
    file_partition,
    index_partition,
    index_sort_key,
)
from bucketsync.sinks.tables import INDEX_PARTITION, INDEX_SORT

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_REPORTED_ERRORS = 100  # the manifest keeps the first ones; the count is exact
_ser, _de = TypeSerializer(), TypeDeserializer()


_INDEX_NAMES = {"#mb": INDEX_PARTITION, "#mk": INDEX_SORT}


class ManifestStore:
    """Manifests in ``table`` under ``sk``: the rows' own table by default; for rows keyed by
    their own fields (a table whose key schema is the user's), the catalog table, with the
    rows' table in the sort key (``MANIFEST#<table>``)."""

    def __init__(self, client: DynamoDBClient, table: str, sk: str = MANIFEST_SK) -> None:
        self._client = client
        self.table = table
        self.sk = sk

    # -- reading ------------------------------------------------------------------------------

    def read(self, bucket: str, key: str) -> Manifest | None:
        request = {"TableName": self.table, "Key": self._key(bucket, key), "ConsistentRead": True}
        found = get_item(self._client, "GetItem", request)
        if found is None:
            return None
        item = {k: _de.deserialize(v) for k, v in found.items()}
        return Manifest(
            rev=item.get("rev"),
            status=item.get("status"),
            gen=_int(item.get("gen")),
            rows=_int(item.get("rows")) or 0,
            bad=_int(item.get("bad")) or 0,
            errors=list(item.get("errors", [])),
            raw=item,
        )

    # -- the lease ----------------------------------------------------------------------------

    def claim(
        self,
        bucket: str,
        key: str,
        stamp: str,
        *,
        now: float,
        lease: float,
        identity: str | None = None,
        seen: str | None = None,
        origin: str = EVENT,
    ) -> Claim:
        """Start or resume loading version ``stamp``, or say why not.

        ``identity`` (the version id, else the etag) lets a retry resume under a new stamp:
        without sequencers every attempt is stamped anew by observation, but the same content
        makes the same rows, so the load in progress continues and takes the newer stamp.
        ``seen`` and ``origin`` are the update's (``engine.ordering``): a repair whose version
        is the one already loaded is ``STALE``, with nothing read again.
        """
        update = Update(
            bucket,
            key,
            ABSENT,
            stamp,
            seen=stamp if seen is None and stamp.startswith(OBSERVED_FAMILY) else seen,
            origin=origin,
        )
        index = {":mb": index_partition(self.sk, bucket), ":mk": index_sort_key(key)}
        wrote = observed_at(now)
        values = {":s": stamp, ":now": _num(now), ":until": _num(now + lease), ":l": "loading"}
        same_version = "(load_stamp = :s AND rev = :s)"
        resume_values: dict[str, Any] = {
            ":s": stamp,
            ":until": _num(now + lease),
            ":l": "loading",
            ":w": wrote,
            **index,
        }
        if identity:
            same_version = f"({same_version} OR (load_identity = :id AND rev <= :s))"
            resume_values[":id"] = identity

        def resume() -> Claim | None:
            resumed = self._update(
                bucket,
                key,
                "SET lease_until = :until, load_stamp = :s, rev = :s, wrote = :w, "
                "#mb = :mb, #mk = :mk",
                f"#st = :l AND {same_version}",
                values=resume_values,
                names=_INDEX_NAMES,
            )
            if resumed is None:
                return None
            return Claim(
                ClaimKind.RESUME,
                gen=_int(resumed.get("load_gen")) or 0,
                next_index=_int(resumed.get("next_index")) or 0,
                next_offset=_int(resumed.get("next_offset")) or 0,
                next_line=_int(resumed.get("next_line")) or 0,
                written=_int(resumed.get("written")) or 0,
                bad=_int(resumed.get("bad")) or 0,
                previous_gen=_int(resumed.get("gen")),
            )

        if (resumed := resume()) is not None:
            return resumed
        rule = condition(update)
        start_condition = (
            f"(({rule.expression}) OR (rev = :s AND load_stamp <> :s)) "
            "AND (attribute_not_exists(lease_until) OR lease_until < :now)"
        )
        start_values = {
            **values,
            **rule.values,
            **index,
            ":w": wrote,
            ":z": 0,
            ":one": 1,
            ":none": [],
            ":id": identity or "",
        }
        if identity:
            # The version loaded already (a duplicate, stamped anew by observation, or content
            # put again): nothing to read or write. Reconcile lists etags, events carry ids.
            start_condition += " AND NOT (#st = :c AND (load_identity = :id OR etag = :id))"
            start_values[":c"] = "complete"
        started = self._update(
            bucket,
            key,
            "SET rev = :s, wrote = :w, load_stamp = :s, lease_until = :until, #st = :l, "
            "next_index = :z, next_offset = :z, next_line = :z, written = :z, bad = :z, "
            "errors = :none, load_identity = :id, #mb = :mb, #mk = :mk, "
            "load_gen = if_not_exists(gen_counter, :z) + :one ADD gen_counter :one",
            start_condition,
            values=start_values,
            names={**rule.names, **_INDEX_NAMES},
        )
        if started is not None:
            return Claim(
                ClaimKind.START,
                gen=_int(started["load_gen"]) or 0,
                previous_gen=_int(started.get("gen")),
            )
        refused = self._refused(update, identity, wrote)
        if refused is None:
            # Our own start, applied but answered with an error and sent again by botocore
            # (whose copy the condition refused): the version is ours to load, from row 0.
            return resume() or Claim(ClaimKind.BUSY)
        return refused

    def _refused(self, update: Update, identity: str | None, wrote: str) -> Claim | None:
        """Why a claim failed: this version was handled, must be confirmed, or must wait.
        None: the manifest shows this very version loading, started by this claim."""
        bucket, key, stamp = update.bucket, update.key, update.stamp
        current = self.read(bucket, key)
        raw = current.raw if current else {}
        rev = raw.get("rev")
        if raw.get("load_stamp") == stamp:
            if raw.get("status") == "loading" and rev == stamp:
                return None
            return Claim(ClaimKind.STALE)
        if rev is not None and rev != stamp:
            held = Held(key, str(rev), True, wrote=str(raw.get("wrote", "")))
            verdict = decide(held, update)
            if verdict is Verdict.STALE:
                return Claim(ClaimKind.STALE)
            if verdict is Verdict.CONFIRM:
                return Claim(ClaimKind.CONFIRM)
        rule = condition(update)
        loaded = raw.get("status") == "complete" and identity in (
            raw.get("load_identity"),
            raw.get("etag"),
        )
        if identity and loaded:
            # Already loaded (the claim's NOT clause held). The newer stamp is still kept, so
            # that an older version arriving after it stays stale (A, B, A again: a late B).
            if not update.repair:
                self._update(
                    bucket,
                    key,
                    "SET rev = :s, wrote = :w",
                    f"({rule.expression}) AND #st = :c",
                    values={":s": stamp, ":w": wrote, ":c": "complete", **rule.values},
                    names=rule.names,
                )
            return Claim(ClaimKind.STALE)
        # An older load (or one of our own version that lost its lease) holds the file: tell it
        # a newer version waits, so it stops at its next checkpoint, and come back later.
        self._update(
            bucket,
            key,
            "SET rev = :s, wrote = :w",
            rule.expression,
            values={":s": stamp, ":w": wrote, **rule.values},
            names=rule.names,
        )
        return Claim(ClaimKind.BUSY)

    def checkpoint(
        self,
        bucket: str,
        key: str,
        stamp: str,
        *,
        next_index: int,
        next_offset: int,
        next_line: int,
        written: int,
        bad: int,
        new_errors: Sequence[Mapping[str, Any]] = (),
        now: float,
        lease: float,
    ) -> None:
        """Record progress and renew the lease; LostLeaseError if a newer version waits.

        ``next_offset`` and ``next_line`` are where row ``next_index`` starts (a row's
        ``after``), or 0 where the format has no exact byte offsets.
        """
        expression = (
            "SET next_index = :i, next_offset = :o, next_line = :n, written = :w, bad = :b, "
            "lease_until = :until"
        )
        values: dict[str, Any] = {
            ":s": stamp,
            ":i": next_index,
            ":o": next_offset,
            ":n": next_line,
            ":w": written,
            ":b": bad,
            ":until": _num(now + lease),
        }
        if new_errors:
            expression += ", errors = list_append(errors, :e)"
            values[":e"] = [dict(e) for e in new_errors][:MAX_REPORTED_ERRORS]
        if self._update(bucket, key, expression, "load_stamp = :s AND rev = :s", values) is None:
            raise LostLeaseError(f"s3://{bucket}/{key}: a newer version claimed the file")

    def complete(
        self,
        bucket: str,
        key: str,
        stamp: str,
        *,
        gen: int,
        rows: int,
        bad: int,
        details: Mapping[str, Any],
        new_errors: Sequence[Mapping[str, Any]] = (),
    ) -> int | None:
        """Make ``gen`` current (the flip); returns the generation it replaced."""
        values: dict[str, Any] = {
            ":s": stamp,
            ":g": gen,
            ":r": rows,
            ":b": bad,
            ":c": "complete",
            ":z": 0,
        }
        expression = "SET gen = :g, #rows = :r, bad = :b, #st = :c, lease_until = :z"
        if new_errors:
            expression += ", errors = list_append(errors, :e)"
            values[":e"] = [dict(e) for e in new_errors][:MAX_REPORTED_ERRORS]
        for n, value in enumerate(details.values()):
            expression += f", #d{n} = :d{n}"
            values[f":d{n}"] = value
        names = {f"#d{n}": name for n, name in enumerate(details)}
        old = self._update(
            bucket,
            key,
            expression,
            "load_stamp = :s AND rev = :s",
            values,
            names={"#rows": "rows", **names},
            return_values="UPDATED_OLD",
        )
        if old is None:
            raise LostLeaseError(f"s3://{bucket}/{key}: a newer version claimed the file")
        return _int(old.get("gen"))

    def tombstone(self, bucket: str, key: str, stamp: str, *, expires_at: float) -> None:
        """The file is deleted and its rows are gone; a late older version stays stale."""
        done = self._update(
            bucket,
            key,
            "SET #st = :d, #rows = :z, bad = :z, lease_until = :z, expires_at = :x REMOVE gen",
            "load_stamp = :s AND rev = :s",
            values={":s": stamp, ":d": "deleted", ":z": 0, ":x": int(expires_at)},
            names={"#rows": "rows"},
        )
        if done is None:
            raise LostLeaseError(f"s3://{bucket}/{key}: a newer version claimed the file")

    def release(self, bucket: str, key: str, stamp: str) -> None:
        """Give the lease up at once: a newer version waits for it (``LostLeaseError``), and
        would otherwise be refused until the lease ran out."""
        self._update(
            bucket,
            key,
            "SET lease_until = :z",
            "load_stamp = :s",
            values={":s": stamp, ":z": 0},
        )

    def fail(self, bucket: str, key: str, stamp: str, *, reason: str) -> None:
        """This version cannot be loaded: the current generation stays current."""
        self._update(
            bucket,
            key,
            "SET #st = :f, failure = :why, lease_until = :z",
            "load_stamp = :s",
            values={":s": stamp, ":f": "failed", ":why": reason, ":z": 0},
        )

    # -- plumbing -----------------------------------------------------------------------------

    def _key(self, bucket: str, key: str) -> dict[str, Any]:
        return {"pk": {"S": file_partition(bucket, key)}, "sk": {"S": self.sk}}

    def _update(
        self,
        bucket: str,
        key: str,
        expression: str,
        condition: str,
        values: Mapping[str, Any],
        *,
        names: Mapping[str, str] | None = None,
        return_values: str = "ALL_NEW",
    ) -> dict[str, Any] | None:
        """One conditional UpdateItem; None when the condition failed."""
        all_names = {"#st": "status", **(names or {})}
        used = {n: v for n, v in all_names.items() if n in expression or n in condition}
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": self._key(bucket, key),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": {n: _ser.serialize(v) for n, v in values.items()},
            "ReturnValues": return_values,
        }
        if used:
            request["ExpressionAttributeNames"] = used
        answer = conditional_update(self._client, "UpdateItem", request)
        if answer is None:
            return None
        return {k: _de.deserialize(v) for k, v in answer.items()}


def _num(value: float) -> Decimal:
    return Decimal(str(round(value, 3)))


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
