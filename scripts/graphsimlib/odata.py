"""OData query options for directory collections: $filter, $select, $top, paging tokens.

Sources: https://learn.microsoft.com/graph/aad-advanced-queries,
https://learn.microsoft.com/graph/filter-query-parameter and
https://learn.microsoft.com/graph/paging; summed up in
docs/graph-facts.md#filtering-on-provisioning-errors,
docs/graph-facts.md#who-holds-a-value and docs/graph-facts.md#paging.
"""

import hashlib
import hmac
import json
import os
import re

from .directory import CANONICAL, ENTITY_NAME, RESOURCE_NAME, USERS, GROUPS, CONTACTS
from .util import b64url, b64url_decode


class QueryError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


ADVANCED_HINT = ("Try adding $count=true query parameter and ConsistencyLevel:eventual header. "
                 "Refer to https://aka.ms/graph-docs/advanced-queries for more information")

DEFAULT, ADVANCED = "default", "advanced"
_STRING = {"eq": DEFAULT, "in": DEFAULT, "startswith": DEFAULT, "ne": ADVANCED,
           "endswith": ADVANCED}
_KEY = {"eq": DEFAULT, "in": DEFAULT, "ne": ADVANCED}
_BOOL = {"eq": DEFAULT, "ne": ADVANCED}
_LAMBDA_ADDR = {"eq": DEFAULT, "startswith": DEFAULT, "endswith": ADVANCED}
# onPremisesProvisioningErrors/any(o:o/category) and .../any(o:o/propertyCausingError)
# are "Default" for eq, null values not supported
# (https://learn.microsoft.com/graph/aad-advanced-queries).
_ERRORS = {"eq": DEFAULT, "ne": ADVANCED}

# What each collection can filter on, and whether it needs advanced-query parameters
# (https://learn.microsoft.com/graph/aad-advanced-queries: for userPrincipalName eq and
# startsWith are Default, endsWith is advanced-only; in works wherever eq does by default;
# https://learn.microsoft.com/graph/api/resources/user: onPremisesImmutableId supports
# eq, ne, not, ge, le, in).  Anything else answers Request_UnsupportedQuery.
CAPABILITIES = {
    USERS: {
        "id": _KEY, "userPrincipalName": _STRING, "mail": _STRING, "displayName": _STRING,
        "onPremisesImmutableId": _KEY, "onPremisesSamAccountName": _STRING,
        "onPremisesSyncEnabled": _BOOL, "accountEnabled": _BOOL,
        "proxyAddresses/any": _LAMBDA_ADDR, "otherMails/any": _LAMBDA_ADDR,
        "onPremisesProvisioningErrors/any/category": _ERRORS,
        "onPremisesProvisioningErrors/any/propertyCausingError": _ERRORS,
    },
    GROUPS: {
        "id": _KEY, "mail": _STRING, "displayName": _STRING, "mailNickname": _STRING,
        "onPremisesSyncEnabled": _BOOL, "mailEnabled": _BOOL, "securityEnabled": _BOOL,
        "onPremisesSamAccountName": _STRING,
        "proxyAddresses/any": _LAMBDA_ADDR,
        "onPremisesProvisioningErrors/any/category": _ERRORS,
        "onPremisesProvisioningErrors/any/propertyCausingError": _ERRORS,
    },
    CONTACTS: {
        "id": _KEY, "mail": _STRING, "displayName": _STRING, "mailNickname": _STRING,
        "onPremisesSyncEnabled": _BOOL,
        "proxyAddresses/any": {"eq": DEFAULT, "startswith": DEFAULT},
        "onPremisesProvisioningErrors/any/category": _ERRORS,
        "onPremisesProvisioningErrors/any/propertyCausingError": _ERRORS,
    },
}
CASE_INSENSITIVE = {"userPrincipalName", "mail", "displayName", "mailNickname",
                    "onPremisesSamAccountName", "otherMails"}

_TOKEN_RE = re.compile(r"""\s*(?:
    (?P<string>'(?:[^']|'')*')
  | (?P<number>-?\d+(?:\.\d+)?(?![\w-]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.@-]*)
  | (?P<punct>[(),:/])
)""", re.VERBOSE)


