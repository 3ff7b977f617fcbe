"""Failed sign-ins, per client: logged (never with the key or token tried) and throttled.

A client with ``limit`` failures in the last minute (a wrong key on the sign-in page, or an unknown bearer key
or token on any call) gets 429 for every sign-in until the oldest failure is a minute old, even with a right
key, so that guessing learns nothing while throttled. Kept in memory per API process: a restart or a second
replica starts counting afresh, which bounds guessing per process and minute rather than globally.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

log = logging.getLogger(__name__)
WINDOW_S = 60.0


class SignInThrottle:
    def __init__(self, limit: int, window_s: float = WINDOW_S) -> None:
        self.limit, self.window_s = limit, window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()  # sync routes run on a thread pool

    def wait_s(self, client: str) -> int:
        """Seconds ``client`` must wait before trying again; 0 when it may try now."""
        now = time.monotonic()
        with self._lock:
            recent = self._recent(client, now)
            if len(recent) < self.limit:
                return 0
            return max(1, int(recent[0] + self.window_s - now) + 1)

    def failed(self, client: str, where: str) -> None:
        now = time.monotonic()
        with self._lock:
            recent = self._recent(client, now)
            recent.append(now)
            count = len(recent)
        log.warning("sign-in failed", extra={"client": client, "path": where, "failures_last_minute": count,
                                             "throttled": count >= self.limit})

    def _recent(self, client: str, now: float) -> deque[float]:
        recent = self._failures.setdefault(client, deque())
        while recent and recent[0] <= now - self.window_s:
            recent.popleft()
        if not recent and len(self._failures) > 10_000:  # forget idle clients rather than grow without bound
            self._failures = {c: d for c, d in self._failures.items() if d}
            self._failures[client] = recent
        return recent
