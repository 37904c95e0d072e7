"""Identity-and-access throttling: resource-unit token buckets per application+tenant.

Source: graph-facts §4 (microsoft-graph-docs-contrib concepts/throttling-limits.md,
learn.microsoft.com/graph/throttling-limits): "Throttling is based on a token bucket
algorithm, which works by adding individual costs of requests".
"""

import math
import threading
import time

# graph-facts §4 table: application+tenant pair "S: 3,500 / M: 5,000 / L: 8,000 requests
# per 10 seconds"; write quota "3,000 requests per 2 minutes and 30 seconds".
RU_QUOTA = {"S": 3500, "M": 5000, "L": 8000}
RU_WINDOW = 10.0
WRITE_QUOTA = 3000
WRITE_WINDOW = 150.0


def request_cost(method, resource, query):
    """graph-facts §4 base costs: GET users = 2; POST directoryObjects/getByIds = 3;
    GET groups/{id}/members = 3; any other identity GET = 1; POST/PATCH/PUT/DELETE = 1
    resource unit + 1 write.  "Using $select decreases cost by 1", "Using $expand
    increases cost by 1", "Using $top with a value of less than 20 decreases cost by 1".
    "A request cost can never be lower than 1."  Returns (resource units, writes)."""
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
        graph-facts §4: "Avoid immediate retries, because all requests accrue against your
        usage limits" - a rejected request still drains the bucket (down to -capacity)."""
        self.refill(now)
        if self.level >= amount:
            self.level -= amount
            return 0.0
        self.level = max(self.level - amount, -self.capacity)
        return (amount - self.level) / self.rate

    def used_fraction(self):
        return (self.capacity - self.level) / self.capacity


class Throttle:
    def __init__(self):
        self._lock = threading.Lock()
        self._buckets = {}

    def reset(self):
        with self._lock:
            self._buckets.clear()

    def charge(self, tenant, app_id, method, resource, query):
        """Returns (ok, headers, retry_after_seconds, limit_name)."""
        settings = tenant.settings
        units, writes = request_cost(method, resource, query)
        headers = {"x-ms-resource-unit": str(units)}
        if not settings["throttleEnabled"]:
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
        # graph-facts §4: x-ms-throttle-limit-percentage "(0.8-1.8, only above 0.8 of the
        # limit)".
        if used > 0.8:
            headers["x-ms-throttle-limit-percentage"] = "%.1f" % min(1.8, used)
        return not wait, headers, wait, limit


def retry_after_value(seconds, fmt):
    """graph-facts §4: "Retry-After: 2.128" (older sample) or "Retry-After: 10"."""
    if fmt == "fractional":
        return "%.3f" % max(seconds, 0.001)
    return str(max(1, int(math.ceil(seconds))))
