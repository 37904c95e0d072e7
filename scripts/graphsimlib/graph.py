"""Microsoft Graph v1.0 for directory collections: list, get, $count, delta, $batch and
PATCH /users/{id}.  Sources are cited next to each behaviour (Microsoft pages, or sections
of docs/graph-facts.md that give them)."""

import bisect
import json
import re
import urllib.parse

from . import odata
from .directory import (COLLECTIONS, DEFAULT_SELECT, GROUPS, ODATA_TYPE, USERS,
                        DirectoryError)
from .odata import QueryError
from .throttle import retry_after_value
from .util import det_guid, rand_guid

JSON_TYPE = ("application/json;odata.metadata=minimal;odata.streaming=true;"
             "IEEE754Compatible=false;charset=utf-8")
KNOWN_LIST_OPTIONS = {"$select", "$filter", "$top", "$count", "$skiptoken"}
KNOWN_DELTA_OPTIONS = {"$select", "$deltatoken", "$skiptoken"}
# Writable user properties the simulator accepts on PATCH
# (https://learn.microsoft.com/graph/api/user-update).
PATCHABLE = {"onPremisesImmutableId", "displayName", "givenName", "surname", "jobTitle",
             "mobilePhone", "officeLocation", "preferredLanguage", "businessPhones"}
SYNCED_MESSAGE = ("Unable to update the specified properties for on-premises mastered "
                  "Directory Sync objects or objects currently undergoing migration.")


class Request:
    def __init__(self, method, path, query, headers, body, base, tenant, issued):
        self.method = method
        self.path = path                  # below /v1.0, e.g. "/users/abc"
        self.query = query                # {name: value}, decoded, last one wins
        self.headers = headers            # lower-case names
        self.body = body
        self.base = base
        self.tenant = tenant
        self.issued = issued
        self.request_id = rand_guid()
        self.client_request_id = headers.get("client-request-id") or self.request_id
        self.url_length = 0               # of the absolute URL as sent; 0 if unknown

    def header(self, name):
        return self.headers.get(name.lower())


class Response:
    def __init__(self, status, body=None, headers=None, content_type=JSON_TYPE):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.content_type = content_type


def error(req, status, code, message, headers=None, inner=None):
    """{"error": {"code", "message", "innerError": {"date" (no timezone), "request-id",
    "client-request-id"}}} (https://learn.microsoft.com/graph/errors)."""
    inner_error = {"date": req.tenant.now().strftime("%Y-%m-%dT%H:%M:%S") if req.tenant
                   else None, "request-id": req.request_id,
                   "client-request-id": req.client_request_id}
    inner_error.update(inner or {})
    return Response(status, {"error": {"code": code, "message": message,
                                       "innerError": inner_error}}, headers)


def injected_error(req, kind, retry_after):
    """The Graph error answer of an injected status fault (faults.STATUS_KINDS)."""
    status = int(kind)
    headers = {}
    code, message = {
        403: ("Authorization_RequestDenied", "Insufficient privileges to complete the "
                                             "operation."),
        429: ("TooManyRequests", "Too many requests."),
        500: ("InternalServerError", "An internal server error occurred."),
        502: ("BadGateway", "Bad gateway."),
        503: ("serviceNotAvailable", "The service is temporarily unavailable."),
        504: ("GatewayTimeout", "The gateway timed out."),
    }[status]
    if status in (429, 503):
        # A 429 carries Retry-After; a 503 may
        # (https://learn.microsoft.com/graph/throttling, https://learn.microsoft.com/graph/errors).
        # retryAfter "none" leaves the header out, as a service may.
        if retry_after == "none":
            pass
        elif retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        elif status == 429:
            headers["Retry-After"] = "1"
    if status == 429:
        headers["x-ms-throttle-scope"] = "Tenant_Application/ReadWrite/injected/injected"
        headers["x-ms-throttle-information"] = "ResourceUnitLimitExceeded"
    inner = {"code": code, "message": message, "status": status} if status == 429 else None
    return error(req, status, code, message, headers, inner)


def _query_error(req, exc):
    return error(req, exc.status, exc.code, exc.message)


