"""The simulator's whole state: tenants, clock, issued tokens, faults, throttling and the
request / write logs.  One re-entrant lock guards the directory state."""

import collections
import datetime
import json
import threading

from .auth import TokenStore
from .clock import SimClock
from .faults import FaultQueue
from .odata import TokenCodec
from .scenario import ScenarioError, build_tenant, parse_clock
from .throttle import Throttle
from .util import iso, UTC


class Simulator:
    # The release task runs every hour (docs/graph-facts.md#duplicate-attribute-resiliency).
    DEFAULT_SWEEP_INTERVAL = 3600.0

    def __init__(self, clock_mode="auto", token_lifetime=3599, sweep_interval=None,
                 request_log_file=None, max_log=200000):
        self.lock = threading.RLock()
        self.clock_mode = clock_mode
        self.clock = SimClock(clock_mode)
        self.token_lifetime = token_lifetime
        self.sweep_interval = float(sweep_interval or self.DEFAULT_SWEEP_INTERVAL)
        self.tenants = {}
        self.tokens = TokenStore()
        self.faults = FaultQueue()
        self.throttle = Throttle()
        self.codec = TokenCodec()
        self.requests = collections.deque(maxlen=max_log)
        self.writes = collections.deque(maxlen=max_log)
        self._log_seq = 0
        self._write_seq = 0
        self._log_lock = threading.Lock()
        self._log_file = open(request_log_file, "a", buffering=1) if request_log_file else None
        self.scenario = None
        self.scenario_dir = None
        self.next_sweep = None
        self.sweep_count = 0

    # ----- scenarios ---------------------------------------------------------------------
    def load(self, scenario, base_dir=None):
        """Replace the whole state with `scenario` (a dict): tenants, clock, issued tokens,
        faults, throttling buckets and the request and write logs."""
        if not isinstance(scenario, dict) or not isinstance(scenario.get("tenants"), list):
            raise ScenarioError("a scenario is an object with a \"tenants\" list")
        with self.lock:
            clock = SimClock(self.clock_mode, parse_clock(scenario))
            seed = scenario.get("seed", 0)
            tenants = {}
            for spec in scenario["tenants"]:
                tenant = build_tenant(spec, clock, base_dir, seed)
                if tenant.id in tenants:
                    raise ScenarioError("duplicate tenant id %s" % tenant.id)
                tenants[tenant.id] = tenant
            self.clock = clock
            self.tenants = tenants
            self.clear_logs("all")
            self.scenario, self.scenario_dir = scenario, base_dir
            self.tokens.clear()
            self.faults.clear()
            self.throttle.reset()
            self.next_sweep = clock.now() + datetime.timedelta(seconds=self.sweep_interval)
            return self.summary()

    def reset(self):
        """Reload the last scenario (or an empty simulator) and clear every log."""
        with self.lock:
            with self._log_lock:
                self.requests.clear()
                self.writes.clear()
            if self.scenario is not None:
                return self.load(self.scenario, self.scenario_dir)
            self.tenants = {}
            self.tokens.clear()
            self.faults.clear()
            self.throttle.reset()
            return self.summary()

    def summary(self):
        return {"tenants": [self.describe_tenant(t) for t in self.tenants.values()],
                "clock": self.clock_state()}

    def describe_tenant(self, tenant):
        return {"id": tenant.id, "initialDomain": tenant.initial_domain_name,
                "domains": tenant.domains, "size": tenant.size(),
                "counts": {k: len(v) for k, v in tenant.order.items()},
                "quarantined": {k: len(v) for k, v in tenant.with_errors.items()},
                "apps": [a.describe() for a in tenant.apps.values()],
                "settings": tenant.settings}

    def tenant_by_key(self, key):
        """A tenant by id (GUID) or by any of its domains, as the token endpoint takes either
        (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow)."""
        key = (key or "").lower()
        tenant = self.tenants.get(key)
        if tenant is None:
            for candidate in self.tenants.values():
                if key in candidate.all_domains():
                    return candidate
        return tenant

    # ----- clock and the sweep -----------------------------------------------------------
    def clock_state(self):
        return {"now": iso(self.clock.now()), "mode": self.clock.mode,
                "sweepIntervalSeconds": self.sweep_interval,
                "nextSweep": iso(self.next_sweep) if self.next_sweep else None,
                "sweepsRun": self.sweep_count}

    def advance(self, seconds):
        with self.lock:
            self.clock.advance(seconds)
            return self.tick()

    def tick(self):
        """Run the sweep once for every sweep boundary the clock has crossed (at most ten
        per call: the sweep is idempotent, so more runs would change nothing)."""
        with self.lock:
            if self.next_sweep is None:
                return []
            now = self.clock.now()
            interval = datetime.timedelta(seconds=self.sweep_interval)
            runs = []
            while now >= self.next_sweep:
                if len(runs) < 10:
                    runs.append(self.sweep_all())
                self.next_sweep += interval
            return runs

    def sweep_all(self):
        with self.lock:
            self.sweep_count += 1
            return {t.id: t.sweep() for t in self.tenants.values()}

    # ----- logs ----------------------------------------------------------------------------
    def log_request(self, entry):
        with self._log_lock:
            self._log_seq += 1
            entry = dict(entry, seq=self._log_seq,
                         time=datetime.datetime.now(UTC).isoformat(timespec="milliseconds"),
                         simTime=iso(self.clock.now()))
            self.requests.append(entry)
            if self._log_file:
                self._log_file.write(json.dumps(entry) + "\n")
        return entry

    def log_write(self, entry):
        with self._log_lock:
            self._write_seq += 1
            entry = dict(entry, seq=self._write_seq, simTime=iso(self.clock.now()))
            self.writes.append(entry)
        return entry

    def request_log(self, since=0):
        with self._log_lock:
            return [e for e in self.requests if e["seq"] > since]

    def write_log(self, since=0):
        with self._log_lock:
            return [e for e in self.writes if e["seq"] > since]

    def clear_logs(self, which):
        with self._log_lock:
            if which in ("requests", "all"):
                self.requests.clear()
            if which in ("writes", "all"):
                self.writes.clear()

    def close(self):
        if self._log_file:
            self._log_file.close()
            self._log_file = None
