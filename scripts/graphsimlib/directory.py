"""The directory: users, groups and orgContacts of one tenant, with Duplicate Attribute
Resiliency (DAR), matching on export, and the hourly release sweep.

Source: https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-syncservice-duplicate-attribute-resiliency
(summed up in docs/graph-facts.md#duplicate-attribute-resiliency): an export whose UPN or
SMTP proxy address another object holds is not failed; the value is quarantined, and a
required UPN is replaced by a placeholder.  Only UPNs and SMTP proxy addresses are
handled.  Matching: docs/graph-facts.md#matching-and-export-errors.
"""

import bisect
import collections
import random

from . import settings as settings_mod
from .util import det_guid, iso, iso_fraction, parse_iso, smtp_address, is_primary_smtp

USERS, GROUPS, CONTACTS = "users", "groups", "contacts"
COLLECTIONS = (USERS, GROUPS, CONTACTS)
OBJECT_TYPES = {"user": USERS, "group": GROUPS, "contact": CONTACTS, "orgContact": CONTACTS,
                USERS: USERS, GROUPS: GROUPS, CONTACTS: CONTACTS}
ODATA_TYPE = {USERS: "#microsoft.graph.user", GROUPS: "#microsoft.graph.group",
              CONTACTS: "#microsoft.graph.orgContact"}
ENTITY_NAME = {USERS: "user", GROUPS: "group", CONTACTS: "orgContact"}
RESOURCE_NAME = {USERS: "User", GROUPS: "Group", CONTACTS: "OrgContact"}

# Properties each resource has (user, group and orgContact carry
# onPremisesProvisioningErrors: docs/graph-facts.md#provisioning-errors; the onPremises*
# meanings: docs/graph-facts.md#sync-properties-of-an-object).
# Groups and orgContacts have no onPremisesImmutableId in v1.0: their source anchor is kept
# internally and shown only through /_sim/.
PROPERTIES = {
    USERS: ["id", "accountEnabled", "businessPhones", "createdDateTime", "deletedDateTime",
            "displayName", "givenName", "jobTitle", "mail", "mailNickname", "mobilePhone",
            "officeLocation", "onPremisesDistinguishedName", "onPremisesDomainName",
            "onPremisesImmutableId", "onPremisesLastSyncDateTime",
            "onPremisesProvisioningErrors", "onPremisesSamAccountName",
            "onPremisesSecurityIdentifier", "onPremisesSyncEnabled",
            "onPremisesUserPrincipalName", "otherMails", "preferredLanguage",
            "proxyAddresses", "surname", "userPrincipalName", "userType"],
    GROUPS: ["id", "createdDateTime", "deletedDateTime", "description", "displayName",
             "groupTypes", "mail", "mailEnabled", "mailNickname", "onPremisesDomainName",
             "onPremisesLastSyncDateTime", "onPremisesNetBiosName",
             "onPremisesProvisioningErrors", "onPremisesSamAccountName",
             "onPremisesSecurityIdentifier", "onPremisesSyncEnabled", "proxyAddresses",
             "securityEnabled", "securityIdentifier", "visibility"],
    CONTACTS: ["id", "companyName", "deletedDateTime", "department", "displayName",
               "givenName", "jobTitle", "mail", "mailNickname", "onPremisesLastSyncDateTime",
               "onPremisesProvisioningErrors", "onPremisesSyncEnabled", "proxyAddresses",
               "surname"],
}
# Users without $select get the default set below; onPremisesProvisioningErrors,
# proxyAddresses, onPremisesImmutableId, onPremisesSyncEnabled and
# onPremisesLastSyncDateTime only on $select.  Groups return onPremisesProvisioningErrors
# and proxyAddresses by default; the orgContact page lists no $select-only properties
# (docs/graph-facts.md#properties-returned-only-on-select).
DEFAULT_SELECT = {
    USERS: ["businessPhones", "displayName", "givenName", "id", "jobTitle", "mail",
            "mobilePhone", "officeLocation", "preferredLanguage", "surname",
            "userPrincipalName"],
    GROUPS: [p for p in PROPERTIES[GROUPS]],
    CONTACTS: [p for p in PROPERTIES[CONTACTS]],
}
LIST_PROPS = {"businessPhones", "proxyAddresses", "otherMails", "groupTypes",
              "onPremisesProvisioningErrors"}
CANONICAL = {kind: {p.lower(): p for p in props} for kind, props in PROPERTIES.items()}