def handle(sim, req, in_batch=False):
    """Route one Graph request (the caller has authenticated it)."""
    parts = [urllib.parse.unquote(p) for p in req.path.strip("/").split("/") if p]
    if parts == ["$batch"]:
        if in_batch:
            return error(req, 400, "BadRequest", "Nested batch requests are not supported.")
        if req.method != "POST":
            return error(req, 405, "Request_BadRequest", "Only POST is supported on $batch.")
        return _batch(sim, req)
    if parts and parts[0] in ("directory", "roleManagement", "domains"):
        return _tenant_resource(sim, req, parts, in_batch)
    if len(parts) == 3 and parts[0] == USERS and parts[2] in ("memberOf",
                                                              "transitiveMemberOf"):
        return _tenant_resource(sim, req, parts, in_batch)
    if not parts or parts[0] not in COLLECTIONS:
        return error(req, 400, "Request_BadRequest", "Resource not found for the segment '%s'."
                     % (parts[0] if parts else ""))
    kind = parts[0]
    resource = kind if len(parts) == 1 else kind + "/item"
    ok, headers, wait, limit = sim.throttle.charge(req.tenant, req.issued.app_id, req.method,
                                                   kind if len(parts) == 1 else resource,
                                                   req.query, in_batch)
    if not ok:
        response = _throttled(req, wait, limit)
        if req.method != "GET":
            sim.log_write({"tenant": req.tenant.id, "appId": req.issued.app_id,
                           "method": req.method, "path": "/v1.0" + req.path,
                           "body": _json_or_text(req.body), "status": 429, "applied": False,
                           "request-id": req.request_id,
                           "client-request-id": req.client_request_id})
        return response
    if req.method != "GET":
        response = _write(sim, req, kind, parts)
    else:
        response = _read(sim, req, kind, parts)
    if response.status < 400 or response.status == 404:
        # Normal responses carry x-ms-resource-unit
        # (https://learn.microsoft.com/graph/throttling-limits).
        for name, value in headers.items():
            response.headers.setdefault(name, value)
    return response


def _throttled(req, wait, limit):
    """429 with Retry-After, x-ms-throttle-scope (<Scope>/<Limit>/<ApplicationId>/<TenantId>)
    and x-ms-throttle-information (https://learn.microsoft.com/graph/throttling-limits); the
    inner error adds code, message and status (docs/graph-facts.md#error-responses)."""
    settings = req.tenant.settings
    # https://learn.microsoft.com/graph/throttling-limits: the Limit part of x-ms-throttle-scope
    # is Read, Write or ReadWrite; the resource-unit quota counts reads and writes.
    scope_limit = "Write" if limit == "WriteLimitExceeded" else "ReadWrite"
    headers = {"x-ms-throttle-scope": "Tenant_Application/%s/%s/%s"
                                      % (scope_limit, req.issued.app_id, req.tenant.id),
               "x-ms-throttle-information": limit}
    if settings["throttleRetryAfterHeader"]:
        headers["Retry-After"] = retry_after_value(wait, settings["retryAfterFormat"])
    message = "Too many requests. Retry after %s seconds." % headers.get(
        "Retry-After", retry_after_value(wait, "integer"))
    return error(req, 429, "TooManyRequests", message, headers,
                 inner={"code": "TooManyRequests", "message": message, "status": 429})


# ----- reads ----------------------------------------------------------------------------
def _read(sim, req, kind, parts):
    try:
        if len(parts) == 1:
            return _list(sim, req, kind)
        if len(parts) == 2 and parts[1] in ("delta", "delta()"):
            return _delta(sim, req, kind)
        if len(parts) == 2 and parts[1] == "$count":
            return _count(sim, req, kind)
        if len(parts) == 2:
            return _get(sim, req, kind, parts[1])
    except QueryError as exc:
        return _query_error(req, exc)
    return error(req, 400, "Request_BadRequest", "Unsupported segment '%s'." % "/".join(parts[1:]))


def _advanced(req):
    """Advanced queries need ConsistencyLevel: eventual and, except for $search,
    $count=true (https://learn.microsoft.com/graph/aad-advanced-queries)."""
    count = req.query.get("$count", "").lower() == "true"
    return (req.header("ConsistencyLevel") or "").lower() == "eventual" and count


def _check_options(req, known):
    for name in req.query:
        lname = name.lower()
        if lname == "$skip":
            # $skip is not supported (https://learn.microsoft.com/graph/api/user-list).
            raise QueryError(400, "Request_BadRequest", "'$skip' is not supported by the service.")
        if lname.startswith("$") and lname not in known:
            raise QueryError(400, "Request_UnsupportedQuery", "The query parameter '%s' is not "
                             "supported with this request." % name)


def _context(req, kind, select, suffix=""):
    if "$select" not in {k.lower() for k in req.query} and not suffix == "/delta":
        return "%s/v1.0/$metadata#%s%s" % (req.base, kind, suffix)
    return "%s/v1.0/$metadata#%s(%s)%s" % (req.base, kind, ",".join(select), suffix)


def _next_link(req, kind, extra, token, path_suffix=""):
    params = [(k, v) for k, v in req.query.items()
              if k.lower() not in ("$skiptoken", "$deltatoken")]
    params.append((extra, token))
    query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote, safe="$,()':@/")
    return "%s/v1.0/%s%s?%s" % (req.base, kind, path_suffix, query)


