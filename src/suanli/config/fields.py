"""Small typed readers for mappings parsed from YAML or JSON.

Each reader takes the mapping, a key and the dotted path of the mapping, and raises
``InvalidInput`` with the full field path, the value and a fix when the value is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from enum import Enum
from typing import Any, TypeVar

import yaml

from suanli.domain.errors import ConfigError, InvalidInput

E = TypeVar("E", bound=Enum)
_MISSING = object()


def load_yaml(text: str, where: str) -> Any:
    """Parse YAML text; a syntax error becomes a ``ConfigError`` naming ``where``."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"is not valid YAML ({exc})", where=where, fix="check indentation and quoting") from None


@contextmanager
def located(where: str) -> Iterator[None]:
    """Turn any ``InvalidInput`` raised inside into a ``ConfigError`` that names the file."""
    try:
        yield
    except ConfigError:
        raise
    except InvalidInput as exc:
        raise ConfigError(exc.problem, field=exc.field, value=exc.value, fix=exc.fix, where=where) from None


def path(base: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}.{key}" if base else key


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput("must be a mapping (key: value)", field=where or "(top level)",
                           value=type(value).__name__, fix="write it as YAML keys and values")
    return value


def check_keys(m: Mapping[str, Any], where: str, allowed: Iterable[str]) -> None:
    allowed = set(allowed)
    for key in m:
        if key not in allowed:
            raise InvalidInput("unknown field", field=path(where, str(key)), value=m[key],
                               fix=f"remove it or use one of: {', '.join(sorted(allowed))}")


def get(m: Mapping[str, Any], key: str, where: str, default: Any = _MISSING) -> Any:
    if key in m and m[key] is not None:
        return m[key]
    if default is _MISSING:
        raise InvalidInput("is required", field=path(where, key), value=None, fix=f"add {key}: ...")
    return default


def text(m: Mapping[str, Any], key: str, where: str, default: Any = _MISSING) -> Any:
    v = get(m, key, where, default)
    if v is default and default is not _MISSING:
        return v
    if not isinstance(v, str) or not v.strip():
        raise InvalidInput("must be a non-empty string", field=path(where, key), value=v, fix="give a name")
    return v.strip()


def number(m: Mapping[str, Any], key: str, where: str, default: Any = _MISSING, *,
           minimum: float | None = None, positive: bool = False, maximum: float | None = None) -> Any:
    v = get(m, key, where, default)
    if v is default and default is not _MISSING:
        return v
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise InvalidInput("must be a number", field=path(where, key), value=v, fix="write a number, e.g. 1.5")
    if positive and v <= 0:
        raise InvalidInput("must be positive", field=path(where, key), value=v, fix="give a value above 0")
    if minimum is not None and v < minimum:
        raise InvalidInput(f"must be at least {minimum}", field=path(where, key), value=v,
                           fix=f"give a value >= {minimum}")
    if maximum is not None and v > maximum:
        raise InvalidInput(f"must be at most {maximum}", field=path(where, key), value=v,
                           fix=f"give a value <= {maximum}")
    return float(v)


def integer(m: Mapping[str, Any], key: str, where: str, default: Any = _MISSING, *, positive: bool = False,
            minimum: int | None = None) -> Any:
    v = get(m, key, where, default)
    if v is default and default is not _MISSING:
        return v
    if isinstance(v, bool) or not isinstance(v, int):
        raise InvalidInput("must be a whole number", field=path(where, key), value=v, fix="write e.g. 8")
    if positive and v <= 0:
        raise InvalidInput("must be a positive whole number", field=path(where, key), value=v,
                           fix="give 1 or more")
    if minimum is not None and v < minimum:
        raise InvalidInput(f"must be at least {minimum}", field=path(where, key), value=v,
                           fix=f"give a value >= {minimum}")
    return v


def boolean(m: Mapping[str, Any], key: str, where: str, default: Any = _MISSING) -> Any:
    v = get(m, key, where, default)
    if not isinstance(v, bool):
        raise InvalidInput("must be true or false", field=path(where, key), value=v, fix="write true or false")
    return v


def choice(m: Mapping[str, Any], key: str, where: str, enum: type[E], default: Any = _MISSING) -> E:
    v = get(m, key, where, default)
    if isinstance(v, enum):
        return v
    try:
        return enum(v)
    except ValueError:
        raise InvalidInput("is not a valid choice", field=path(where, key), value=v,
                           fix=f"use one of: {', '.join(e.value for e in enum)}") from None


def items(m: Mapping[str, Any], key: str, where: str, default: Any = _MISSING) -> list[Any]:
    v = get(m, key, where, default)
    if not isinstance(v, list):
        raise InvalidInput("must be a list", field=path(where, key), value=v, fix="write a YAML list (- item)")
    return v


def strings(m: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    v = get(m, key, where, [])
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise InvalidInput("must be a list of names", field=path(where, key), value=v, fix="write [a, b]")
    return tuple(v)
