"""Injected faults for the next N matching requests: the idea of Microsoft's Dev Proxy
(errors with Retry-After, latency; docs/graph-facts.md#fault-injection-as-dev-proxy-does-it),
here deterministic instead of random."""

import threading

KINDS = ("429", "403", "500", "502", "503", "504", "reset", "hang", "truncated",
         "malformed", "content-type", "oversized", "foreign-nextlink", "delay",
         "expired-page-token", "revoked-token")
# Kinds that are a Graph error answer, and so can also hit one request inside a $batch.
STATUS_KINDS = ("429", "403", "500", "502", "503", "504")


class FaultError(ValueError):
    pass


class Fault:
    def __init__(self, spec, seq):
        kind = str(spec.get("kind", ""))
        if kind not in KINDS:
            raise FaultError("fault kind must be one of %s" % ", ".join(KINDS))
        self.id = seq
        self.kind = kind
        self.remaining = int(spec.get("count", 1))
        if self.remaining < 1:
            raise FaultError("count must be at least 1")
        self.path = spec.get("path")
        self.method = spec.get("method")
        self.retry_after = spec.get("retryAfter")
        self.seconds = float(spec.get("seconds", 30 if kind == "hang" else 1))
        self.bytes = int(spec.get("bytes", 16 * 1024 * 1024))
        self.host = spec.get("host", "https://graph.attacker.invalid")
        self.include_control = bool(spec.get("includeToken", False))
        # Each request of a batch is throttled on its own and can get its own 429
        # (https://learn.microsoft.com/graph/json-batching).  A batchItem fault answers one
        # request inside a $batch (matched on its method and url) instead of a whole HTTP
        # request.
        self.batch_item = bool(spec.get("batchItem", False))
        if self.batch_item and kind not in STATUS_KINDS:
            raise FaultError("a batchItem fault must be one of %s" % ", ".join(STATUS_KINDS))
        self.applied = 0

    def matches(self, method, target, is_token, in_batch=False):
        if self.batch_item != in_batch:
            return False
        if (self.kind in ("expired-page-token", "revoked-token")
                and "skiptoken" not in target.lower()):
            # Only a request that continues a listing carries a page token.
            return False
        if is_token and not self.include_control:
            return False
        if self.method and self.method.upper() != method:
            return False
        return self.path is None or self.path in target

    def describe(self):
        return {"id": self.id, "kind": self.kind, "remaining": self.remaining,
                "path": self.path, "method": self.method, "retryAfter": self.retry_after,
                "seconds": self.seconds, "applied": self.applied,
                "batchItem": self.batch_item}


class FaultQueue:
    """Faults are consumed in the order they were added.  They apply to Graph requests;
    token requests only with "includeToken": true.  /_sim/ is never faulted."""

    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []
        self._seq = 0

    def add(self, spec):
        with self._lock:
            self._seq += 1
            fault = Fault(spec, self._seq)
            self._faults.append(fault)
            return fault.describe()

    def take(self, method, target, is_token=False, in_batch=False):
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(method, target, is_token, in_batch):
                    fault.remaining -= 1
                    fault.applied += 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def list(self):
        with self._lock:
            return [f.describe() for f in self._faults]

    def clear(self):
        with self._lock:
            self._faults.clear()
