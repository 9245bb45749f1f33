"""The one name registry of suanli: scheduling plugins (filters, scores, queue sorts, placement
strategies), trace readers, agent backends and store repositories are all found by name in a
``Registry``. It rejects a second, different item under a taken name (``DuplicateName``;
registering the same item again is a no-op, so a module may be imported twice), and an unknown
name raises ``UnknownName`` listing the valid ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from suanli.domain.errors import InvalidInput, UnknownName


class DuplicateName(InvalidInput, ValueError):
    """A name that is already registered for another item."""

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        if name in self._items:
            if self._items[name] is item:
                return item
            raise DuplicateName(f"a {self.kind} of this name is already registered", field=self.kind, value=name,
                                fix="choose another name")
        self._items[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        def deco(item: T) -> T:
            return self.add(name, item)
        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownName(self.kind, name, list(self._items)) from None

    def names(self) -> list[str]:
        return list(self._items)

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())

    def remove(self, name: str) -> None:
        self._items.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
