"""Sliding-window rate limits kept in memory, for sign-in attempts, form posts and lookups.

One process serves a hall's gateway; limits are per process, which suits the deployment (one
uvicorn worker behind a proxy) and needs no extra service.  Keys are bounded in number (oldest
evicted first) so a flood of distinct clients cannot grow memory without limit.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class Throttle:
    """At most ``limit`` hits per ``window`` seconds for each key."""

    def __init__(self, limit: int, window: float, *, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.max_keys, self.clock = limit, window, max_keys, clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str) -> deque[float]:
        now = self.clock()
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def blocked(self, key: str) -> bool:
        """Whether ``key`` has used its allowance (does not count a hit)."""
        return len(self._recent(key)) >= self.limit

    def hit(self, key: str) -> bool:
        """Count one hit; ``False`` when the key was already over its limit (the hit is not counted)."""
        hits = self._recent(key)
        if len(hits) >= self.limit:
            return False
        hits.append(self.clock())
        return True

    def retry_after(self, key: str) -> int:
        """Whole seconds until ``key`` may try again (0 when it may now)."""
        hits = self._recent(key)
        if len(hits) < self.limit:
            return 0
        return max(1, math.ceil(hits[0] + self.window - self.clock()))

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)