def _list(sim, req, kind):
    tenant = req.tenant
    _check_options(req, KNOWN_LIST_OPTIONS)
    select = odata.parse_select(req.query.get("$select"), kind, DEFAULT_SELECT[kind])
    top = odata.parse_top(req.query.get("$top")) or 100
    flt = None
    if req.query.get("$filter"):
        flt = odata.Filter(req.query["$filter"], kind, tenant)
        flt.check_limits(_advanced(req), req.url_length)
        if flt.needs_advanced and not _advanced(req):
            op = flt.needs_advanced[0]
            # An operator that needs advanced queries, sent without them, gets
            # Request_UnsupportedQuery (https://learn.microsoft.com/graph/aad-advanced-queries).
            raise QueryError(400, "Request_UnsupportedQuery", "Operator '%s' is not supported "
                             "because the required parameters might be missing. %s"
                             % (op, odata.ADVANCED_HINT))
    fingerprint = odata.query_fingerprint(req.query)
    after = 0
    first_page = True
    if "$skiptoken" in req.query:
        state = sim.codec.decode(req.query["$skiptoken"])
        if not state or state.get("k") != "list" or state.get("t") != tenant.id \
                or state.get("c") != kind:
            raise QueryError(400, "Request_BadRequest", "The specified page token value is "
                             "invalid.")
        if state.get("f") != fingerprint:
            # A $skiptoken is not to be used in another request
            # (https://learn.microsoft.com/graph/paging).
            raise QueryError(400, "Request_BadRequest", "The page token does not belong to "
                             "this query.")
        after, first_page = state["s"], False
    seqs = flt.candidates() if flt is not None else None
    if seqs is None:
        seqs = tenant.order[kind]
    elif tenant.lag:
        # settings.py "eventualConsistencyReads": "$filter results lag writes", so an
        # object may still match as it was before its last write.
        seqs = sorted(set(seqs) | set(tenant.lagging_seqs(kind)))
    start = bisect.bisect_right(seqs, after)
    page, last = [], after
    i = start
    while i < len(seqs) and len(page) < top:
        obj = tenant.by_seq.get(seqs[i])
        last = seqs[i]
        i += 1
        if obj is None or obj.deleted or obj.kind != kind:
            continue
        if obj.id in tenant.lag:
            obj = tenant.read_view(obj)
            if obj is None:
                continue
        if flt is None or flt.matches(obj):
            page.append(tenant.render(obj, select))
    body = {"@odata.context": _context(req, kind, select)}
    if first_page and _advanced(req):
        # @odata.count is in the first page only (https://learn.microsoft.com/graph/paging);
        # without ConsistencyLevel $count=true is ignored
        # (https://learn.microsoft.com/graph/aad-advanced-queries).
        if flt is None:
            total = len(tenant.order[kind])
        else:
            cands = flt.candidates()
            pool = cands if cands is not None else tenant.order[kind]
            total = sum(1 for s in pool if tenant.by_seq.get(s) is not None
                        and not tenant.by_seq[s].deleted and flt.matches(tenant.by_seq[s]))
        body["@odata.count"] = total
    body["value"] = page
    if i < len(seqs):
        # Clients follow @odata.nextLink until a page has none; a page may be empty
        # (https://learn.microsoft.com/graph/paging).
        token = sim.codec.encode({"k": "list", "t": tenant.id, "c": kind, "f": fingerprint,
                                  "s": last})
        body["@odata.nextLink"] = _next_link(req, kind, "$skiptoken", token)
    return Response(200, body)


def _count(sim, req, kind):
    # /$count as a path segment is an error without ConsistencyLevel
    # (https://learn.microsoft.com/graph/aad-advanced-queries).
    if (req.header("ConsistencyLevel") or "").lower() != "eventual":
        raise QueryError(400, "Request_BadRequest", "$count is not currently supported.")
    flt = odata.Filter(req.query["$filter"], kind, req.tenant) if req.query.get("$filter") else None
    n = sum(1 for s in req.tenant.order[kind]
            if flt is None or flt.matches(req.tenant.by_seq[s]))
    return Response(200, str(n).encode(), content_type="text/plain;charset=utf-8")


def _not_found(req, key):
    return error(req, 404, "Request_ResourceNotFound", "Resource '%s' does not exist or one of "
                 "its queried reference-property objects are not present." % key)


def _get(sim, req, kind, key):
    _check_options(req, {"$select"})
    select = odata.parse_select(req.query.get("$select"), kind, DEFAULT_SELECT[kind])
    obj = req.tenant.find(key, kind)
    if obj is not None and obj.id in req.tenant.lag:
        # settings.py "eventualConsistencyReads": a just-created object can answer 404
        # Request_ResourceNotFound, a just-written one its old values.
        obj = req.tenant.read_view(obj)
    if obj is None or obj.deleted:
        return _not_found(req, key)
    body = {"@odata.context": _context(req, kind, select, "/$entity")}
    body.update(req.tenant.render(obj, select))
    return Response(200, body)


