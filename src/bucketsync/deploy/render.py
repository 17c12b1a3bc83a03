"""``python -m bucketsync.deploy.render``: write the templates kept in ``deploy/cloudformation``.

Those files are renderings of ``deploy.template`` (a test holds them equal to it): what
cfn-lint, checkov and a reader see. ``bucketsync deploy`` renders its own, for its routes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bucketsync.deploy.template import render
from bucketsync.record_routes import parse_routes

# Rules of both kinds (rows under their file, rows under their own key, an error-report
# prefix), so the example shows every statement the role can hold.
EXAMPLE_ROUTES = (
    '[{"match": "data/**/*.jsonl", "table": "orders", "errors_prefix": "errors/"},'
    ' {"match": "shared/*.csv", "table": "shared", "key": ["id"]}]'
)


def renderings() -> dict[str, dict[str, Any]]:
    return {
        "bucketsync.json": render("catalog"),
        "bucketsync-mirror.json": render("mirror"),
        "example-records.json": render("catalog", parse_routes(EXAMPLE_ROUTES)),
    }


def text(template: dict[str, Any]) -> str:
    return json.dumps(template, indent=2, ensure_ascii=False) + "\n"


def main(directory: str = "deploy/cloudformation") -> None:
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    for name, template in renderings().items():
        (root / name).write_text(text(template), encoding="utf-8")
        print(root / name)


if __name__ == "__main__":
    main(*sys.argv[1:])
