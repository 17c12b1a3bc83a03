"""Which sink handles which object: routing rules on the key, from configuration.

A rule matches keys with a glob (``data/**/*.jsonl``): ``*`` and ``?`` stay within one path
segment, ``**`` spans any number of segments (none included), ``[abc]`` is a character class.
The bucket may be pinned too. Every rule that matches applies, so one file may feed two
tables; the catalog sees every object unless it is turned off.

Rules come as JSON, inline (``BUCKETSYNC_ROUTES``) or in a file (``BUCKETSYNC_ROUTES_FILE``):

    [{"match": "data/**/*.jsonl", "table": "orders", "key": ["id"]},
     {"match": "exports/*.csv.gz", "table": "exports", "csv": {"delimiter": ";"}}]
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from bucketsync.errors import ConfigurationError

ColumnType = Literal["str", "int", "decimal", "bool", "json"]


class CsvOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quotechar: str = Field(default='"', min_length=1, max_length=1)
    column_types: dict[str, ColumnType] = Field(
        default_factory=dict, description="Per column; the others stay strings."
    )


class Route(BaseModel):
    """One rule: objects whose key matches ``match`` load their rows into ``table``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    match: str = Field(min_length=1, description="Glob on the object key.")
    bucket: str | None = Field(default=None, description="Only this bucket; unset: any.")
    table: str = Field(min_length=3, max_length=255, description="DynamoDB table for the rows.")
    format: Literal["auto", "json", "jsonl", "csv"] = "auto"
    csv: CsvOptions = Field(default_factory=CsvOptions)
    key: list[str] = Field(
        default_factory=list,
        max_length=2,
        description=(
            "Row fields that key the item (partition, then optional sort): rows are upserted "
            "into a shared table. Empty: pk=FILE#<bucket>/<key>, sk=ROW#<index>."
        ),
    )
    errors_prefix: str | None = Field(
        default=None, description="Write a report of a file's bad rows under this S3 prefix."
    )

    @field_validator("match")
    @classmethod
    def _compiles(cls, value: str) -> str:
        compile_glob(value)
        return value

    def matches(self, bucket: str, key: str) -> bool:
        if self.bucket is not None and self.bucket != bucket:
            return False
        return compile_glob(self.match).fullmatch(key) is not None


_routes = TypeAdapter(list[Route])


@functools.lru_cache(maxsize=256)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """Translate a key glob to a regular expression (``fnmatch`` lets ``*`` cross ``/``)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")  # zero or more whole segments
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i + 2)  # "[]]" names "]" itself
            if end == -1:
                raise ConfigurationError(f"route {pattern!r}: unclosed '[' at {i}")
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = re.escape(body[1:] if negate else body).replace("\\-", "-")
            out.append(f"[{'^' if negate else ''}{body}]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def parse_routes(text: str, *, source: str = "BUCKETSYNC_ROUTES") -> list[Route]:
    """Rules from JSON text; a bad rule is a ConfigurationError that names it."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{source}: not valid JSON ({exc})") from exc
    try:
        return _routes.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"[{'.'.join(str(p) for p in e['loc'])}] {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(f"{source}: {problems}") from exc


def load_routes(inline: str | None, path: str | None) -> list[Route]:
    """The configured rules: inline JSON, then those of the file, in that order."""
    routes = parse_routes(inline) if inline else []
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"BUCKETSYNC_ROUTES_FILE: cannot read {path}: {exc}") from exc
        routes += parse_routes(text, source=path)
    return routes


def routes_for(routes: Sequence[Route], bucket: str, key: str) -> list[Route]:
    return [route for route in routes if route.matches(bucket, key)]
