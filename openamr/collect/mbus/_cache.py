"""A dict with a size cap: where the decoder keeps what a meter's regularity lets it reuse.

A meter sends the same address, header and record layout in every telegram,
so whatever is derived from those bytes alone is worth keeping by them. Each
cache is keyed by everything its value is derived from, so that a different
telegram never gets a wrong answer, and bounded, so that random bytes cannot
grow it without end: past its limit the entry kept longest ago is forgotten.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import TypeVar

# For what is kept per meter (or per meter and telegram length): meters heard.
METERS_KEPT = 65536

_Key = TypeVar("_Key", bound=Hashable)
_Value = TypeVar("_Value")


class BoundedCache(OrderedDict[_Key, _Value]):
    """A dict of at most ``limit`` entries; a new one pushes out the one kept longest ago.

    Reading is a plain dict look-up. Keeping is not atomic: two threads that
    keep the same key may both build its value, which is harmless for values
    that depend on the key alone.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, key: _Key, value: _Value) -> _Value:
        """Store ``value`` under ``key`` and return it."""
        self[key] = value
        if len(self) > self.limit:
            self.popitem(last=False)
        return value