def _tokenize(text):
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise QueryError(400, "BadRequest",
                             "Invalid filter clause: Syntax error at position %d in '%s'." % (pos, text))
        pos = m.end()
        if m.group("string") is not None:
            out.append(("str", m.group("string")[1:-1].replace("''", "'")))
        elif m.group("number") is not None:
            out.append(("num", m.group("number")))
        elif m.group("ident") is not None:
            out.append(("id", m.group("ident")))
        else:
            out.append(("p", m.group("punct")))
    return out


# Limits of a filter (https://learn.microsoft.com/graph/filter-query-parameter and
# https://learn.microsoft.com/graph/known-issues, query parameters): "When using the in
# operator, the request is limited to 15 expressions in the filter clause by default OR
# a URL length of 2,048 characters when using advanced query capabilities", and "When
# filtering using the eq operator, the maximum limit of the value to match is 120
# characters".  Graph counts the values of an "in" with the operands of "or" (its error
# text: "Too many child clauses specified in search filter expression containing 'OR'
# operators: 16. Max allowed: 15",
# https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/1238) and
# refuses startswith past 120 characters as well, with the generic unsupported-clause
# error (https://github.com/microsoftgraph/microsoft-graph-explorer-v4/issues/2103).
MAX_OR_CLAUSES = 15  # the default of the tenant setting filterMaxOrClauses
MAX_VALUE_CHARS = 120
MAX_URL_CHARS = 2048


