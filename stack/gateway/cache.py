"""A bounded LRU cache of score responses with hit and miss counts."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypedDict, TypeVar

V = TypeVar("V")


class CacheStats(TypedDict):
    size: int
    capacity: int
    hits: int
    misses: int


class LRUCache(Generic[V]):
    """Keeps the `capacity` most recently used entries; capacity 0 caches nothing."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError(f"cache capacity must be >= 0, got {capacity!r}")
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, V] = OrderedDict()

    def get(self, key: Hashable) -> V | None:
        """The value for `key` (now the most recently used) or None; counts a hit or a miss."""
        value = self._entries.get(key)
        if value is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: Hashable, value: V) -> None:
        """Store `value`, evicting the least recently used entry when full."""
        if self.capacity == 0:
            return
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Drop every entry; the hit and miss counts are kept (they are running totals)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> CacheStats:
        return CacheStats(size=len(self), capacity=self.capacity, hits=self.hits, misses=self.misses)
