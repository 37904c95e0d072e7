"""Scenario files: tenants, apps, objects and the sync exports that create conflicts;
plus the deterministic large-tenant generator.  The schema is documented in
scripts/graphsimlib/README.md."""

import os
import random

from .auth import App
from .directory import (OBJECT_TYPES, USERS, GROUPS, CONTACTS, Tenant,
                        DirectoryError, quarantine_from_errors)
from .util import det_guid, guid_to_immutable_id, parse_iso


class ScenarioError(ValueError):
    pass


def _read_pem(value, base_dir):
    """Inline PEM, or a path relative to the scenario file ($VARIABLES are expanded, so a
    scenario can name e.g. $GRAPHSIM_CERT_DIR/app.pem)."""
    if value.lstrip().startswith("-----BEGIN"):
        return value
    value = os.path.expandvars(value)
    path = value if os.path.isabs(value) else os.path.join(base_dir or ".", value)
    try:
        with open(path) as f:
            return f.read()
    except OSError as exc:
        raise ScenarioError("cannot read certificate %s: %s" % (path, exc))


def build_tenant(spec, clock, base_dir, seed):
    tid = spec.get("id")
    initial = spec.get("initialDomain")
    if not tid or not initial:
        raise ScenarioError("every tenant needs an id and an initialDomain")
    initial = initial.lower()
    if initial.endswith(".onmicrosoft.com"):
        initial = initial[:-len(".onmicrosoft.com")]
    settings = spec.get("settings")
    if spec.get("generate"):
        # The generator's even conflicts take a cloud-only user's UPN; with soft
        # match allowed (the service default, docs/graph-facts.md#matching-and-export-errors)
        # they would merge
        # instead, so a generated tenant blocks it unless its settings say otherwise.
        settings = dict(settings or {})
        settings.setdefault("blockSoftMatchEnabled", True)
    try:
        tenant = Tenant(tid.lower(), initial, spec.get("domains", []), settings,
                        spec.get("size"), spec.get("seed", seed), clock)
    except ValueError as exc:
        raise ScenarioError("tenant %s: %s" % (tid, exc))
    for app in spec.get("apps", []):
        add_app(tenant, app, base_dir)
    if spec.get("generate"):
        data = generate(tenant.id, tenant.initial_domain,
                        (tenant.domains or [tenant.initial_domain_name])[0], spec["generate"])
        add_objects(tenant, data["objects"])
        run_operations(tenant, data["exports"])
    add_objects(tenant, spec.get("objects", {}))
    run_operations(tenant, spec.get("exports", []))
    return tenant


def add_app(tenant, app, base_dir=None):
    """Register (or replace) an app registration: clientId, secret, secretExpired,
    certificate / certificates (PEM or path), roles, disabled."""
    certs = list(app.get("certificates", []))
    if app.get("certificate"):
        certs.append(app["certificate"])
    try:
        obj = App(app["clientId"], app.get("secret"), app.get("secretExpired", False),
                  [_read_pem(c, base_dir) for c in certs], app.get("roles", []),
                  app.get("disabled", False), app.get("displayName"))
    except (KeyError, ValueError) as exc:
        raise ScenarioError("tenant %s app: %s" % (tenant.id, exc))
    tenant.apps[obj.client_id] = obj
    return obj


def add_objects(tenant, objects):
    for name, items in objects.items():
        kind = OBJECT_TYPES.get(name)
        if kind is None:
            raise ScenarioError("objects: unknown collection %r" % name)
        for item in items:
            add_object(tenant, kind, item)