class Filter:
    """A parsed $filter for one collection."""

    def __init__(self, text, kind, tenant):
        self.text, self.kind, self.tenant = text, kind, tenant
        self.needs_advanced = []
        self.toks = _tokenize(text)
        self.pos = 0
        self.ast = self._or()
        if self.pos != len(self.toks):
            self._syntax()

    # ----- parsing ------------------------------------------------------------------
    def _syntax(self):
        raise QueryError(400, "BadRequest", "Invalid filter clause: Syntax error at position %d "
                         "in '%s'." % (self.pos, self.text))

    def _peek(self, n=0):
        i = self.pos + n
        return self.toks[i] if i < len(self.toks) else (None, None)

    def _take(self, kind=None, value=None):
        tok = self._peek()
        if tok[0] is None or (kind and tok[0] != kind) or (
                value is not None and str(tok[1]).lower() != value):
            self._syntax()
        self.pos += 1
        return tok

    def _is_word(self, word):
        tok = self._peek()
        return tok[0] == "id" and tok[1].lower() == word

    def _or(self):
        node = self._and()
        while self._is_word("or"):
            self.pos += 1
            node = ("or", node, self._and())
        return node

    def _and(self):
        node = self._unary()
        while self._is_word("and"):
            self.pos += 1
            node = ("and", node, self._unary())
        return node

    def _unary(self):
        if self._is_word("not"):
            self.pos += 1
            # not and ne are advanced-only
            # (https://learn.microsoft.com/graph/aad-advanced-queries).
            self.needs_advanced.append("not")
            return ("not", self._unary())
        if self._peek() == ("p", "("):
            self.pos += 1
            node = self._or()
            self._take("p", ")")
            return node
        return self._comparison()

    def _literal(self):
        kind, value = self._take()
        if kind == "str":
            return value
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind == "id" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if kind == "id" and value.lower() == "null":
            return None
        self.pos -= 1
        self._syntax()

    def _property(self, name):
        canonical = CANONICAL[self.kind].get(name.lower())
        if canonical is None:
            raise QueryError(400, "Request_BadRequest", "Could not find a property named '%s' on "
                             "type 'microsoft.graph.%s'." % (name, ENTITY_NAME[self.kind]))
        return canonical

    def _check(self, key, op, prop_label, value=False):
        caps = CAPABILITIES[self.kind].get(key)
        mode = caps.get(op) if caps else None
        if key.startswith("onPremisesProvisioningErrors/") and \
                self.tenant.settings["provisioningErrorFilter"] == "unsupported":
            mode = None  # tenant switch: docs/graph-facts.md#provisioning-error-filter
        if key.startswith("onPremisesProvisioningErrors/") and value is None:
            # Null values are not supported - except that Microsoft's own cmdlet sends
            # "ne null" (switch provisioningErrorNeNullWithoutAdvanced,
            # docs/graph-facts.md#provisioning-error-filter).
            if op == "ne" and self.tenant.settings["provisioningErrorNeNullWithoutAdvanced"]:
                return
            if op != "ne":
                mode = None
        if mode is None:
            raise QueryError(400, "Request_UnsupportedQuery", "Unsupported or invalid query filter "
                             "clause specified for property '%s' of resource '%s'."
                             % (prop_label, RESOURCE_NAME[self.kind]))
        if mode == ADVANCED:
            self.needs_advanced.append(op)

    def _comparison(self):
        kind, name = self._take("id")
        lname = name.lower()
        if lname in ("startswith", "endswith") and self._peek() == ("p", "("):
            self.pos += 1
            prop = self._property(self._take("id")[1])
            self._take("p", ",")
            value = self._literal()
            self._take("p", ")")
            self._check(prop, lname, prop)
            return ("func", lname, prop, value)
        prop = self._property(name)
        if self._peek() == ("p", "/"):
            self.pos += 1
            self._take("id", "any")
            self._take("p", "(")
            var = self._take("id")[1]
            self._take("p", ":")
            node = self._lambda_body(prop, var)
            self._take("p", ")")
            return node
        op = self._take("id")[1].lower()
        if op == "in":
            self._take("p", "(")
            values = [self._literal()]
            while self._peek() == ("p", ","):
                self.pos += 1
                values.append(self._literal())
            self._take("p", ")")
            self._check(prop, "in", prop)
            return ("in", prop, values)
        if op not in ("eq", "ne", "gt", "ge", "lt", "le"):
            self._syntax()
        value = self._literal()
        self._check(prop, op, prop, value)
        return ("cmp", prop, op, value)

    def _lambda_body(self, coll, var):
        if self._is_word("startswith") or self._is_word("endswith"):
            fname = self._take("id")[1].lower()
            self._take("p", "(")
            if self._take("id")[1] != var:
                self._syntax()
            self._take("p", ",")
            value = self._literal()
            self._take("p", ")")
            self._check(coll + "/any", fname, coll)
            return ("any", coll, None, fname, value)
        if self._take("id")[1] != var:
            self._syntax()
        sub = None
        if self._peek() == ("p", "/"):
            self.pos += 1
            sub = self._take("id")[1]
        op = self._take("id")[1].lower()
        if op not in ("eq", "ne"):
            self._syntax()
        value = self._literal()
        if sub is None:
            self._check(coll + "/any", op, coll, value)
        else:
            canonical = {"category": "category", "propertycausingerror": "propertyCausingError",
                         "value": "value", "occurreddatetime": "occurredDateTime"}.get(sub.lower())
            if canonical is None:
                self._syntax()
            sub = canonical
            self._check("%s/any/%s" % (coll, sub), op, coll, value)
        return ("any", coll, sub, op, value)

    # ----- limits -------------------------------------------------------------------
    def check_limits(self, advanced, url_length):
        """Raises QueryError when the filter is over one of Graph's limits (see
        MAX_OR_CLAUSES).  Without advanced queries an or-chain may hold 15 clauses; with
        them the URL may hold 2,048 characters.  The length of a value is checked on
        every request."""
        self._check_values(self.ast)
        if advanced:
            if url_length > MAX_URL_CHARS:
                # No error body is documented for this limit; the service answers as
                # for any filter it will not run.
                raise QueryError(400, "Request_UnsupportedQuery", "The request URL is "
                                 "%d characters long. Max allowed: %d." % (url_length,
                                                                          MAX_URL_CHARS))
            return
        worst, most = self._widest_or(self.ast), self.tenant.settings["filterMaxOrClauses"]
        if worst > most:
            raise QueryError(400, "Request_UnsupportedQuery", "Too many child clauses "
                             "specified in search filter expression containing 'OR' "
                             "operators: %d. Max allowed: %d." % (worst, most))

    def _or_children(self, node):
        """Clauses of the or-chain rooted at node; an "in" counts its values."""
        if node[0] == "or":
            return self._or_children(node[1]) + self._or_children(node[2])
        if node[0] == "in":
            return len(node[2])
        return 1

    def _widest_or(self, node):
        tag = node[0]
        if tag in ("or", "in"):
            here = self._or_children(node)
            subs = [self._widest_or(n) for n in self._or_leaves(node)]
            return max([here] + subs)
        if tag == "and":
            return max(self._widest_or(node[1]), self._widest_or(node[2]))
        if tag == "not":
            return self._widest_or(node[1])
        return 0

    def _or_leaves(self, node):
        if node[0] == "or":
            return self._or_leaves(node[1]) + self._or_leaves(node[2])
        return [] if node[0] == "in" else [node]

    def _check_values(self, node):
        tag = node[0]
        if tag in ("or", "and"):
            self._check_values(node[1])
            self._check_values(node[2])
            return
        if tag == "not":
            self._check_values(node[1])
            return
        prop = node[1] if tag in ("cmp", "in", "any") else node[2]
        values = node[2] if tag == "in" else [node[-1]]
        for value in values:
            if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
                raise QueryError(400, "Request_UnsupportedQuery", "Unsupported or invalid "
                                 "query filter clause specified for property '%s' of "
                                 "resource '%s'." % (prop, RESOURCE_NAME[self.kind]))

    # ----- evaluation ---------------------------------------------------------------
    def matches(self, obj):
        return self._eval(self.ast, obj)

    def _eval(self, node, obj):
        tag = node[0]
        if tag == "and":
            return self._eval(node[1], obj) and self._eval(node[2], obj)
        if tag == "or":
            return self._eval(node[1], obj) or self._eval(node[2], obj)
        if tag == "not":
            return not self._eval(node[1], obj)
        if tag == "cmp":
            _, prop, op, value = node
            actual = obj.props.get(prop)
            if prop in CASE_INSENSITIVE and isinstance(actual, str) and isinstance(value, str):
                actual, value = actual.lower(), value.lower()
            if op == "eq":
                return actual == value
            if op == "ne":
                return actual != value
            return False
        if tag == "in":
            _, prop, values = node
            actual = obj.props.get(prop)
            if prop in CASE_INSENSITIVE and isinstance(actual, str):
                return actual.lower() in {str(v).lower() for v in values}
            return actual in values
        if tag == "func":
            _, fname, prop, value = node
            actual = obj.props.get(prop)
            if not isinstance(actual, str) or not isinstance(value, str):
                return False
            if prop in CASE_INSENSITIVE:
                actual, value = actual.lower(), value.lower()
            return actual.startswith(value) if fname == "startswith" else actual.endswith(value)
        if tag == "any":
            _, coll, sub, op, value = node
            if coll == "onPremisesProvisioningErrors":
                items = [e.get(sub) for e in self.tenant.provisioning_errors(obj)]
                fold = True
            else:
                items = obj.props.get(coll) or []
                fold = coll in CASE_INSENSITIVE or (
                    coll == "proxyAddresses"
                    and self.tenant.settings["proxyAddressFilterCaseInsensitive"])
            for item in items:
                a, v = item, value
                if fold and isinstance(a, str) and isinstance(v, str):
                    a, v = a.lower(), v.lower()
                if op == "eq" and a == v or op == "ne" and a != v:
                    return True
                if op == "startswith" and isinstance(a, str) and a.startswith(v):
                    return True
                if op == "endswith" and isinstance(a, str) and a.endswith(v):
                    return True
            return False
        raise AssertionError(tag)

    def candidates(self):
        """Seqs of the objects that can match, sorted, or None when every object must be
        scanned.  Keeps a selective filter proportional to its result, not the tenant."""
        return self._cands(self.ast)

    def _cands(self, node):
        t = self.tenant
        tag = node[0]
        if tag == "or":
            a, b = self._cands(node[1]), self._cands(node[2])
            return None if a is None or b is None else sorted(set(a) | set(b))
        if tag == "and":
            a, b = self._cands(node[1]), self._cands(node[2])
            if a is None:
                return b
            if b is None:
                return a
            return sorted(set(a) & set(b))
        ids = None
        if tag == "cmp" and node[2] == "eq" and isinstance(node[3], str):
            prop, value = node[1], node[3]
            if prop == "id":
                ids = [value]
            elif prop == "userPrincipalName":
                ids = [t.idx_upn.get(value.lower())]
            elif prop == "mail":
                ids = t.idx_mail.get(value.lower(), ())
            elif prop == "onPremisesImmutableId":
                ids = t.idx_immutable.get(value, ())
        elif tag == "in" and node[1] == "id":
            ids = [v for v in node[2] if isinstance(v, str)]
        elif tag == "in" and node[1] in ("userPrincipalName", "mail"):
            index = t.idx_upn if node[1] == "userPrincipalName" else t.idx_mail
            ids = []
            for v in node[2]:
                if isinstance(v, str):
                    hit = index.get(v.lower())
                    ids.extend([hit] if isinstance(hit, str) else hit or ())
        elif tag == "any" and node[1] == "proxyAddresses" and node[3] == "eq" \
                and isinstance(node[4], str) and ":" in node[4]:
            ids = t.idx_proxy.get(node[4].split(":", 1)[1].lower(), ())
        elif tag == "any" and node[1] == "onPremisesProvisioningErrors" and node[3] == "eq":
            ids = t.with_errors[self.kind]
        if ids is None:
            return None
        seqs = set()
        for oid in ids:
            obj = t.objects.get(oid) if oid else None
            if obj is not None and obj.kind == self.kind and not obj.deleted:
                seqs.add(obj.seq)
        return sorted(seqs)


