"""The error tree of suanli's core.

    SuanliError                 anything suanli raises on purpose
    └── InvalidInput            the caller gave something wrong; carries where, what and the fix
        ├── UnknownName         a name (accelerator, region, site, plugin...) that is not known
        └── ConfigError         a configuration file is wrong (names the file)

Every ``InvalidInput`` renders as one line a user can act on:
``<where>: <field> = <value!r>: <problem>. Fix: <fix>``.
"""

from __future__ import annotations

from typing import Any


class SuanliError(Exception):
    """Base class for errors suanli raises on purpose."""


class InvalidInput(SuanliError):
    """Bad input: says which field, which value, what is wrong and how to fix it."""

    def __init__(
        self,
        problem: str,
        *,
        field: str = "",
        value: Any = None,
        fix: str = "",
        where: str = "",
    ) -> None:
        self.problem = problem
        self.field = field
        self.value = value
        self.fix = fix
        self.where = where
        super().__init__(self.render())

    def render(self) -> str:
        parts = []
        if self.where:
            parts.append(self.where)
        if self.field:
            parts.append(f"{self.field} = {self.value!r}")
        parts.append(self.problem)
        text = ": ".join(parts)
        if self.fix:
            text += f". Fix: {self.fix}"
        return text

    def at(self, where: str) -> InvalidInput:
        """The same error, located in ``where`` (a file, a request...)."""
        return type(self)(self.problem, field=self.field, value=self.value, fix=self.fix, where=where)


class UnknownName(InvalidInput):
    """A name that is not registered; the fix lists the valid names."""

    def __init__(self, kind: str, name: str, valid: list[str] | tuple[str, ...], *, field: str = "",
                 where: str = "") -> None:
        shown = ", ".join(sorted(valid)[:40])
        more = "" if len(valid) <= 40 else f" (and {len(valid) - 40} more)"
        super().__init__(
            f"unknown {kind}",
            field=field or kind,
            value=name,
            fix=f"use one of: {shown}{more}",
            where=where,
        )


class ConfigError(InvalidInput):
    """A configuration file is wrong; ``where`` names the file."""