# ----- delta ----------------------------------------------------------------------------
def _delta_expired(sim, req, kind, select):
    """An expired token gets a 4xx error such as syncStateNotFound, or 410 Gone with a
    Location header (an empty $deltatoken): the client starts over with a full round
    (https://learn.microsoft.com/graph/delta-query-overview)."""
    status = req.tenant.settings["deltaExpiredStatus"]
    params = urllib.parse.urlencode([("$deltatoken", ""), ("$select", ",".join(select))],
                                    quote_via=urllib.parse.quote, safe="$,")
    location = "%s/v1.0/%s/delta?%s" % (req.base, kind, params)
    return error(req, status, "syncStateNotFound", "The sync state token is not valid or has "
                 "expired. Start a full synchronization.", {"Location": location})


def _delta(sim, req, kind):
    """Delta query (https://learn.microsoft.com/graph/delta-query-overview,
    docs/graph-facts.md#delta-query)."""
    tenant = req.tenant
    _check_options(req, KNOWN_DELTA_OPTIONS)
    page_size = tenant.settings["deltaPageSize"]
    prefer = (req.header("Prefer") or "").lower()
    minimal = "return=minimal" in prefer
    for part in prefer.split(","):
        part = part.strip()
        if part.startswith("odata.maxpagesize="):
            try:
                page_size = max(1, min(tenant.settings["deltaMaxPageSize"],
                                       int(part.split("=", 1)[1])))
            except ValueError:
                pass
    now = tenant.now().timestamp()
    lifetime = tenant.settings["deltaTokenLifetimeSeconds"]
    token = req.query.get("$skiptoken") or req.query.get("$deltatoken")
    if token and token != "latest":
        state = sim.codec.decode(token)
        if not state or state.get("k") != "delta" or state.get("t") != tenant.id \
                or state.get("c") != kind:
            return _delta_expired(sim, req, kind, DEFAULT_SELECT[kind])
        select = state["sel"]
        if state["ep"] != tenant.delta_epoch or now - state["ts"] > lifetime:
            return _delta_expired(sim, req, kind, select)
    else:
        # "If you use any query parameter (other than $deltatoken and $skiptoken), you
        # must specify it in the initial delta request"; they are encoded into the tokens.
        select = odata.parse_select(req.query.get("$select"), kind, DEFAULT_SELECT[kind])
        state = None
    base_state = {"k": "delta", "t": tenant.id, "c": kind, "sel": select,
                  "ep": tenant.delta_epoch}
    body = {"@odata.context": _context(req, kind, select, "/delta")}

    def link(name, st):
        st = dict(base_state, **st)
        st.setdefault("ts", now)
        value = sim.codec.encode(st)
        return "%s/v1.0/%s/delta?%s=%s" % (req.base, kind, name, urllib.parse.quote(value, safe=""))

    if token == "latest":
        # "Append $deltaToken=latest ... the response will contain a @odata.deltaLink and
        # no resource data."
        body["value"] = []
        body["@odata.deltaLink"] = link("$deltatoken", {"ph": "delta", "v": tenant.ver})
        return Response(200, body)

    value = []
    if state is None or state.get("ph") == "init":
        # Round 1: every live object, paged; the deltaLink remembers the version the round
        # started at, so changes made while paging are replayed next time ("Replays are
        # possible").
        snapshot = state["v"] if state else tenant.ver
        after = state["s"] if state else 0
        seqs = tenant.order[kind]
        i = bisect.bisect_right(seqs, after)
        last = after
        while i < len(seqs) and len(value) < page_size:
            obj = tenant.by_seq[seqs[i]]
            last = seqs[i]
            i += 1
            value.append(tenant.render(obj, select))
        body["value"] = value
        if i < len(seqs):
            body["@odata.nextLink"] = link("$skiptoken", {"ph": "init", "v": snapshot, "s": last,
                                                          "ts": state["ts"] if state else now})
        else:
            body["@odata.deltaLink"] = link("$deltatoken", {"ph": "delta", "v": snapshot})
        return Response(200, body)

    if state["ph"] == "delta":
        since, upto, offset = state["v"], tenant.ver, 0
    else:
        since, upto, offset = state["since"], state["upto"], state["off"]
    ids = tenant.changes_since(kind, since, upto)
    tracked = set(select)
    if not tenant.settings["deltaTracksProvisioningErrors"]:
        # Switch: docs/graph-facts.md#does-delta-track-provisioning-errors.
        tracked.discard("onPremisesProvisioningErrors")
    i = offset
    while i < len(ids) and len(value) < page_size:
        oid = ids[i]
        i += 1
        obj = tenant.objects.get(oid)
        if obj is None or obj.deleted:
            # "Removed objects come as id plus "@removed": {"reason": "changed"|"deleted"}.
            # changed means soft-deleted and restorable; deleted means gone for good."
            value.append({"id": oid, "@removed": {"reason": "changed" if obj else "deleted"}})
            continue
        created = obj.prop_ver.get("id", 0) > since
        changed = [p for p in select if obj.prop_ver.get(p, 0) > since and p in tracked]
        if not created and not changed:
            # "If a change occurs to a property that is not selected, the resource ... does
            # not appear in the delta response."
            continue
        if minimal and not created:
            # "Prefer: return=minimal on deltaLink requests returns only the properties
            # that changed."
            item = {"id": obj.id}
            item.update(tenant.render(obj, changed))
        else:
            item = tenant.render(obj, select)
        value.append(item)
    body["value"] = value
    if i < len(ids):
        body["@odata.nextLink"] = link("$skiptoken", {"ph": "inc", "since": since, "upto": upto,
                                                      "off": i, "ts": state["ts"]})
    else:
        body["@odata.deltaLink"] = link("$deltatoken", {"ph": "delta", "v": upto})
    return Response(200, body)


