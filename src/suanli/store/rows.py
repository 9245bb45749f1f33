"""What every repository of the store shares: result rows as plain dicts, and a query narrowed
by optional values."""

from __future__ import annotations

from typing import Any


def row(r: Any) -> dict[str, Any] | None:
    """One result row as a dict, or None when there is none."""
    return dict(r._mapping) if r is not None else None


def rows(result: Any) -> list[dict[str, Any]]:
    """Every row of a result as a dict."""
    return [dict(r._mapping) for r in result]


def where_equal(query: Any, table: Any, **values: Any) -> Any:
    """``query`` narrowed to rows whose columns equal the given values; None means any."""
    for column, value in values.items():
        if value is not None:
            query = query.where(table.c[column] == value)
    return query
