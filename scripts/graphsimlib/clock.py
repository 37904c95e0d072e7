"""The simulated clock.

"auto": simulated time = wall-clock time + an offset that /_sim/clock/advance grows.
"manual": simulated time stands still except when advanced.
Token expiry, delta-token expiry, occurredDateTime and the hourly sweep all use this
clock; throttling uses real monotonic time because it meters real request rates.
"""

import datetime
import threading

from .util import UTC


class SimClock:
    def __init__(self, mode="auto", start=None):
        if mode not in ("auto", "manual"):
            raise ValueError("clock mode must be auto or manual")
        self.mode = mode
        self._lock = threading.Lock()
        self._offset = datetime.timedelta(0)
        self._start = start or datetime.datetime.now(UTC).replace(microsecond=0)
        if mode == "auto" and start is not None:
            self._offset = start - datetime.datetime.now(UTC)

    def now(self):
        with self._lock:
            if self.mode == "manual":
                return self._start + self._offset
            return datetime.datetime.now(UTC) + self._offset

    def timestamp(self):
        return self.now().timestamp()

    def advance(self, seconds):
        with self._lock:
            self._offset += datetime.timedelta(seconds=seconds)

    def set(self, when):
        with self._lock:
            if self.mode == "manual":
                self._start, self._offset = when, datetime.timedelta(0)
            else:
                self._offset = when - datetime.datetime.now(UTC)