# ----- directory, roleManagement, memberships ------------------------------------------
# Directory role template ids (https://learn.microsoft.com/entra/identity/role-based-access-control/
# permissions-reference: "Global Administrator ... 62e90394-69f5-4237-9190-012177145e10").
ROLE_TEMPLATE_IDS = {
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "User Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1",
    "Privileged Role Administrator": "e8611ab8-c189-46e8-94e1-60213ab1f814",
    "Exchange Administrator": "29232cdf-9323-42fd-ade2-1d097af3e4de",
    "Helpdesk Administrator": "729827e3-9c14-49f7-bb1b-9608f156bbb8",
}
# rbacapplication-list-roleassignments, Permissions, Application: "RoleManagement.Read.Directory,
# RoleManagement.Read.All, Directory.Read.All, RoleManagement.ReadWrite.Directory,
# Directory.ReadWrite.All".
ROLE_READ_ROLES = {"RoleManagement.Read.Directory", "RoleManagement.Read.All",
                   "Directory.Read.All", "RoleManagement.ReadWrite.Directory",
                   "Directory.ReadWrite.All"}
# domain-get (https://learn.microsoft.com/graph/api/domain-get), Permissions, Application:
# "Domain.Read.All" (least privileged), "Directory.Read.All", "Domain.ReadWrite.All",
# "Directory.ReadWrite.All".
DOMAIN_READ_ROLES = {"Domain.Read.All", "Directory.Read.All", "Domain.ReadWrite.All",
                     "Directory.ReadWrite.All"}
PRINCIPAL_FILTER = re.compile(r"^\s*principalId\s+eq\s+'([^']*)'\s*$", re.I)


# directory-deleteditems-list (https://learn.microsoft.com/graph/api/directory-deleteditems-list):
# "GET /directory/deletedItems/microsoft.graph.user", ".group"; the OData cast is a
# required part of the URI.  Deleted items "remain available to restore for up to 30
# days" (https://learn.microsoft.com/graph/api/resources/directory) and, while there, still
# hold their UPN and proxy addresses for uniqueness (setting softDeletedObjectsHoldValues).
DELETED_CASTS = {"microsoft.graph.user": USERS, "microsoft.graph.group": GROUPS}


def _deleted_list(sim, req, kind):
    tenant = req.tenant
    try:
        _check_options(req, {"$select", "$filter", "$top", "$count"})
        select = odata.parse_select(req.query.get("$select"), kind,
                                    DEFAULT_SELECT[kind] + ["deletedDateTime"])
        flt = odata.Filter(req.query["$filter"], kind, tenant) \
            if req.query.get("$filter") else None
        if flt is not None:
            flt.check_limits(_advanced(req), req.url_length)
        if flt is not None and flt.needs_advanced and not _advanced(req):
            raise QueryError(400, "Request_UnsupportedQuery", "Operator '%s' is not supported "
                             "because the required parameters might be missing. %s"
                             % (flt.needs_advanced[0], odata.ADVANCED_HINT))
    except QueryError as exc:
        return _query_error(req, exc)
    value = []
    for obj in sorted(tenant.objects.values(), key=lambda o: o.seq):
        if obj.kind == kind and obj.deleted and (flt is None or flt.matches(obj)):
            item = {"@odata.type": ODATA_TYPE[kind]}
            item.update(tenant.render(obj, select))
            value.append(item)
    return Response(200, {"@odata.context": "%s/v1.0/$metadata#directoryObjects/%s"
                          % (req.base, ODATA_TYPE[kind][1:]), "value": value})


