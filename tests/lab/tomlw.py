"""A minimal TOML writer for lab configs (no TOML writer ships with Python 3.11)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic strings
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML: {value!r}")


def dumps(doc: Mapping[str, Any]) -> str:
    """Top-level scalars, then ``[table]``s, then ``[[array of tables]]``s; one level deep."""
    top, tables, arrays = [], [], []
    for key, value in doc.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            body = "".join(f"{k} = {_value(v)}\n" for k, v in value.items() if v is not None)
            tables.append(f"\n[{key}]\n{body}")
        elif isinstance(value, Sequence) and value and all(isinstance(v, Mapping) for v in value):
            for item in value:
                body = "".join(f"{k} = {_value(v)}\n" for k, v in item.items() if v is not None)
                arrays.append(f"\n[[{key}]]\n{body}")
        else:
            top.append(f"{key} = {_value(value)}\n")
    return "".join(top) + "".join(arrays) + "".join(tables)