ERR_UPN = "UserPrincipalName"
ERR_PROXY = "ProxyAddress"


class DirectoryError(Exception):
    """A control-API or scenario mistake (bad object type, unknown id...)."""


class DirObject:
    __slots__ = ("id", "kind", "props", "seq", "ver", "prop_ver", "deleted", "anchor",
                 "onprem", "quarantine", "stuck", "placeholder_proxy", "admin_roles",
                 "member_of")

    def __init__(self, oid, kind):
        self.id = oid
        self.kind = kind
        self.props = {"id": oid}
        self.seq = 0
        self.ver = 0
        self.prop_ver = {}
        self.deleted = False
        self.anchor = None          # sourceAnchor of a synced object (all kinds)
        self.onprem = None          # last exported on-premises values (synced objects)
        self.quarantine = []        # [{"property", "value", "occurred"}]
        self.stuck = set()          # {(property, lower-cased value)} the sweep must not release
        self.placeholder_proxy = None
        self.admin_roles = []
        self.member_of = []         # ids of groups the user is a direct member of

    @property
    def synced(self):
        return self.props.get("onPremisesSyncEnabled") is True

    def addresses(self):
        """Lower-cased values this object holds in the UPN/SMTP uniqueness space
        (proxyAddresses are unique across users, groups and contacts, and a UPN conflict
        can be held by another object's address: docs/graph-facts.md#who-holds-a-value)."""
        out = set()
        if self.kind == USERS and self.props.get("userPrincipalName"):
            out.add(self.props["userPrincipalName"].lower())
        for proxy in self.props.get("proxyAddresses") or ():
            address = smtp_address(proxy)
            if address:
                out.add(address)
        return out


