"""The Terraform module in ``deploy/terraform``, read as data for ``test_deploy_terraform.py``.

python-hcl2 has written its dicts in more than one way (attributes wrapped in one-element lists
or not, string literals and block labels kept in quotes or not): ``_clean`` reduces each to one
form, told apart by parsing a probe. Conditions are evaluated by a small interpreter of the part
of HCL they use (``evaluate``): comparisons, arithmetic, ``&&``, ``||``, ``!`` on ``var.*`` and
``local.*``; anything else it declines, and the caller says what a declined condition means.
"""

from __future__ import annotations

import ast
import functools
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hcl2.api import loads as parse_hcl

MODULE = Path(__file__).parents[2] / "deploy" / "terraform"


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# --- Reading the module ---------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """How the installed python-hcl2 writes its dicts."""

    wrapped: bool  # every attribute value in a one-element list
    quoted: bool  # string literals and block labels keep their quotes


@functools.cache
def dialect() -> Dialect:
    probe: Any = parse_hcl('a = "x"\nb "l" {\n  c = 1\n}\n')
    value = probe["a"]
    wrapped = isinstance(value, list)
    return Dialect(wrapped, (value[0] if wrapped else value) == '"x"')


def _unquote(text: str) -> str:
    if dialect().quoted and len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def _clean(node: Any) -> Any:
    """One form for every python-hcl2: no metadata, no quotes, attributes unwrapped.

    Where attributes come wrapped, a one-element list attribute comes back as its element:
    read list attributes with ``listed``, object attributes and single blocks with ``obj``.
    """
    if isinstance(node, dict):
        return {
            _unquote(key): _clean(value)
            for key, value in node.items()
            if not (key.startswith("__") and key.endswith("__"))
        }
    if isinstance(node, list):
        if dialect().wrapped and len(node) == 1 and not isinstance(node[0], dict):
            return _clean(node[0])
        return [_clean(item) for item in node]
    if isinstance(node, str):
        return _unquote(node)
    return node


def unwrap(value: Any) -> str:
    """The expression inside ``${...}``, or the literal as text."""
    text = str(value).strip()
    if text.startswith("${") and text.endswith("}") and text.count("${") == 1:
        return text[2:-1].strip()
    return text


def compact(value: Any) -> str:
    """The expression without blanks, its string quotes all double (dialects differ in both)."""
    return re.sub(r"\s+", "", unwrap(value)).replace("'", '"')


def obj(value: Any) -> dict[str, Any]:
    """An object attribute (or a single block): some dialects wrap it in a list."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    assert isinstance(value, dict), value
    return value


def blocks(body: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    found = body.get(key, [])
    return [found] if isinstance(found, dict) else list(found)


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Block:
    kind: str
    name: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Module:
    variables: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    resources: list[Block]
    data: list[Block]
    terraform: list[dict[str, Any]]
    locals: dict[str, Any]
    text: str  # every file, for what hcl2 drops (comments)

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        return next(b.body for b in self.resources if (b.kind, b.name) == (kind, name))

    def datum(self, kind: str, name: str) -> dict[str, Any]:
        return next(b.body for b in self.data if (b.kind, b.name) == (kind, name))


def parse(path: Path) -> dict[str, Any]:
    parsed: Any = parse_hcl(path.read_text(encoding="utf-8"))
    cleaned = _clean(parsed)
    assert isinstance(cleaned, dict)
    return cleaned


@functools.cache
def module() -> Module:
    variables: dict[str, dict[str, Any]] = {}
    outputs: dict[str, dict[str, Any]] = {}
    resources: list[Block] = []
    data: list[Block] = []
    terraform: list[dict[str, Any]] = []
    local_values: dict[str, Any] = {}
    for path in sorted(MODULE.glob("*.tf")):
        content = parse(path)
        for entry in content.get("variable", []):
            variables.update(entry)
        for entry in content.get("output", []):
            outputs.update(entry)
        for entry in content.get("locals", []):
            local_values.update(entry)
        terraform += content.get("terraform", [])
        for key, into in (("resource", resources), ("data", data)):
            for entry in content.get(key, []):
                for kind, named in entry.items():
                    into += [Block(kind, name, body) for name, body in named.items()]
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(MODULE.glob("*.tf")))
    return Module(variables, outputs, resources, data, terraform, local_values, text)


# --- Evaluating conditions ------------------------------------------------------------------


class Unsupported(Exception):
    """The expression uses more of HCL than ``evaluate`` knows."""


def evaluate(expression: Any, names: Mapping[str, Any]) -> Any:
    """An HCL condition of comparisons, arithmetic, ``&&``, ``||``, ``!`` on var.* / local.*."""
    text = unwrap(expression).replace("&&", " and ").replace("||", " or ")
    text = re.sub(r"!(?!=)", " not ", text)
    text = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", text))
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise Unsupported(text) from exc
    return _value(tree.body, names)


_OPERATORS: dict[type[ast.AST], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


def _value(node: ast.expr, names: Mapping[str, Any]) -> Any:
    match node:
        case ast.Constant(value=value) if isinstance(value, int | str):
            return value
        case ast.Attribute(value=ast.Name(id=scope), attr=attr) if scope in ("var", "local"):
            if f"{scope}.{attr}" not in names:
                raise Unsupported(f"{scope}.{attr}")
            return names[f"{scope}.{attr}"]
        case ast.BoolOp(op=ast.And(), values=values):
            return all([_value(v, names) for v in values])  # HCL does not short-circuit
        case ast.BoolOp(op=ast.Or(), values=values):
            return any([_value(v, names) for v in values])
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            return not _value(operand, names)
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return -_value(operand, names)
        case ast.BinOp(left=left, op=op, right=right) if type(op) in _OPERATORS:
            return _OPERATORS[type(op)](_value(left, names), _value(right, names))
        case ast.Compare(left=left, ops=[op], comparators=[right]) if type(op) in _OPERATORS:
            return _OPERATORS[type(op)](_value(left, names), _value(right, names))
    raise Unsupported(ast.dump(node))


def condition_holds(condition: Any, names: Mapping[str, Any]) -> bool | None:
    """True or False, or None when the condition is beyond ``evaluate``."""
    try:
        return bool(evaluate(condition, names))
    except Unsupported:
        return None