def _domains(req, name):
    """GET /domains and /domains/{id}.  The domain resource
    (https://learn.microsoft.com/graph/api/resources/domain): authenticationType "Indicates
    the configured authentication type for the domain. The value is either Managed or
    Federated."  The tenant's federatedDomains setting names the federated ones."""
    if not set(req.issued.roles) & DOMAIN_READ_ROLES:
        return _denied(req)
    tenant = req.tenant
    federated = {d.lower() for d in tenant.settings["federatedDomains"]}

    def item(domain):
        return {"id": domain, "authenticationType":
                "Federated" if domain in federated else "Managed",
                "isDefault": domain == (tenant.domains or [tenant.initial_domain_name])[0],
                "isInitial": domain == tenant.initial_domain_name.lower(),
                "isVerified": True}
    if name is None:
        return Response(200, {"@odata.context": "%s/v1.0/$metadata#domains" % req.base,
                              "value": [item(d) for d in tenant.all_domains()]})
    if name.lower() not in tenant.all_domains():
        return _not_found(req, name)
    body = {"@odata.context": "%s/v1.0/$metadata#domains/$entity" % req.base}
    body.update(item(name.lower()))
    return Response(200, body)


def _denied(req):
    return error(req, 403, "Authorization_RequestDenied", "Insufficient privileges to complete "
                 "the operation.")


def _tenant_resource(sim, req, parts, in_batch=False):
    """GET /directory/onPremisesSynchronization[/{id}], /directory/deletedItems/{id},
    /roleManagement/directory/roleAssignments?$filter=principalId eq '...',
    /users/{id}/memberOf and /users/{id}/transitiveMemberOf."""
    ok, headers, wait, limit = sim.throttle.charge(req.tenant, req.issued.app_id, req.method,
                                                   parts[0] + "/item", req.query, in_batch)
    if not ok:
        return _throttled(req, wait, limit)
    if req.method != "GET":
        response = error(req, 405, "Request_BadRequest", "The simulator supports only GET on "
                         "this resource.")
        sim.log_write({"tenant": req.tenant.id, "appId": req.issued.app_id,
                       "method": req.method, "path": "/v1.0" + req.path,
                       "body": _json_or_text(req.body), "status": 405, "applied": False,
                       "request-id": req.request_id,
                       "client-request-id": req.client_request_id})
        return response
    tenant = req.tenant
    if parts[:2] == ["directory", "onPremisesSynchronization"] and len(parts) <= 3:
        # onpremisesdirectorysynchronization-get, Permissions: "Application | Not supported."
        # The switch lets a test play a tenant where an app can read it.
        if not tenant.settings["onPremisesSynchronizationReadableByApps"]:
            return _denied(req)
        item = {"id": tenant.id,
                "configuration": {"accidentalDeletionPrevention": {
                    "synchronizationPreventionType": "enabledForCount", "alertThreshold": 500}},
                # onpremisesdirectorysynchronizationfeature: "blockCloudObjectTakeoverThrough
                # HardMatchEnabled | Boolean | Used to block cloud object takeover via source
                # anchor hard match if enabled."
                "features": {"blockCloudObjectTakeoverThroughHardMatchEnabled":
                             tenant.settings["blockCloudObjectTakeoverThroughHardMatchEnabled"],
                             "blockSoftMatchEnabled": tenant.settings["blockSoftMatchEnabled"],
                             "quarantineUponUpnConflictEnabled": True,
                             "quarantineUponProxyAddressesConflictEnabled": True}}
        if len(parts) == 3:
            if parts[2] != tenant.id:
                return _not_found(req, parts[2])
            item["@odata.context"] = ("%s/v1.0/$metadata#directory/onPremisesSynchronization/"
                                      "$entity" % req.base)
            return Response(200, item)
        return Response(200, {"@odata.context": "%s/v1.0/$metadata#directory/"
                              "onPremisesSynchronization" % req.base, "value": [item]})
    if parts[:2] == ["directory", "deletedItems"] and len(parts) == 3 \
            and parts[2] in DELETED_CASTS:
        return _deleted_list(sim, req, DELETED_CASTS[parts[2]])
    if parts[:2] == ["directory", "deletedItems"] and len(parts) == 3:
        # directory-get-deleteditem: "Retrieve the properties of a recently deleted ... user
        # object from deleted items"; 404 when it is not there.
        obj = tenant.get(parts[2])
        if obj is None or not obj.deleted:
            return _not_found(req, parts[2])
        body = {"@odata.context": "%s/v1.0/$metadata#directoryObjects/$entity" % req.base,
                "@odata.type": ODATA_TYPE[obj.kind]}
        body.update(tenant.render(obj, DEFAULT_SELECT[obj.kind] + ["deletedDateTime"]))
        return Response(200, body)
    if parts[0] == "domains" and len(parts) <= 2:
        return _domains(req, parts[1] if len(parts) == 2 else None)
    if parts == ["roleManagement", "directory", "roleAssignments"]:
        if not set(req.issued.roles) & ROLE_READ_ROLES:
            return _denied(req)
        match = PRINCIPAL_FILTER.match(req.query.get("$filter", ""))
        if not match:
            return error(req, 400, "Request_UnsupportedQuery", "The simulator supports only "
                         "$filter=principalId eq '{id}' on roleAssignments.")
        obj = tenant.get(match.group(1))
        value = []
        for name in (obj.admin_roles if obj is not None and not obj.deleted else ()):
            template = ROLE_TEMPLATE_IDS.get(name, det_guid("role", name))
            value.append({"id": det_guid(obj.id, template), "principalId": obj.id,
                          "roleDefinitionId": template, "directoryScopeId": "/"})
        return Response(200, {"@odata.context": "%s/v1.0/$metadata#roleManagement/directory/"
                              "roleAssignments" % req.base, "value": value})
    if len(parts) == 3 and parts[0] == USERS:
        # user-list-memberof / user-list-transitivememberof: the groups (and roles) a user
        # belongs to; the simulator keeps direct group memberships in _sim.memberOf.
        obj = tenant.find(parts[1], USERS)
        if obj is None or obj.deleted:
            return _not_found(req, parts[1])
        value = []
        for gid in obj.member_of:
            group = tenant.get(gid)
            if group is not None and not group.deleted and group.kind == GROUPS:
                item = {"@odata.type": ODATA_TYPE[GROUPS]}
                item.update(tenant.render(group, ["id", "displayName"]))
                value.append(item)
        return Response(200, {"@odata.context": "%s/v1.0/$metadata#directoryObjects"
                              % req.base, "value": value})
    return error(req, 400, "Request_BadRequest", "Resource not found for the segment '%s'."
                 % "/".join(parts))


