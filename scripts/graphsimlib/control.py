"""The control API under /_sim/ (no authentication, JSON in and out).  It plays the roles
the real service keeps out of reach: the on-premises sync engine (exports), the tenant
administrator (object changes), time, and fault injection.  See scripts/graphsimlib/README.md."""

import json
import os
import urllib.parse

from . import scenario as scenario_mod
from . import settings as settings_mod
from .directory import OBJECT_TYPES, DirectoryError
from .faults import FaultError
from .scenario import ScenarioError
from .util import parse_iso


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def _json(body, allow_empty=True):
    if not body:
        if allow_empty:
            return {}
        raise ControlError(400, "a JSON body is required")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ControlError(400, "invalid JSON: %s" % exc)


def handle(sim, method, path, query, body):
    """Returns (status, JSON-able body)."""
    parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/") if p][1:]
    try:
        return _route(sim, method, parts, query, body)
    except ControlError as exc:
        return exc.status, {"error": exc.message}
    except (ScenarioError, DirectoryError, FaultError, settings_mod.SettingsError) as exc:
        return 400, {"error": str(exc)}


def _route(sim, method, parts, query, body):
    if parts == ["health"] and method == "GET":
        return 200, {"ok": True}
    if parts == ["scenario"] and method == "POST":
        data = _json(body, allow_empty=False)
        base_dir = None
        if isinstance(data, dict) and "path" in data and "tenants" not in data:
            path = data["path"]
            with open(path) as f:
                data = json.load(f)
            base_dir = os.path.dirname(os.path.abspath(path))
        elif isinstance(data, dict) and data.get("baseDir"):
            base_dir = data["baseDir"]
        return 200, sim.load(data, base_dir)
    if parts == ["scenario"] and method == "GET":
        return 200, sim.summary()
    if parts == ["reset"] and method == "POST":
        return 200, sim.reset()
    if parts == ["clock"] and method == "GET":
        return 200, sim.clock_state()
    if parts == ["clock", "advance"] and method == "POST":
        seconds = _json(body).get("seconds")
        if not isinstance(seconds, (int, float)) or seconds < 0:
            raise ControlError(400, "seconds must be a non-negative number")
        runs = sim.advance(seconds)
        return 200, dict(sim.clock_state(), sweeps=runs)
    if parts == ["clock", "set"] and method == "POST":
        when = _json(body).get("time")
        with sim.lock:
            sim.clock.set(parse_iso(when))
            runs = sim.tick()
        return 200, dict(sim.clock_state(), sweeps=runs)
    if parts == ["sweep"] and method == "POST":
        return 200, {"sweeps": sim.sweep_all()}
    if parts == ["faults"]:
        if method == "POST":
            spec = _json(body, allow_empty=False)
            specs = spec if isinstance(spec, list) else [spec]
            return 200, {"added": [sim.faults.add(s) for s in specs]}
        if method == "GET":
            return 200, {"faults": sim.faults.list()}
        if method == "DELETE":
            sim.faults.clear()
            return 200, {"faults": []}
    if parts in (["requests"], ["writes"]):
        since = int(query.get("since", 0) or 0)
        if method == "GET":
            log = sim.request_log(since) if parts == ["requests"] else sim.write_log(since)
            return 200, {"value": log}
        if method == "DELETE":
            sim.clear_logs(parts[0])
            return 200, {"value": []}
    if parts == ["stats"]:
        # What each tenant's clients spent: HTTP requests, Graph requests (a $batch item
        # counts), resource units and 429s (throttle.py); DELETE starts the counts again.
        if method == "GET":
            return 200, {"tenants": sim.throttle.stats()}
        if method == "DELETE":
            sim.throttle.clear_stats()
            return 200, {"tenants": {}}
    if parts == ["throttle", "reset"] and method == "POST":
        # Every bucket full again and the counts at zero: each client of a benchmark
        # starts from the same budget.
        sim.throttle.reset()
        return 200, {"tenants": {}}
    if parts == ["tokens"] and method == "GET":
        return 200, {"value": sim.tokens.issued()}
    if parts == ["tokens", "expire"] and method == "POST":
        return 200, {"expired": sim.tokens.expire_all()}
    if parts == ["tenants"] and method == "GET":
        with sim.lock:
            return 200, {"value": [sim.describe_tenant(t) for t in sim.tenants.values()]}
    if len(parts) >= 2 and parts[0] == "tenants":
        with sim.lock:
            tenant = sim.tenant_by_key(parts[1])
            if tenant is None:
                raise ControlError(404, "no tenant %s" % parts[1])
            return _tenant_route(sim, tenant, method, parts[2:], query, body)
    raise ControlError(404, "no control endpoint %s /_sim/%s" % (method, "/".join(parts)))


