"""Identity-and-access throttling: resource-unit token buckets per application+tenant.

Source: https://learn.microsoft.com/graph/throttling-limits (identity and access are
throttled with token buckets charged by each request's cost); summed up in
docs/graph-facts.md#throttling.
"""

import math
import threading
import time

# Application+tenant pair: 3,500 (S), 5,000 (M) or 8,000 (L) resource units per 10 s, and
# 3,000 writes per 150 s (https://learn.microsoft.com/graph/throttling-limits).
RU_QUOTA = {"S": 3500, "M": 5000, "L": 8000}
RU_WINDOW = 10.0
WRITE_QUOTA = 3000
WRITE_WINDOW = 150.0


def request_cost(method, resource, query):
    """Base costs: GET users = 2; POST directoryObjects/getByIds = 3;
    GET groups/{id}/members = 3; any other identity GET = 1; POST/PATCH/PUT/DELETE = 1
    resource unit + 1 write.  $select takes 1 off, $expand adds 1, $top below 20 takes 1
    off; no request costs less than 1 (https://learn.microsoft.com/graph/throttling-limits).
    Returns (resource units, writes)."""
    if method != "GET":
        return 1, 1
    cost = 2 if resource == "users" else 1
    keys = {k.lower() for k in query}
    if "$select" in keys:
        cost -= 1
    if "$expand" in keys:
        cost += 1
    top = next((v for k, v in query.items() if k.lower() == "$top"), None)
    if top is not None and top.isdigit() and int(top) < 20:
        cost -= 1
    return max(cost, 1), 0


class Bucket:
    def __init__(self, capacity, window):
        self.capacity = float(capacity)
        self.rate = capacity / window
        self.level = float(capacity)
        self.stamp = time.monotonic()

    def refill(self, now):
        if now > self.stamp:
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
            self.stamp = now

    def take(self, amount, now):
        """Charge `amount`.  Returns 0 on success, else the seconds until it would fit.
        Every request counts against the limits, refused ones too
        (https://learn.microsoft.com/graph/throttling): a rejected request still drains the
        bucket (down to -capacity)."""
        self.refill(now)
        if self.level >= amount:
            self.level -= amount
            return 0.0
        self.level = max(self.level - amount, -self.capacity)
        return (amount - self.level) / self.rate

    def used_fraction(self):
        return (self.capacity - self.level) / self.capacity


class Throttle:
    """The buckets, and what each tenant spent: the counters behind GET /_sim/stats, kept
    whether or not throttling is enabled, so a benchmark can compare clients by the resource
    units and 429s they cost (https://learn.microsoft.com/graph/throttling-limits)."""

    COUNTERS = ("httpRequests", "tokenRequests", "graphRequests", "batchItems",
                "resourceUnits", "throttled")

    def __init__(self):
        self._lock = threading.Lock()
        self._buckets = {}
        self._stats = {}

    def reset(self):
        with self._lock:
            self._buckets.clear()
            self._stats.clear()

    def _count(self, tenant_id, **amounts):
        """Adds to the tenant's counters; the caller holds self._lock."""
        row = self._stats.get(tenant_id)
        if row is None:
            row = self._stats[tenant_id] = dict.fromkeys(self.COUNTERS, 0)
        for name, amount in amounts.items():
            row[name] += amount

    def note_http(self, tenant_id, token=False):
        """One HTTP request of a client: a token request, or a Graph request (a $batch POST
        counts once here; its items count as graphRequests and batchItems)."""
        with self._lock:
            if token:
                self._count(tenant_id, tokenRequests=1)
            else:
                self._count(tenant_id, httpRequests=1)

    def stats(self):
        with self._lock:
            return {tid: dict(row) for tid, row in self._stats.items()}

    def clear_stats(self):
        with self._lock:
            self._stats.clear()

    def charge(self, tenant, app_id, method, resource, query, in_batch=False):
        """Returns (ok, headers, retry_after_seconds, limit_name).  Every request is
        charged, a refused one too: "all the requests accrue against your usage limits"
        (https://learn.microsoft.com/graph/throttling)."""
        settings = tenant.settings
        units, writes = request_cost(method, resource, query)
        headers = {"x-ms-resource-unit": str(units)}
        if not settings["throttleEnabled"]:
            with self._lock:
                self._count(tenant.id, graphRequests=1, batchItems=int(in_batch),
                            resourceUnits=units)
            return True, headers, 0.0, None
        quota = settings["throttleResourceUnitQuota"] or RU_QUOTA[tenant.size()]
        write_quota = settings["throttleWriteQuota"] or WRITE_QUOTA
        now = time.monotonic()
        with self._lock:
            key = (app_id, tenant.id)
            ru = self._buckets.get(key + ("ru",))
            if ru is None or ru.capacity != quota:
                ru = self._buckets[key + ("ru",)] = Bucket(quota, RU_WINDOW)
            wait = ru.take(units, now)
            limit = "ResourceUnitLimitExceeded" if wait else None
            if not wait and writes:
                wb = self._buckets.get(key + ("w",))
                if wb is None or wb.capacity != write_quota:
                    wb = self._buckets[key + ("w",)] = Bucket(write_quota, WRITE_WINDOW)
                wait = wb.take(writes, now)
                if wait:
                    limit = "WriteLimitExceeded"
                    ru.level += units  # the write was refused; give the read units back
            used = ru.used_fraction()
            self._count(tenant.id, graphRequests=1, batchItems=int(in_batch),
                        resourceUnits=units, throttled=int(bool(wait)))
        # x-ms-throttle-limit-percentage: 0.8 to 1.8, sent only above 0.8 of the limit
        # (https://learn.microsoft.com/graph/throttling-limits).
        if used > 0.8:
            headers["x-ms-throttle-limit-percentage"] = "%.1f" % min(1.8, used)
        return not wait, headers, wait, limit


def retry_after_value(seconds, fmt):
    """"Retry-After: 2.128" (older sample) or "Retry-After: 10" (current page of
    https://learn.microsoft.com/graph/throttling)."""
    if fmt == "fractional":
        return "%.3f" % max(seconds, 0.001)
    return str(max(1, int(math.ceil(seconds))))