def add_object(tenant, kind, item):
    """Add a directory object as is, without DAR checks (it is the tenant's starting
    state).  Simulator-only fields live under "_sim"."""
    item = dict(item)
    sim = item.pop("_sim", {}) or {}
    errors = item.pop("onPremisesProvisioningErrors", None)
    now = tenant.now()
    quarantine = quarantine_from_errors(errors)
    for q in quarantine:
        q["occurred"] = q["occurred"] or now
    anchor = sim.get("sourceAnchor")
    if kind == USERS and item.get("onPremisesSyncEnabled") and item.get("onPremisesImmutableId"):
        anchor = anchor or item["onPremisesImmutableId"]
    onprem = sim.get("onPrem")
    if onprem is None and (anchor or quarantine):
        proxies = list(item.get("proxyAddresses") or [])
        upn = item.get("userPrincipalName")
        for q in quarantine:
            if q["property"] == "UserPrincipalName":
                upn = q["value"]
            elif q["value"] not in proxies:
                proxies.append(q["value"])
        onprem = {"sourceAnchor": anchor, "userPrincipalName": upn, "proxyAddresses": proxies}
    try:
        obj = tenant.add(kind, item, anchor=anchor, onprem=onprem, quarantine=quarantine,
                         admin_roles=sim.get("adminRoles", ()),
                         member_of=sim.get("memberOf", ()))
    except DirectoryError as exc:
        raise ScenarioError(str(exc))
    for value in sim.get("stuck", []):
        tenant.set_stuck(obj, value)
    return obj


def run_operations(tenant, operations):
    """The "exports" list: each entry is an on-premises object to export, or an operation
    {"op": "export"|"delete"|"sweep"|"update"|"deleteObject"|"stuck", ...}."""
    results = []
    for op in operations:
        results.extend(apply_operation(tenant, op))
    return results


def apply_operation(tenant, op):
    kind = op.get("op", "export")
    try:
        if kind == "export":
            items = op.get("objects") or [op]
            return [tenant.export({k: v for k, v in item.items() if k != "op"}) for item in items]
        if kind == "delete":
            return [tenant.export_delete(op["sourceAnchor"], hard=op.get("mode") == "hard")]
        if kind == "sweep":
            return [tenant.sweep()]
        if kind == "update":
            obj = _object(tenant, op)
            tenant.update(obj, op["set"])
            return [{"id": obj.id, "result": "updated"}]
        if kind == "deleteObject":
            obj = _object(tenant, op)
            tenant.delete(obj, hard=op.get("mode", "hard") == "hard")
            return [{"id": obj.id, "result": "deleted"}]
        if kind == "stuck":
            obj = _object(tenant, op)
            tenant.set_stuck(obj, op["value"], op.get("stuck", True))
            return [{"id": obj.id, "stuck": tenant.stuck_values(obj)}]
    except KeyError as exc:
        raise ScenarioError("operation %r needs %s" % (kind, exc))
    except DirectoryError as exc:
        raise ScenarioError(str(exc))
    raise ScenarioError("unknown operation %r" % kind)


def _object(tenant, op):
    obj = None
    if op.get("id"):
        obj = tenant.get(op["id"])
    elif op.get("userPrincipalName"):
        obj = tenant.find(op["userPrincipalName"], USERS)
    elif op.get("sourceAnchor"):
        oid = tenant.idx_anchor.get(op["sourceAnchor"])
        obj = tenant.get(oid) if oid else None
    if obj is None:
        raise DirectoryError("operation %r: object not found" % op.get("op"))
    return obj