def _tenant_route(sim, tenant, method, parts, query, body):
    if not parts and method == "GET":
        return 200, sim.describe_tenant(tenant)
    if parts == ["settings"]:
        if method == "POST":
            tenant.settings = settings_mod.merge(tenant.settings, _json(body))
        return 200, tenant.settings
    if parts == ["apps"] and method == "POST":
        app = scenario_mod.add_app(tenant, _json(body, allow_empty=False), sim.scenario_dir)
        return 200, app.describe()
    if parts == ["export"] and method == "POST":
        data = _json(body, allow_empty=False)
        items = data if isinstance(data, list) else data.get("objects", [data])
        return 200, {"value": [tenant.export(item) for item in items]}
    if len(parts) == 2 and parts[0] == "export" and method == "DELETE":
        return 200, tenant.export_delete(parts[1], hard=query.get("mode") == "hard")
    if parts == ["export-errors"] and method == "GET":
        return 200, {"value": [dict(e, sourceAnchor=a) for a, e in tenant.export_errors.items()]}
    if parts == ["operations"] and method == "POST":
        data = _json(body, allow_empty=False)
        return 200, {"value": scenario_mod.run_operations(
            tenant, data if isinstance(data, list) else [data])}
    if parts == ["sweep"] and method == "POST":
        return 200, tenant.sweep()
    if parts == ["sweeps"] and method == "GET":
        return 200, {"value": tenant.sweeps}
    if parts == ["delta", "expire"] and method == "POST":
        tenant.delta_epoch += 1
        return 200, {"deltaEpoch": tenant.delta_epoch}
    if parts == ["quarantines"] and method == "GET":
        out = []
        for kind, ids in tenant.with_errors.items():
            for oid in sorted(ids):
                obj = tenant.objects[oid]
                out.append({"id": oid, "objectType": kind, "sourceAnchor": obj.anchor,
                            "userPrincipalName": obj.props.get("userPrincipalName"),
                            "onPremisesProvisioningErrors": tenant.provisioning_errors(obj),
                            "stuck": tenant.stuck_values(obj)})
        return 200, {"value": out}
    if parts == ["objects"] and method == "POST":
        data = _json(body, allow_empty=False)
        kind = OBJECT_TYPES.get(data.pop("objectType", "user"))
        if kind is None:
            raise ControlError(400, "objectType must be user, group or contact")
        obj = scenario_mod.add_object(tenant, kind, data)
        tenant.note_write(obj, created=True)
        return 201, tenant.raw(obj)
    if len(parts) >= 2 and parts[0] == "objects":
        obj = tenant.get(parts[1]) or tenant.find(parts[1])
        if obj is None:
            raise ControlError(404, "no object %s" % parts[1])
        if len(parts) == 2 and method == "GET":
            return 200, tenant.raw(obj)
        if len(parts) == 2 and method == "PATCH":
            data = _json(body, allow_empty=False)
            sim_fields = data.pop("_sim", {}) or {}
            tenant.note_write(obj, created=False)
            tenant.update(obj, data)
            if "adminRoles" in sim_fields:
                obj.admin_roles = list(sim_fields["adminRoles"])
            if "memberOf" in sim_fields:
                obj.member_of = list(sim_fields["memberOf"])
            return 200, tenant.raw(obj)
        if len(parts) == 2 and method == "DELETE":
            tenant.delete(obj, hard=query.get("mode", "hard") == "hard")
            return 200, {"id": obj.id, "result": "deleted", "mode": query.get("mode", "hard")}
        if parts[2:] == ["stuck"] and method == "POST":
            data = _json(body, allow_empty=False)
            if not isinstance(data.get("value"), str):
                raise ControlError(400, "value is required")
            tenant.set_stuck(obj, data["value"], data.get("stuck", True))
            return 200, tenant.raw(obj)
    raise ControlError(404, "no control endpoint %s .../%s" % (method, "/".join(parts)))
