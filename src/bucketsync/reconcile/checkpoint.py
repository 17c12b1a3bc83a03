"""Where a reconcile keeps each shard's position, so an interrupted run can continue.

A position only ever advances over keys that were compared and whose repairs all settled
(``repairs.Watermark``), so a resumed run skips nothing. ``FileCheckpoints`` is the CLI's (one
JSON file, replaced atomically); ``aws.runs.TableCheckpoints`` keeps them in DynamoDB, one
item per shard, for runs spread over many Lambda invocations.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bucketsync.errors import ConfigurationError

Positions = dict[str, tuple[str, bool]]  # shard id → (position, done)


def run_signature(bucket: str, prefix: str, sinks: Sequence[str], source: str) -> str:
    """What a checkpoint belongs to: the same bucket, prefix, sinks and source."""
    text = json.dumps([bucket, prefix, sorted(sinks), source], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_path(signature: str) -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "bucketsync" / "reconcile" / f"{signature}.json"


class FileCheckpoints:
    """One JSON file: ``{"signature": ..., "shards": {id: [position, done]}, "listed": n}``."""

    def __init__(self, path: Path, signature: str) -> None:
        self.path = path
        self.signature = signature
        self.listed: int | None = None  # how many objects the last run listed (an estimate)

    def load(self) -> Positions:
        data = self._read()
        if data is None:
            return {}
        if data.get("signature") != self.signature:
            raise ConfigurationError(
                f"{self.path} is the checkpoint of another run (bucket, prefix, sinks or "
                "source differ): remove it, or name another with --checkpoint"
            )
        return {k: (str(v[0]), bool(v[1])) for k, v in data.get("shards", {}).items()}

    def estimate(self) -> int | None:
        data = self._read()
        if data is None or data.get("signature") != self.signature:
            return None
        listed = data.get("listed")
        return int(listed) if isinstance(listed, int) else None

    def save(self, positions: Positions) -> None:
        document = {
            "signature": self.signature,
            "shards": {k: [position, done] for k, (position, done) in positions.items()},
            "listed": self.listed,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".checkpoint-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(document, out, ensure_ascii=False)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _read(self) -> dict[str, Any] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigurationError(f"cannot read the checkpoint {self.path}: {exc}") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{self.path} is not a checkpoint: {exc}") from exc
        return data if isinstance(data, dict) else None
