"""A saved report checked against the shipped JSON Schema, without the jsonschema package.

``report show`` renders files from anywhere; a field of the wrong shape (``"warnings": 5``,
a cause whose ``fix`` holds numbers) once reached the renderers as "internal error:
TypeError". The schema in ``data/report.schema.json`` already says what every field is,
so a loaded report is checked against it and the first wrong field is named by its JSON
path: ``causes[0].fix[1]: expected a string, not a number``.

jsonschema itself cannot be a runtime dependency (its rpds-py needs a compiler, and the
tool must install on Termux, which has none). So this module knows exactly the keywords
the shipped schema uses (:data:`KEYWORDS`), with jsonschema's meaning for each (draft
2020-12; the tests compare the two on a table of documents). The schema is read at run
time, never copied: a cause id added to its enum is known here at once.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

Schema = Mapping[str, Any]
JsonPath = tuple[str | int, ...]
#: One keyword's check: (value, keyword's argument, schema, root schema, path).
Rule = Callable[[Any, Any, Schema, Schema, JsonPath], "Problem | None"]

#: The validation keywords understood here; the shipped schema must use no others.
KEYWORDS = frozenset(
    {
        "type",
        "const",
        "enum",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "$ref",
        "minimum",
        "minLength",
        "pattern",
    }
)
#: Keywords that only describe or organise the schema and check nothing.
ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description"})

_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "an array",
    "null": "null",
}
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHOWN_CHARS = 40


@dataclass(frozen=True)
class Problem:
    """The first field that does not fit the schema: where it is and what is wrong."""

    path: JsonPath
    message: str

    def __str__(self) -> str:
        return f"{where(self.path)}: {self.message}"


@functools.cache
def report_schema() -> Schema:
    """The schema shipped with the package (read once)."""
    text = resources.files("jmo_doctor.data").joinpath("report.schema.json").read_text("utf-8")
    schema: Schema = json.loads(text)
    return schema


def first_problem(document: Any, schema: Schema | None = None) -> Problem | None:
    """The first place where ``document`` breaks ``schema`` (the report's by default)."""
    root = report_schema() if schema is None else schema
    return _check(document, root, root, ())


def where(path: JsonPath) -> str:
    """``("causes", 0, "fix", 1)`` → ``causes[0].fix[1]``; odd keys are quoted."""
    shown = ""
    for step in path:
        if isinstance(step, int):
            shown += f"[{step}]"
        elif _PLAIN_KEY.fullmatch(step):
            shown += f".{step}" if shown else step
        else:
            shown += f"[{_shown(step)}]"
    return shown or "the report"


def _check(value: Any, schema: Schema, root: Schema, path: JsonPath) -> Problem | None:
    # Order decides which problem of several is named: the value itself, then its
    # fields and items, and missing fields last (a foreign "tool.name" says more).
    for keyword, rule in _RULES:
        if keyword in schema:
            problem = rule(value, schema[keyword], schema, root, path)
            if problem is not None:
                return problem
    return None


def _ref(value: Any, ref: str, _schema: Schema, root: Schema, path: JsonPath) -> Problem | None:
    return _check(value, _resolve(ref, root), root, path)


def _resolve(ref: str, root: Schema) -> Schema:
    """A local reference (``#/$defs/probe``); the shipped schema has no other kind."""
    if not ref.startswith("#"):
        raise ValueError(f"report schema: only local $ref are supported, not {ref!r}")
    target: Any = root
    for part in ref[1:].split("/")[1:]:
        target = target[part.replace("~1", "/").replace("~0", "~")]
    resolved: Schema = target
    return resolved


def _type(
    value: Any, kinds: str | Sequence[str], _schema: Schema, _root: Schema, path: JsonPath
) -> Problem | None:
    names = [kinds] if isinstance(kinds, str) else list(kinds)
    if any(is_type(value, name) for name in names):
        return None
    expected = " or ".join(_TYPE_WORDS[name] for name in names)
    return Problem(path, f"expected {expected}, not {_kind(value)}")


def _const(
    value: Any, const: Any, _schema: Schema, _root: Schema, path: JsonPath
) -> Problem | None:
    if json_equal(value, const):
        return None
    return Problem(path, f"must be {_shown(const)}, not {_shown(value)}")


def _enum(
    value: Any, choices: Sequence[Any], _schema: Schema, _root: Schema, path: JsonPath
) -> Problem | None:
    if any(json_equal(value, choice) for choice in choices):
        return None
    listed = ", ".join(_shown(choice) for choice in choices)
    return Problem(path, f"must be one of {listed}; not {_shown(value)}")


def _minimum(
    value: Any, minimum: float, _schema: Schema, _root: Schema, path: JsonPath
) -> Problem | None:
    if not is_type(value, "number") or not value < minimum:
        return None
    return Problem(path, f"must be at least {_shown(minimum)}, not {_shown(value)}")


def _min_length(
    value: Any, length: int, _schema: Schema, _root: Schema, path: JsonPath
) -> Problem | None:
    if not isinstance(value, str) or len(value) >= length:
        return None
    wanted = "must not be empty" if length == 1 else f"must have at least {length} characters"
    return Problem(path, wanted)


def _pattern(
    value: Any, pattern: str, _schema: Schema, _root: Schema, path: JsonPath
) -> Problem | None:
    # re.search, as jsonschema does: the schema anchors its patterns itself
    if not isinstance(value, str) or _compiled(pattern).search(value):
        return None
    return Problem(path, f"{_shown(value)} does not have the expected form {pattern}")


def _properties(
    value: Any, properties: Schema, _schema: Schema, root: Schema, path: JsonPath
) -> Problem | None:
    if not isinstance(value, dict):
        return None
    for name, subschema in properties.items():
        if name in value:
            problem = _check(value[name], subschema, root, (*path, name))
            if problem is not None:
                return problem
    return None


def _additional(
    value: Any, extra: Schema | bool, schema: Schema, root: Schema, path: JsonPath
) -> Problem | None:
    if not isinstance(value, dict):
        return None
    known = schema.get("properties", {})
    for name, item in value.items():
        if name in known:
            continue
        if extra is False:
            return Problem((*path, name), "unexpected field")
        if isinstance(extra, Mapping):
            problem = _check(item, extra, root, (*path, name))
            if problem is not None:
                return problem
    return None


def _items(
    value: Any, items: Schema, _schema: Schema, root: Schema, path: JsonPath
) -> Problem | None:
    if not isinstance(value, list):
        return None
    for index, item in enumerate(value):
        problem = _check(item, items, root, (*path, index))
        if problem is not None:
            return problem
    return None


def _required(
    value: Any, names: Sequence[str], _schema: Schema, _root: Schema, path: JsonPath
) -> Problem | None:
    if not isinstance(value, dict):
        return None
    missing = next((name for name in names if name not in value), None)
    return None if missing is None else Problem((*path, missing), "missing")


_RULES: tuple[tuple[str, Rule], ...] = (
    ("$ref", _ref),
    ("type", _type),
    ("const", _const),
    ("enum", _enum),
    ("minimum", _minimum),
    ("minLength", _min_length),
    ("pattern", _pattern),
    ("properties", _properties),
    ("additionalProperties", _additional),
    ("items", _items),
    ("required", _required),
)


def is_type(value: Any, name: str) -> bool:
    """JSON Schema's types over what ``json.loads`` returns (a bool is not a number)."""
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "string":
        return isinstance(value, str)
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if isinstance(value, bool):
        return False
    if name == "number":
        return isinstance(value, int | float)
    if name == "integer":  # 1.0 is an integer in JSON Schema
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    raise ValueError(f"report schema: unknown type {name!r}")


def json_equal(one: Any, two: Any) -> bool:
    """Equality as JSON means it: ``true`` is not ``1``, ``1.0`` is ``1``."""
    if isinstance(one, bool) or isinstance(two, bool):
        return type(one) is type(two) and one == two
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(map(json_equal, one, two))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(json_equal(one[k], two[k]) for k in one)
    if isinstance(one, list | dict) or isinstance(two, list | dict):
        return False
    return bool(one == two)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"a number ({_shown(value)})"
    if isinstance(value, str):
        return f"a string ({_shown(value)})"
    return "an object" if isinstance(value, dict) else "an array"


def _shown(value: Any) -> str:
    """A value as JSON, cut short: a hostile report may hold megabytes in one field."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str) and len(value) > _SHOWN_CHARS:
        return json.dumps(value[:_SHOWN_CHARS], ensure_ascii=False)[:-1] + '…"'
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**_SHOWN_CHARS:
        return "a very large number"
    return json.dumps(value, ensure_ascii=False)


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
