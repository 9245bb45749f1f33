"""Backends run a placement on a site's engine. A backend is a small protocol and is found by
name in ``BACKENDS``; an unknown name lists the valid ones."""

from __future__ import annotations

from typing import Protocol

from suanli.domain.errors import UnknownName


class Handle(Protocol):
    """A started placement."""

    def poll(self) -> int | None: ...
    def kill(self) -> None: ...
    def read_log(self, offset: int, limit: int) -> bytes: ...


class Backend(Protocol):
    name: str

    def start(self, placement: dict[str, object], slots: list[int]) -> Handle: ...


def get_backend(name: str, **options: object) -> Backend:
    from suanli.agent.backends.local import LocalBackend

    backends: dict[str, type] = {"local": LocalBackend}
    if name not in backends:
        raise UnknownName("backend", name, sorted(backends), field="backend")
    return backends[name](**options)  # type: ignore[no-any-return]