def parse_select(text, kind, default):
    """Properties returned only on $select are absent otherwise
    (docs/graph-facts.md#properties-returned-only-on-select).
    Property names are matched without regard to case (Microsoft's own cmdlet sends
    $select=Id,UserPrincipalName,...)."""
    if text is None:
        return list(default)
    out = []
    for name in text.split(","):
        name = name.strip()
        if not name:
            continue
        canonical = CANONICAL[kind].get(name.lower())
        if canonical is None:
            raise QueryError(400, "Request_BadRequest", "Could not find a property named '%s' on "
                             "type 'microsoft.graph.%s'." % (name, ENTITY_NAME[kind]))
        if canonical not in out:
            out.append(canonical)
    if "id" not in out:
        # Directory objects always carry their id.
        out.insert(0, "id")
    return out


def parse_top(text, maximum=999):
    """Pages hold 100 objects by default and 999 at most; $top=1000 is refused with
    "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive."
    (docs/graph-facts.md#paging)."""
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 1 or value > maximum:
        raise QueryError(400, "Request_UnsupportedQuery", "Invalid page size specified: '%s'. "
                         "Must be between 1 and %d inclusive." % (text, maximum))
    return value


class TokenCodec:
    """Opaque, tamper-evident $skiptoken / $deltatoken values: a client must use the
    nextLink as it is, never reuse its token in another request
    (https://learn.microsoft.com/graph/paging)."""

    def __init__(self, key=None):
        self.key = key or os.urandom(16)

    def encode(self, state):
        body = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
        mac = hmac.new(self.key, body, hashlib.sha256).digest()[:12]
        return "RFNwdA" + b64url(body) + "." + b64url(mac)

    def decode(self, token):
        try:
            if not token.startswith("RFNwdA"):
                return None
            body_b64, mac_b64 = token[6:].rsplit(".", 1)
            body = b64url_decode(body_b64)
            if not hmac.compare_digest(b64url_decode(mac_b64),
                                       hmac.new(self.key, body, hashlib.sha256).digest()[:12]):
                return None
            return json.loads(body)
        except (ValueError, TypeError):
            return None


def query_fingerprint(params):
    """Hash of the query options a page token belongs to."""
    items = sorted((k.lower(), v) for k, v in params.items()
                   if k.lower() not in ("$skiptoken", "$deltatoken"))
    return hashlib.sha256(repr(items).encode()).hexdigest()[:16]