class Tenant:
    def __init__(self, tid, initial_domain, domains=(), settings=None, size=None, seed=0,
                 clock=None):
        self.id = tid
        self.initial_domain = initial_domain
        self.domains = [d.lower() for d in domains]
        self.settings = settings_mod.merge(settings_mod.DEFAULTS, settings or {})
        self.declared_size = size
        self.clock = clock
        self.rng = random.Random("%s/%s" % (seed, tid))
        self.apps = {}
        self.objects = {}
        self.order = {kind: [] for kind in COLLECTIONS}
        self.by_seq = {}
        self.next_seq = 1
        self.ver = 0
        self.change_vers = {kind: [] for kind in COLLECTIONS}
        self.change_ids = {kind: [] for kind in COLLECTIONS}
        self.delta_epoch = 0
        self.holders = collections.defaultdict(set)
        self.idx_upn = {}
        self.idx_mail = collections.defaultdict(set)
        self.idx_proxy = collections.defaultdict(set)
        self.idx_immutable = collections.defaultdict(set)
        self.idx_anchor = {}
        self.with_errors = {kind: set() for kind in COLLECTIONS}
        self.export_errors = {}
        self.group_first_fail = set()
        self.sweeps = []
        # Eventual consistency (settings "eventualConsistencyReads"): object id ->
        # {"view": the object as reads still see it (None = not yet visible), "reads": n}.
        self.lag = {}

    # ----- names -------------------------------------------------------------------
    @property
    def initial_domain_name(self):
        return "%s.onmicrosoft.com" % self.initial_domain

    def all_domains(self):
        return [self.initial_domain_name.lower()] + self.domains

    def size(self):
        """S below 50 users, M from 50 to 500, L above 500
        (https://learn.microsoft.com/graph/throttling-limits)."""
        if self.declared_size:
            return self.declared_size
        users = len(self.order[USERS])
        return "S" if users < 50 else ("M" if users <= 500 else "L")

    def now(self):
        return self.clock.now()

    # ----- indexes -----------------------------------------------------------------
    def _index(self, obj):
        for address in obj.addresses():
            self.holders[address].add(obj.id)
        props = obj.props
        if obj.kind == USERS and props.get("userPrincipalName"):
            self.idx_upn[props["userPrincipalName"].lower()] = obj.id
        if props.get("mail"):
            self.idx_mail[props["mail"].lower()].add(obj.id)
        for proxy in props.get("proxyAddresses") or ():
            if ":" in proxy:
                self.idx_proxy[proxy.split(":", 1)[1].lower()].add(obj.id)
        if props.get("onPremisesImmutableId"):
            self.idx_immutable[props["onPremisesImmutableId"]].add(obj.id)
        if obj.anchor and obj.synced and not obj.deleted:
            self.idx_anchor[obj.anchor] = obj.id
        if obj.quarantine and not obj.deleted:
            self.with_errors[obj.kind].add(obj.id)

    def _unindex(self, obj):
        for address in obj.addresses():
            self.holders[address].discard(obj.id)
            if not self.holders[address]:
                del self.holders[address]
        props = obj.props
        if obj.kind == USERS and props.get("userPrincipalName"):
            if self.idx_upn.get(props["userPrincipalName"].lower()) == obj.id:
                del self.idx_upn[props["userPrincipalName"].lower()]
        if props.get("mail"):
            self.idx_mail[props["mail"].lower()].discard(obj.id)
        for proxy in props.get("proxyAddresses") or ():
            if ":" in proxy:
                self.idx_proxy[proxy.split(":", 1)[1].lower()].discard(obj.id)
        if props.get("onPremisesImmutableId"):
            self.idx_immutable[props["onPremisesImmutableId"]].discard(obj.id)
        if obj.anchor and self.idx_anchor.get(obj.anchor) == obj.id:
            del self.idx_anchor[obj.anchor]
        self.with_errors[obj.kind].discard(obj.id)

    def _touch(self, obj, props):
        self.ver += 1
        obj.ver = self.ver
        for prop in props:
            obj.prop_ver[prop] = self.ver
        self.change_vers[obj.kind].append(self.ver)
        self.change_ids[obj.kind].append(obj.id)

    def changes_since(self, kind, since, upto):
        """Ids changed in (since, upto], most recently changed last."""
        vers = self.change_vers[kind]
        start = bisect.bisect_right(vers, since)
        end = bisect.bisect_right(vers, upto)
        latest = {}
        ids = self.change_ids[kind]
        for i in range(start, end):
            latest[ids[i]] = vers[i]
        return sorted(latest, key=latest.get)

    # ----- object lifecycle --------------------------------------------------------
    def new_id(self, kind, key):
        oid = det_guid(self.id, kind, key)
        n = 0
        while oid in self.objects:
            n += 1
            oid = det_guid(self.id, kind, key, n)
        return oid

    def add(self, kind, props, anchor=None, onprem=None, quarantine=None, admin_roles=(),
            key=None, member_of=()):
        oid = props.get("id") or self.new_id(kind, key or anchor or props.get(
            "userPrincipalName") or props.get("mail") or props.get("displayName") or self.next_seq)
        if oid in self.objects:
            raise DirectoryError("duplicate object id %s" % oid)
        obj = DirObject(oid, kind)
        for name, value in props.items():
            canonical = CANONICAL[kind].get(name.lower())
            if canonical is None:
                raise DirectoryError("%s has no property %r" % (ENTITY_NAME[kind], name))
            obj.props[canonical] = value
        obj.props["id"] = oid
        if kind in (USERS, GROUPS) and "createdDateTime" not in obj.props:
            obj.props["createdDateTime"] = iso(self.now())
        obj.anchor = anchor
        obj.onprem = onprem
        obj.quarantine = quarantine or []
        obj.admin_roles = list(admin_roles)
        obj.member_of = list(member_of)
        self._mail_to_proxies(obj)
        obj.seq = self.next_seq
        self.next_seq += 1
        self.objects[oid] = obj
        self.by_seq[obj.seq] = obj
        if obj.props.get("deletedDateTime"):
            obj.deleted = True
        else:
            self.order[kind].append(obj.seq)
        self._index(obj)
        self._touch(obj, list(obj.props) + ["onPremisesProvisioningErrors"])
        return obj

    def update(self, obj, changes, extra_props=()):
        """Apply Graph-property `changes` to `obj`, keeping every index right."""
        self._unindex(obj)
        changed = list(extra_props)
        for name, value in changes.items():
            canonical = CANONICAL[obj.kind].get(name.lower())
            if canonical is None:
                self._index(obj)
                raise DirectoryError("%s has no property %r" % (ENTITY_NAME[obj.kind], name))
            if canonical == "id":
                self._index(obj)
                raise DirectoryError("id cannot be changed")
            if obj.props.get(canonical) != value:
                obj.props[canonical] = value
                changed.append(canonical)
        if self._mail_to_proxies(obj) and "proxyAddresses" not in changed:
            changed.append("proxyAddresses")
        self._index(obj)
        if changed:
            self._touch(obj, changed)
        return changed

    def _mail_to_proxies(self, obj):
        """With the setting mailInProxyAddresses, add obj's mail to its proxyAddresses
        unless they hold it already or it is quarantined.  True when it added it."""
        mail = obj.props.get("mail")
        if not self.settings["mailInProxyAddresses"] or not isinstance(mail, str) \
                or "@" not in mail:
            return False
        proxies = list(obj.props.get("proxyAddresses") or [])
        if self.holders.get(mail.lower(), set()) - {obj.id}:
            return False  # another object holds the address
        if mail.lower() in {smtp_address(p) for p in proxies} or any(
                smtp_address(q["value"]) == mail.lower() or q["value"].lower() == mail.lower()
                for q in obj.quarantine):
            return False
        primary = any(is_primary_smtp(p) for p in proxies)
        proxies.append(("smtp:" if primary else "SMTP:") + mail)
        obj.props["proxyAddresses"] = proxies
        return True

    def set_quarantine(self, obj, entries):
        before = [(q["property"], q["value"]) for q in obj.quarantine]
        after = [(q["property"], q["value"]) for q in entries]
        self._unindex(obj)
        obj.quarantine = entries
        self._index(obj)
        if before != after:
            self._touch(obj, ["onPremisesProvisioningErrors"])

    def delete(self, obj, hard=True):
        """Hard delete removes the object for good; soft delete moves it to deleted items
        (a synced user removed from the sync scope is soft-deleted and no longer synced:
        docs/graph-facts.md#sync-properties-of-an-object)."""
        if not obj.deleted:
            pos = bisect.bisect_left(self.order[obj.kind], obj.seq)
            if pos < len(self.order[obj.kind]) and self.order[obj.kind][pos] == obj.seq:
                del self.order[obj.kind][pos]
        self._unindex(obj)
        if hard:
            del self.objects[obj.id]
            del self.by_seq[obj.seq]
            obj.deleted = True
            self._touch(obj, ["deletedDateTime"])
            return
        obj.deleted = True
        obj.props["deletedDateTime"] = iso(self.now())
        if obj.synced:
            obj.props["onPremisesSyncEnabled"] = False
        self._index(obj)
        self._touch(obj, ["deletedDateTime", "onPremisesSyncEnabled"])

    def get(self, oid):
        return self.objects.get(oid)

    # ----- eventual consistency ----------------------------------------------------
    def note_write(self, obj, created):
        """Call before a Graph write or sync export changes `obj` (after, when it was
        created): the next reads see the old object, or none (settings.py,
        "eventualConsistencyReads", for the source)."""
        reads = self.settings["eventualConsistencyReads"]
        if reads <= 0:
            return
        entry = self.lag.get(obj.id)
        if entry is None:
            entry = self.lag[obj.id] = {"view": None if created else self._snapshot(obj)}
        entry["reads"] = reads

    @staticmethod
    def _snapshot(obj):
        view = DirObject(obj.id, obj.kind)
        view.props = {k: (list(v) if isinstance(v, list) else v) for k, v in obj.props.items()}
        view.quarantine = [dict(q) for q in obj.quarantine]
        view.seq, view.ver, view.deleted = obj.seq, obj.ver, obj.deleted
        view.anchor, view.onprem = obj.anchor, obj.onprem
        return view

    def read_view(self, obj):
        """What one read sees of `obj`: the object, an older copy, or None (not visible
        yet).  Each call is one read of a lagging object."""
        entry = self.lag.get(obj.id)
        if entry is None:
            return obj
        entry["reads"] -= 1
        if entry["reads"] <= 0:
            del self.lag[obj.id]
        return entry["view"]

    def lagging_seqs(self, kind):
        """Seqs of lagging objects of `kind` whose old copy may match a filter the
        current indexes no longer find."""
        return [e["view"].seq for e in self.lag.values()
                if e["view"] is not None and e["view"].kind == kind]

    def find(self, key, kind=None):
        """Look an object up by id, or a user by UPN, as GET /users/{userPrincipalName}
        does (docs/graph-facts.md#who-holds-a-value)."""
        obj = self.objects.get(key)
        if obj is None and kind in (None, USERS):
            oid = self.idx_upn.get(key.lower())
            obj = self.objects.get(oid) if oid else None
        if obj is not None and kind is not None and obj.kind != kind:
            return None
        return obj

    def live_holders(self, address, exclude=None):
        """Objects other than `exclude` that hold `address` (lower-cased)."""
        result = []
        for oid in self.holders.get(address, ()):
            if oid == exclude:
                continue
            obj = self.objects.get(oid)
            if obj is None:
                continue
            if obj.deleted and not self.settings["softDeletedObjectsHoldValues"]:
                continue
            result.append(obj)
        return result

    # ----- rendering ---------------------------------------------------------------
    def provisioning_errors(self, obj):
        """onPremisesProvisioningError {category, occurredDateTime, propertyCausingError,
        value}; the only category is PropertyConflict
        (https://learn.microsoft.com/graph/api/resources/onpremisesprovisioningerror)."""
        out = []
        for q in obj.quarantine:
            if q["property"] == ERR_UPN:
                name, value = ERR_UPN, q["value"]
            else:
                name = self.settings["proxyAddressErrorName"]
                value = q["value"]
                if not self.settings["proxyAddressErrorValueHasPrefix"] and ":" in value:
                    value = value.split(":", 1)[1]
            out.append({"category": "PropertyConflict",
                        "occurredDateTime": iso_fraction(q["occurred"]),
                        "propertyCausingError": name, "value": value})
        return out

    def value_of(self, obj, prop):
        if prop == "onPremisesProvisioningErrors":
            # Graph returns "onPremisesProvisioningErrors":[] for objects with no errors
            # (https://github.com/microsoftgraph/entra-powershell/issues/1290).
            return self.provisioning_errors(obj)
        value = obj.props.get(prop)
        if value is None and prop in LIST_PROPS:
            return []
        return value

    def render(self, obj, select):
        return {prop: self.value_of(obj, prop) for prop in select}

    def raw(self, obj):
        """Everything, including simulator-internal state (for /_sim/)."""
        body = {prop: self.value_of(obj, prop) for prop in PROPERTIES[obj.kind]}
        body["@odata.type"] = ODATA_TYPE[obj.kind]
        body["_sim"] = {
            "objectType": ENTITY_NAME[obj.kind], "seq": obj.seq, "version": obj.ver,
            "deleted": obj.deleted, "sourceAnchor": obj.anchor, "onPrem": obj.onprem,
            "adminRoles": obj.admin_roles, "memberOf": obj.member_of,
            "stuck": self.stuck_values(obj),
            "placeholderProxy": obj.placeholder_proxy,
            "quarantine": [{"property": q["property"], "value": q["value"],
                            "occurred": iso_fraction(q["occurred"])} for q in obj.quarantine],
        }
        return body

    # ----- Duplicate Attribute Resiliency --------------------------------------------
    def _placeholder_upn(self, upn):
        """Original prefix, four digits, @<initial domain>.onmicrosoft.com, with no literal
        plus (john1234@contoso.onmicrosoft.com;
        docs/graph-facts.md#duplicate-attribute-resiliency).  Digits come from a per-tenant
        seeded generator so a scenario always produces the same placeholders."""
        prefix = upn.split("@", 1)[0]
        while True:
            candidate = "%s%04d@%s" % (prefix, self.rng.randrange(10000), self.initial_domain_name)
            if not self.holders.get(candidate.lower()):
                return candidate

    def _reconcile(self, obj, desired, new):
        """Compute the DAR outcome of exporting `desired` onto `obj`.

        Returns (props, quarantine, placeholder_proxy, error); error is a dict when the
        export must fail as a whole (the documented exceptions to quarantine)."""
        now = self.now()
        previous = {(q["property"], q["value"].lower()): q for q in obj.quarantine}
        quarantine = []
        props = {}
        exclude = obj.id

        def keep(prop, value):
            old = previous.get((prop, value.lower()))
            return {"property": prop, "value": value,
                    "occurred": old["occurred"] if old else now}

        placeholder_proxy = None
        if obj.kind == USERS:
            upn = desired.get("userPrincipalName")
            if not upn:
                return None, None, None, {"type": "IdentityDataValidationFailed",
                                          "message": "userPrincipalName is required"}
            address = upn.lower()
            held = self.live_holders(address, exclude)
            if held or (ERR_UPN, address) in obj.stuck:
                quarantine.append(keep(ERR_UPN, upn))
                current = obj.props.get("userPrincipalName") or ""
                if (ERR_UPN, address) in previous and current.lower().endswith(
                        "@" + self.initial_domain_name.lower()):
                    props["userPrincipalName"] = current
                else:
                    props["userPrincipalName"] = self._placeholder_upn(upn)
            else:
                props["userPrincipalName"] = upn

        proxies = []
        for proxy in desired.get("proxyAddresses") or []:
            address = smtp_address(proxy)
            if address is None:
                proxies.append(proxy)
                continue
            if address == (props.get("userPrincipalName") or "").lower():
                proxies.append(proxy)
                continue
            held = self.live_holders(address, exclude)
            if not held and (ERR_PROXY, address) not in obj.stuck:
                proxies.append(proxy)
                continue
            if (obj.kind == USERS and new and self.settings["userGroupSmtpConflictIsExportError"]
                    and proxy.startswith("smtp:")
                    and address == (desired.get("userPrincipalName") or "").lower()):
                for other in held:
                    if other.kind == GROUPS and any(
                            p.startswith("SMTP:") and smtp_address(p) == address
                            for p in other.props.get("proxyAddresses") or ()):
                        # Known issue 1: a new user whose UPN and smtp: value both
                        # collide with a group's SMTP: address gets an export error,
                        # retried every cycle; any other collision with a group is
                        # quarantined (docs/graph-facts.md#duplicate-attribute-resiliency).
                        # The error type is ObjectTypeMismatch
                        # (docs/graph-facts.md#matching-and-export-errors).
                        return None, None, None, {
                            "type": "ObjectTypeMismatch", "attribute": "ProxyAddresses",
                            "value": proxy,
                            "message": "ProxyAddress conflict: %s is the primary SMTP address "
                                       "of group %s" % (proxy, other.id)}
            if (obj.kind == GROUPS and new and self.settings["groupGroupConflictFailsFirst"]
                    and any(o.kind == GROUPS for o in held)
                    and (desired.get("sourceAnchor"), address) not in self.group_first_fail):
                # Known issue: of two groups sharing an SMTP address, one fails on its first
                # export and is quarantined on the next
                # (docs/graph-facts.md#duplicate-attribute-resiliency).
                self.group_first_fail.add((desired.get("sourceAnchor"), address))
                return None, None, None, {
                    "type": "AttributeValueMustBeUnique", "attribute": "ProxyAddresses",
                    "value": proxy,
                    "message": "ProxyAddress %s is already used by another group; the next "
                               "export will quarantine it" % proxy}
            quarantine.append(keep(ERR_PROXY, proxy))

        if obj.kind == USERS and quarantine and quarantine[0]["property"] == ERR_UPN:
            # The SMTP proxy address gets the placeholder's number too
            # (https://learn.microsoft.com/troubleshoot/entra/entra-id/user-prov-sync/number-add-username-email-address):
            # when the primary SMTP address was the quarantined UPN, the placeholder
            # becomes the primary SMTP address.
            upn_address = desired["userPrincipalName"].lower()
            lost_primary = any(q["property"] == ERR_PROXY and is_primary_smtp(q["value"])
                               and smtp_address(q["value"]) == upn_address
                               for q in quarantine)
            if lost_primary:
                placeholder_proxy = "SMTP:" + props["userPrincipalName"]
                proxies.append(placeholder_proxy)
        props["proxyAddresses"] = proxies
        return props, quarantine, placeholder_proxy, None

    def export(self, item):
        """One on-premises object exported by the sync engine.  Returns a result dict."""
        kind = OBJECT_TYPES.get(item.get("objectType", "user"))
        if kind is None:
            raise DirectoryError("objectType must be user, group or contact")
        anchor = item.get("sourceAnchor")
        if not anchor:
            raise DirectoryError("sourceAnchor is required")
        now = self.now()
        desired = {"sourceAnchor": anchor,
                   "userPrincipalName": item.get("userPrincipalName"),
                   "proxyAddresses": list(item.get("proxyAddresses") or [])}
        result = {"sourceAnchor": anchor, "objectType": ENTITY_NAME[kind]}

        obj = None
        outcome = "updated"
        oid = self.idx_anchor.get(anchor)
        if oid is not None:
            obj = self.objects[oid]
            if obj.kind != kind:
                return self._export_failed(result, anchor, {
                    "type": "ObjectTypeMismatch",
                    "message": "source anchor %s belongs to a %s" % (anchor, ENTITY_NAME[obj.kind])})
        elif kind == USERS:
            # Hard match: a cloud user carrying the exported sourceAnchor as
            # onPremisesImmutableId is taken over
            # (docs/graph-facts.md#matching-and-export-errors).
            cands = [self.objects[i] for i in self.idx_immutable.get(anchor, ())
                     if not self.objects[i].deleted]
            if cands:
                obj = cands[0]
                if self.settings["blockCloudObjectTakeoverThroughHardMatchEnabled"]:
                    # InvalidHardMatch: hard match blocked by the tenant feature
                    # (docs/graph-facts.md#matching-and-export-errors).
                    return self._export_failed(result, anchor, {
                        "type": "InvalidHardMatch", "attribute": "SourceAnchor", "value": anchor,
                        "message": "hard match to cloud user %s is blocked by "
                                   "BlockCloudObjectTakeoverThroughHardMatchEnabled" % obj.id})
                if obj.admin_roles:
                    return self._admin_role_conflict(result, anchor, obj)
                outcome = "hard-matched"
            elif not self.settings["blockSoftMatchEnabled"]:
                obj = self._soft_match_candidate(desired)
                if obj is not None:
                    if obj.props.get("onPremisesImmutableId"):
                        # With resiliency on, new objects get no InvalidSoftMatch
                        # (docs/graph-facts.md#matching-and-export-errors): fall through to
                        # create-with-quarantine.
                        obj = None
                    elif obj.admin_roles:
                        return self._admin_role_conflict(result, anchor, obj)
                    else:
                        outcome = "soft-matched"
        new = obj is None
        if new:
            outcome = "created"
            obj = DirObject(None, kind)
        props, quarantine, placeholder_proxy, error = self._reconcile(obj, desired, new)
        if error:
            return self._export_failed(result, anchor, error)
        self.export_errors.pop(anchor, None)

        for name in ("displayName", "givenName", "surname", "mail", "mailNickname",
                     "jobTitle", "description", "companyName", "department",
                     "onPremisesDistinguishedName", "onPremisesSamAccountName",
                     "onPremisesSecurityIdentifier", "onPremisesDomainName",
                     "onPremisesNetBiosName", "securityEnabled", "mailEnabled", "groupTypes"):
            if name in item and CANONICAL[kind].get(name.lower()):
                props[name] = item[name]
        props["onPremisesSyncEnabled"] = True
        props["onPremisesLastSyncDateTime"] = iso(now)
        if kind == USERS:
            props["onPremisesImmutableId"] = anchor
            props["onPremisesUserPrincipalName"] = desired["userPrincipalName"]
            props.setdefault("accountEnabled", True)
            props.setdefault("userType", "Member")
        if kind == GROUPS:
            props.setdefault("mailEnabled", bool(props.get("proxyAddresses")))
            props.setdefault("securityEnabled", not props.get("mailEnabled"))
            props.setdefault("groupTypes", [])
        props = {k: v for k, v in props.items() if k in CANONICAL[kind].values()}
        onprem = {k: v for k, v in item.items() if k != "objectType"}

        if new:
            obj = self.add(kind, props, anchor=anchor, onprem=onprem, quarantine=quarantine,
                           key=anchor)
            self.note_write(obj, created=True)
        else:
            self.note_write(obj, created=False)
            obj.anchor = anchor
            obj.onprem = onprem
            self.update(obj, props)
            self.set_quarantine(obj, quarantine)
        obj.placeholder_proxy = placeholder_proxy
        result.update({"result": outcome, "id": obj.id,
                       "userPrincipalName": obj.props.get("userPrincipalName"),
                       "proxyAddresses": obj.props.get("proxyAddresses"),
                       "quarantined": [{"property": q["property"], "value": q["value"]}
                                       for q in quarantine]})
        return result

    def _soft_match_candidate(self, desired):
        """Soft match on the UPN or the primary (SMTP:) address only
        (https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-install-existing-tenant)."""
        keys = []
        if desired.get("userPrincipalName"):
            keys.append(desired["userPrincipalName"].lower())
        keys += [smtp_address(p) for p in desired["proxyAddresses"] if is_primary_smtp(p)]
        for key in keys:
            for obj in self.live_holders(key):
                if obj.kind == USERS and not obj.synced and not obj.deleted:
                    return obj
        return None

    def _admin_role_conflict(self, result, anchor, obj):
        # "Existing Admin Role Conflict": Entra Connect does not match a cloud user that
        # holds an administrative role (docs/graph-facts.md#matching-and-export-errors).
        return self._export_failed(result, anchor, {
            "type": "ExistingAdminRoleConflict",
            "message": "cloud user %s has an administrative role assigned" % obj.id})

    def _export_failed(self, result, anchor, error):
        previous = self.export_errors.get(anchor)
        error = dict(error)
        error["timeOccurred"] = iso(self.now())
        error["timeFirstOccurred"] = previous["timeFirstOccurred"] if previous else error["timeOccurred"]
        error["retryCount"] = previous["retryCount"] + 1 if previous else 0
        self.export_errors[anchor] = error
        result.update({"result": "export-error", "error": error})
        return result

    def export_delete(self, anchor, hard=False):
        """The on-premises object was deleted (or left sync scope)."""
        oid = self.idx_anchor.get(anchor)
        if oid is None:
            raise DirectoryError("no synced object with sourceAnchor %s" % anchor)
        obj = self.objects[oid]
        self.delete(obj, hard=hard)
        self.export_errors.pop(anchor, None)
        return {"sourceAnchor": anchor, "id": oid, "result": "hard-deleted" if hard else "soft-deleted"}

    # ----- the hourly sweep --------------------------------------------------------------
    def sweep(self):
        """The hourly background task that gives back quarantined values whose conflict
        has gone (docs/graph-facts.md#duplicate-attribute-resiliency).

        A value stays quarantined while another object holds it; of two objects waiting
        for the same value, the one quarantined first gets it."""
        pending = []
        for kind in COLLECTIONS:
            for oid in self.with_errors[kind]:
                obj = self.objects[oid]
                for q in obj.quarantine:
                    pending.append((q["occurred"], obj.seq, oid, q["property"], q["value"]))
        pending.sort()
        released, kept = [], []
        for _, _, oid, prop, value in pending:
            obj = self.objects.get(oid)
            address = value.lower() if prop == ERR_UPN else smtp_address(value)
            entry = {"id": oid, "property": prop, "value": value}
            if (prop, address) in obj.stuck:
                entry["reason"] = "stuck"
                kept.append(entry)
                continue
            holders = self.live_holders(address, exclude=oid)
            if holders:
                entry["reason"] = "held by %s" % ",".join(sorted(h.id for h in holders))
                kept.append(entry)
                continue
            self._release(obj, prop, value)
            released.append(entry)
        record = {"time": iso(self.now()), "released": released, "kept": kept}
        self.sweeps.append(record)
        return record

    def _release(self, obj, prop, value):
        remaining = [q for q in obj.quarantine
                     if not (q["property"] == prop and q["value"] == value)]
        changes = {}
        primary_still_quarantined = any(
            q["property"] == ERR_PROXY and is_primary_smtp(q["value"]) for q in remaining)
        if prop == ERR_UPN:
            changes["userPrincipalName"] = value
        placeholder = obj.placeholder_proxy
        if placeholder and (prop == ERR_PROXY and is_primary_smtp(value)
                            or prop == ERR_UPN and not primary_still_quarantined):
            obj.placeholder_proxy = placeholder = None
        quarantined_values = {q["value"] for q in remaining if q["property"] == ERR_PROXY}
        desired = (obj.onprem or {}).get("proxyAddresses")
        if desired is None:
            desired = list(obj.props.get("proxyAddresses") or []) + (
                [value] if prop == ERR_PROXY else [])
        proxies = [p for p in desired if p not in quarantined_values]
        if placeholder:
            proxies.append(placeholder)
        changes["proxyAddresses"] = proxies
        self.update(obj, changes)
        self.set_quarantine(obj, remaining)

    def set_stuck(self, obj, value, stuck=True):
        """Fault switch: keep one quarantined value even when it is free.  A value with an
        "smtp:" prefix names a proxy address quarantine, anything else the UPN one."""
        key = (ERR_PROXY, smtp_address(value)) if ":" in value else (ERR_UPN, value.lower())
        if stuck:
            obj.stuck.add(key)
        else:
            obj.stuck.discard(key)

    @staticmethod
    def stuck_values(obj):
        return sorted(("smtp:" + a) if p == ERR_PROXY else a for p, a in obj.stuck)


def quarantine_from_errors(errors):
    """Scenario objects may carry onPremisesProvisioningErrors directly."""
    out = []
    for err in errors or []:
        name = err.get("propertyCausingError", "")
        prop = ERR_UPN if name.lower() == "userprincipalname" else ERR_PROXY
        value = err.get("value", "")
        if prop == ERR_PROXY and ":" not in value:
            value = "SMTP:" + value
        occurred = parse_iso(err["occurredDateTime"]) if err.get("occurredDateTime") else None
        out.append({"property": prop, "value": value, "occurred": occurred})
    return out