# ----- writes ---------------------------------------------------------------------------
def _write(sim, req, kind, parts):
    response = _do_write(sim, req, kind, parts)
    sim.log_write({"tenant": req.tenant.id, "appId": req.issued.app_id, "method": req.method,
                   "path": "/v1.0" + req.path, "body": _json_or_text(req.body),
                   "status": response.status, "applied": response.status < 300,
                   "request-id": req.request_id, "client-request-id": req.client_request_id})
    return response


def _json_or_text(body):
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body.decode("utf-8", "replace")


def _do_write(sim, req, kind, parts):
    if req.method != "PATCH" or kind != USERS or len(parts) != 2:
        return error(req, 405, "Request_BadRequest", "The simulator supports only PATCH "
                     "/users/{id} for writes.")
    # An app-only token needs a write-capable role
    # (docs/graph-facts.md#permission-to-write-onpremisesimmutableid).
    if not set(req.issued.roles) & set(req.tenant.settings["writeRoles"]):
        return error(req, 403, "Authorization_RequestDenied", "Insufficient privileges to "
                     "complete the operation.")
    obj = req.tenant.find(parts[1], USERS)
    if obj is None or obj.deleted:
        return _not_found(req, parts[1])
    ctype = (req.header("Content-Type") or "").split(";")[0].strip().lower()
    try:
        changes = json.loads(req.body or b"")
    except ValueError:
        changes = None
    if ctype != "application/json" or not isinstance(changes, dict) or not changes:
        return error(req, 400, "BadRequest", "Empty Payload. JSON content expected.")
    for name in changes:
        canonical = {p.lower(): p for p in PATCHABLE}.get(name.lower())
        if canonical is None:
            return error(req, 400, "Request_BadRequest", "Property '%s' is read-only and cannot "
                         "be set." % name)
    if obj.synced:
        # A synced user cannot be changed in the cloud: 400 Request_BadRequest
        # (docs/graph-facts.md#writing-onpremisesimmutableid).
        return error(req, 400, "Request_BadRequest", SYNCED_MESSAGE)
    if "onPremisesImmutableId" in {n for n in changes}:
        value = changes["onPremisesImmutableId"]
        if not isinstance(value, str) or not value:
            # null has been refused with 400 since 2024
            # (https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/2819).
            return error(req, 400, "Request_BadRequest", "Invalid value specified for property "
                         "'onPremisesImmutableId' of resource 'User'.")
        if "$" in value or "_" in value:
            # $ and _ may not be used (https://learn.microsoft.com/graph/api/resources/user).
            return error(req, 400, "Request_BadRequest", "Invalid value specified for property "
                         "'onPremisesImmutableId' of resource 'User'.")
        domain = (obj.props.get("userPrincipalName") or "").rpartition("@")[2].lower()
        if domain in {d.lower() for d in req.tenant.settings["federatedDomains"]}:
            # settings.py "federatedDomains": the value cannot be set for a user whose
            # UPN is in a federated domain.  The exact error text is not documented.
            return error(req, 400, "Request_BadRequest", "Property 'onPremisesImmutableId' "
                         "cannot be set for a user whose userPrincipalName is in the "
                         "federated domain '%s'." % domain)
        others = [o for o in req.tenant.idx_immutable.get(value, ()) if o != obj.id]
        others += [o for o in [req.tenant.idx_anchor.get(value)] if o and o != obj.id]
        if others:
            # No two objects may have one immutableId
            # (https://learn.microsoft.com/entra/identity/hybrid/connect/tshoot-connect-sync-errors).
            return error(req, 400, "Request_BadRequest", "Another object with the same value "
                         "for property onPremisesImmutableId already exists.")
    try:
        req.tenant.note_write(obj, created=False)
        req.tenant.update(obj, {n: v for n, v in changes.items()})
    except DirectoryError as exc:
        return error(req, 400, "Request_BadRequest", str(exc))
    # Success is 204 No Content (https://learn.microsoft.com/graph/api/user-update).
    return Response(204, None)


