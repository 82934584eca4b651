"""One small least-recently-used cache, shared by request threads."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``size`` values by key; the least recently used goes first when it is full.

    The lock guards the bookkeeping only: ``make`` runs outside it, so a slow value does not
    hold up the other keys (two threads missing the same key at once may both make it).
    """

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"an LRU cache holds at least 1 value, not {size}")
        self.size = size
        self.entries: OrderedDict[K, V] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: K, make: Callable[[], V]) -> V:
        """The value of ``key``, made by ``make()`` and kept if it is not here yet."""
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
        value = make()
        with self.lock:
            self.entries[key] = value
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self.entries)