# ----- the large-tenant generator -----------------------------------------------------------
def generate(tenant_id, initial, domain, spec):
    """A deterministic tenant: `users` users (cloud-only and synced), `groups` groups,
    `contacts` contacts, and `conflicts` conflicting on-premises objects exported through
    the real DAR logic (UPN and proxy conflicts on users, proxy conflicts on groups and
    contacts).  Same spec, same tenant."""
    seed = spec.get("seed", 1)
    n_users = int(spec.get("users", 1000))
    n_conflicts = int(spec.get("conflicts", 0))
    n_groups = int(spec.get("groups", 0))
    n_contacts = int(spec.get("contacts", 0))
    synced_ratio = float(spec.get("syncedRatio", 0.5))
    if n_conflicts > n_users // 2:
        raise ScenarioError("generate: conflicts must be at most half of users")
    rng = random.Random("%s/%s" % (seed, tenant_id))
    base_users = n_users - n_conflicts
    users, groups, contacts, exports = [], [], [], []
    synced, cloud = [], []
    for i in range(base_users):
        upn = "user%06d@%s" % (i, domain)
        user = {"id": det_guid(seed, tenant_id, "user", i), "userPrincipalName": upn,
                "displayName": "User %06d" % i, "mail": upn, "givenName": "User",
                "surname": "%06d" % i, "proxyAddresses": ["SMTP:" + upn]}
        if rng.random() < synced_ratio:
            anchor = guid_to_immutable_id(det_guid(seed, tenant_id, "anchor", i))
            user.update({"onPremisesSyncEnabled": True, "onPremisesImmutableId": anchor,
                         "onPremisesSamAccountName": "user%06d" % i,
                         "onPremisesDistinguishedName": "CN=User %06d,OU=Users,DC=corp" % i,
                         "onPremisesLastSyncDateTime": "2024-01-01T00:00:00Z"})
            synced.append(upn)
        else:
            cloud.append(upn)
        users.append(user)
    for i in range(n_groups):
        address = "group%05d@%s" % (i, domain)
        groups.append({"id": det_guid(seed, tenant_id, "group", i),
                       "displayName": "Group %05d" % i, "mail": address,
                       "mailEnabled": True, "securityEnabled": False,
                       "mailNickname": "group%05d" % i, "proxyAddresses": ["SMTP:" + address]})
    for i in range(n_contacts):
        address = "contact%05d@partner.example" % i
        contacts.append({"id": det_guid(seed, tenant_id, "contact", i),
                         "displayName": "Contact %05d" % i, "mail": address,
                         "proxyAddresses": ["SMTP:" + address]})
    pool_cloud = cloud or synced
    pool_synced = synced or cloud
    for j in range(n_conflicts):
        anchor = guid_to_immutable_id(det_guid(seed, tenant_id, "conflict", j))
        sam = "dup%05d" % j
        # Even: a synced user whose UPN a cloud-only user already holds (placeholder UPN).
        # Odd: a synced user whose secondary address another user holds (quarantine).
        if j % 2 == 0:
            victim = rng.choice(pool_cloud)
            exports.append({"objectType": "user", "sourceAnchor": anchor,
                            "userPrincipalName": victim, "displayName": "Duplicate %05d" % j,
                            "onPremisesSamAccountName": sam,
                            "onPremisesDistinguishedName": "CN=Duplicate %05d,OU=Users,DC=corp" % j,
                            "proxyAddresses": []})
        else:
            victim = rng.choice(pool_synced)
            exports.append({"objectType": "user", "sourceAnchor": anchor,
                            "userPrincipalName": "%s@%s" % (sam, domain),
                            "displayName": "Duplicate %05d" % j,
                            "onPremisesSamAccountName": sam,
                            "proxyAddresses": ["SMTP:%s@%s" % (sam, domain),
                                               "smtp:" + victim]})
    # A handful of group and contact conflicts, so every collection has some.
    for k in range(min(n_groups, max(1, n_conflicts // 100)) if n_conflicts else 0):
        exports.append({"objectType": "group",
                        "sourceAnchor": guid_to_immutable_id(det_guid(seed, tenant_id, "gdup", k)),
                        "displayName": "Duplicate group %d" % k,
                        "proxyAddresses": ["SMTP:" + rng.choice(pool_synced)]})
    for k in range(min(n_contacts, max(1, n_conflicts // 100)) if n_conflicts else 0):
        exports.append({"objectType": "contact",
                        "sourceAnchor": guid_to_immutable_id(det_guid(seed, tenant_id, "cdup", k)),
                        "displayName": "Duplicate contact %d" % k,
                        "proxyAddresses": ["SMTP:" + rng.choice(pool_synced)]})
    return {"objects": {USERS: users, GROUPS: groups, CONTACTS: contacts}, "exports": exports}


def parse_clock(scenario):
    clock = scenario.get("clock") or {}
    return parse_iso(clock["start"]) if clock.get("start") else None