# ----- $batch ---------------------------------------------------------------------------
def _batch(sim, req):
    """JSON batching (https://learn.microsoft.com/graph/json-batching)."""
    try:
        payload = json.loads(req.body or b"")
        requests = payload["requests"]
        if not isinstance(requests, list) or not requests:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        # "If the batch request itself is malformed, the status code is 400."
        return error(req, 400, "BadRequest", "Invalid batch payload format.")
    if len(requests) > 20:
        # "JSON batch requests are currently limited to 20 individual requests."
        return error(req, 400, "BadRequest", "Batch request exceeds the maximum of 20 individual "
                     "requests.")
    ids = [str(r.get("id")) if isinstance(r, dict) else None for r in requests]
    if None in ids or len(set(ids)) != len(ids) or any(i in ("", "None") for i in ids):
        # "id must be unique in the batch, otherwise, the batch request fails with a 400".
        return error(req, 400, "BadRequest", "Batch request contains missing or duplicate "
                     "request ids.")
    depends = req.tenant.settings["batchDependsOn"]
    status_of = {}
    responses = []
    for item, rid in zip(requests, ids):
        deps = item.get("dependsOn") if depends else None
        if deps is not None and (not isinstance(deps, list) or any(
                str(d) not in status_of for d in deps)):
            # "dependsOn" names earlier requests of the same batch.
            return error(req, 400, "BadRequest", "Request %s depends on a request that is "
                         "not earlier in the batch." % rid)
        if deps and any(status_of[str(d)] >= 400 for d in deps):
            # https://learn.microsoft.com/graph/json-batching: a request whose dependency failed
            # answers 424 (Failed Dependency) and is not run.
            entry = {"id": rid, "status": 424,
                     "headers": {"Content-Type": JSON_TYPE},
                     "body": error(req, 424, "FailedDependency", "Failed dependency.").body}
            sim.log_request({"method": str(item.get("method", "")).upper(),
                             "path": str(item.get("url", "")), "batchId": rid,
                             "status": 424, "tenant": req.tenant.id,
                             "appId": req.issued.app_id, "hasAuthorization": True})
        else:
            entry = _batch_one(sim, req, item, rid)
        status_of[rid] = entry["status"]
        responses.append(entry)
    if req.tenant.settings["batchReverseResponses"]:
        responses.reverse()
    # "If the batch request is parseable, the status code is 200".
    return Response(200, {"responses": responses})


def _batch_one(sim, req, item, rid):
    method = str(item.get("method", "")).upper()
    url = str(item.get("url", ""))
    headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
    body = item.get("body")
    fault = None
    # The doc's own example has a url with no leading slash ("users?$select=...").
    split = urllib.parse.urlsplit(url if url.startswith("/") else "/" + url)
    sub = Request(method, split.path, dict(urllib.parse.parse_qsl(split.query,
                                                                  keep_blank_values=True)),
                  headers, json.dumps(body).encode() if body is not None else b"",
                  req.base, req.tenant, req.issued)
    # A batch item's url is relative to the version root.
    sub.url_length = len(req.base) + len("/v1.0") + len(split.path) + 1 + len(split.query)
    if body is not None and "content-type" not in headers:
        # "When a body is sent, headers must contain Content-Type."
        resp = error(sub, 400, "BadRequest", "Content-Type header is required when a body is "
                     "sent.")
    elif method not in ("GET", "PATCH", "POST", "PUT", "DELETE") or not split.path.strip("/"):
        resp = error(sub, 400, "BadRequest", "Invalid method or url in batch request.")
    else:
        fault = sim.faults.take(method, urllib.parse.unquote(url), in_batch=True)
        if fault is not None:
            resp = injected_error(sub, fault.kind, fault.retry_after)
        else:
            resp = handle(sim, sub, in_batch=True)
    out_headers = dict(resp.headers)
    if resp.body is not None:
        out_headers["Content-Type"] = resp.content_type
    entry = {"id": rid, "status": resp.status, "headers": out_headers}
    if resp.body is not None:
        entry["body"] = resp.body if not isinstance(resp.body, bytes) else resp.body.decode()
    sim.log_request({"method": method, "path": "/v1.0" + split.path,
                     "query": sub.query, "batchId": rid, "status": resp.status,
                     "fault": fault.kind if fault is not None else None,
                     "tenant": req.tenant.id, "appId": req.issued.app_id,
                     "headers": {k: headers[k] for k in ("consistencylevel", "prefer")
                                 if k in headers}, "hasAuthorization": True})
    return entry
