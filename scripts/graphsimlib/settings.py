"""Per-tenant switches for behaviour the Microsoft documents leave open or contradict.

Every switch can be set in a scenario ("settings" of a tenant) and changed at run
time with POST /_sim/tenants/{tid}/settings.  The default is the behaviour the
documents describe; the comment says where they are silent or disagree.
"""

DEFAULTS = {
    # The filter table marks onPremisesProvisioningErrors/any(o:o/category eq ...) as
    # "Default", but a Microsoft Q&A answer and a community module say no server-side
    # filter works (docs/graph-facts.md#provisioning-error-filter).  "unsupported"
    # answers such filters with 400 Request_UnsupportedQuery.
    "provisioningErrorFilter": "supported",
    # No document says whether delta tracks onPremisesProvisioningErrors
    # (docs/graph-facts.md#does-delta-track-provisioning-errors).  The cautious reading
    # is the default: a change of only that property does not put the object into a
    # delta response.  true lets a scenario opt in.
    "deltaTracksProvisioningErrors": False,
    # Tenant feature blockCloudObjectTakeoverThroughHardMatchEnabled; a blocked hard
    # match is the export error InvalidHardMatch
    # (docs/graph-facts.md#matching-and-export-errors).
    "blockCloudObjectTakeoverThroughHardMatchEnabled": False,
    # https://learn.microsoft.com/graph/api/onpremisesdirectorysynchronization-get lists
    # no application permission, so an app-only token gets 403.  true lets apps read the
    # features, to test a client's readable path.
    "onPremisesSynchronizationReadableByApps": False,
    # Tenant feature blockSoftMatchEnabled, off in the service by default, so a
    # cloud-only user with the exported UPN or primary SMTP address is soft-matched
    # (docs/graph-facts.md#matching-and-export-errors).  Microsoft recommends blocking
    # soft match after the initial sync, and the "existing cloud account" conflict
    # (docs/graph-facts.md#connect-health-diagnosis-and-apply-fix) needs it blocked.
    # The cautious default is blocked: a soft match silently merges a cloud account,
    # so a scenario that wants one opts in with false.
    "blockSoftMatchEnabled": True,
    # Unknown whether proxyAddresses eq ignores case
    # (docs/graph-facts.md#case-of-proxyaddresses-comparisons).
    "proxyAddressFilterCaseInsensitive": True,
    # Whether an object's mail is always among its proxyAddresses.  Graph adds a
    # user's mail to them when mail is changed through Graph
    # (https://learn.microsoft.com/graph/api/resources/user, mail), but no document
    # says so of synchronized objects, groups or contacts, so by default an object
    # keeps the proxyAddresses it is given.  true adds "SMTP:" + mail (or "smtp:"
    # when it has a primary address) to every object created or changed from then on
    # whose proxyAddresses lack its mail.
    "mailInProxyAddresses": False,
    # The resource page names the property "ProxyAddress"; Microsoft's PowerShell
    # example and real captures show "ProxyAddresses"
    # (docs/graph-facts.md#provisioning-errors).  Value used in propertyCausingError
    # for quarantined addresses.
    "proxyAddressErrorName": "ProxyAddresses",
    # Real values carry the "SMTP:" prefix (docs/graph-facts.md#provisioning-errors);
    # false strips it.
    "proxyAddressErrorValueHasPrefix": True,
    # 429 "Retry-After: 2.128" (older samples) vs "Retry-After: 10" (current page of
    # https://learn.microsoft.com/graph/throttling).  "integer" rounds up,
    # "fractional" sends three decimals.
    "retryAfterFormat": "integer",
    # A community file says identity and access send no Retry-After on 429; the docs
    # say they do (docs/graph-facts.md#retry-after-on-every-429).  false omits it.
    "throttleRetryAfterHeader": True,
    # Token-bucket limits (docs/graph-facts.md#throttling); false disables simulated
    # throttling.
    "throttleEnabled": True,
    # Resource units per 10 s for the app+tenant pair; null = the documented S/M/L
    # quota (https://learn.microsoft.com/graph/throttling-limits).  Tests lower it to
    # reach the limit quickly.
    "throttleResourceUnitQuota": None,
    # Writes per 150 s for the app+tenant pair; null = the documented 3,000
    # (https://learn.microsoft.com/graph/throttling-limits).
    "throttleWriteQuota": None,
    # Delta tokens of directory objects last seven days
    # (https://learn.microsoft.com/graph/delta-query-overview).
    "deltaTokenLifetimeSeconds": 7 * 24 * 3600,
    # An expired delta token gets a 4xx error such as syncStateNotFound, or 410 Gone
    # with a Location header (https://learn.microsoft.com/graph/delta-query-overview).
    "deltaExpiredStatus": 410,
    # Access-token lifetime; null = the --token-lifetime option ("expires_in": 3599 in
    # the sample of docs/graph-facts.md#client-credentials-tokens).
    "tokenLifetimeSeconds": None,
    # Connect Health's Apply Fix refuses while the conflicting user is soft-deleted
    # ("hard delete it first"), so a soft-deleted object still holds its UPN and proxy
    # addresses (docs/graph-facts.md#soft-deleted-holders).
    "softDeletedObjectsHoldValues": True,
    # Known issue 1: a new user whose UPN and smtp: value both collide with a group's
    # SMTP: address gets an export error instead of a quarantine
    # (docs/graph-facts.md#duplicate-attribute-resiliency).  Only that case: any other
    # collision with a group's address is quarantined.  false quarantines that case too.
    "userGroupSmtpConflictIsExportError": True,
    # Known issue: of two groups sharing an SMTP address, one fails on its first export
    # and is quarantined on the next (docs/graph-facts.md#duplicate-attribute-resiliency).
    "groupGroupConflictFailsFirst": True,
    # Application permissions that may write onPremisesImmutableId.  The least one is
    # unsettled (docs/graph-facts.md#permission-to-write-onpremisesimmutableid); the
    # cautious default leaves out User.ManageIdentities.All, which a Microsoft Q&A
    # answer says covers only the identities property.  Other roles get 403.
    "writeRoles": ["User.ReadWrite.All", "Directory.ReadWrite.All"],
    # onPremisesImmutableId cannot be set for a user whose UPN is in a federated domain
    # (https://learn.microsoft.com/graph/api/resources/user,
    # docs/graph-facts.md#writing-onpremisesimmutableid).  The domains listed here are
    # federated (GET /domains says so); a PATCH of the property for a user whose UPN is
    # in one answers 400 Request_BadRequest.
    "federatedDomains": [],
    # Directory reads are eventually consistent: a read just after a write can return
    # old data, a new object can answer 404, a $filter can miss a changed property
    # (docs/graph-facts.md#eventual-consistency).  No duration is documented, so the
    # lag is counted in reads: after a Graph PATCH or a sync export, the next N reads
    # that touch the object (GET by id, or a $filter listing) see it as it was before
    # (404 Request_ResourceNotFound, or left out of $filter results, when it was just
    # created).  0 = always consistent.
    "eventualConsistencyReads": 0,
    # "dependsOn" orders requests, and a request whose dependency failed answers 424
    # (https://learn.microsoft.com/graph/json-batching).  false ignores dependsOn.
    "batchDependsOn": True,
    # Graph compresses a response when the client asks for it (Accept-Encoding: gzip;
    # docs/graph-facts.md#compression-and-http2).  false always answers identity.
    "gzipWhenAsked": True,
    # The documented filter uses "eq"; Microsoft's own cmdlet sends
    # "any(o:o/category ne null)" without ConsistencyLevel
    # (docs/graph-facts.md#provisioning-error-filter).  true accepts that form without
    # advanced-query headers.
    "provisioningErrorNeNullWithoutAdvanced": False,
    # $batch responses may come in any order
    # (https://learn.microsoft.com/graph/json-batching).  true returns them in reverse
    # order so clients must match on "id".
    "batchReverseResponses": False,
    # Page size of delta responses when the client sends no Prefer: odata.maxpagesize
    # (delta does not support $top: docs/graph-facts.md#delta-query).
    "deltaPageSize": 100,
    # The largest page a Prefer: odata.maxpagesize=N obtains on delta.  The delta
    # overview documents the preference but no ceiling for directory objects; 999 is
    # the $top ceiling of directory lists (docs/graph-facts.md#paging).  Lower it to
    # make a client page through a small tenant.
    "deltaMaxPageSize": 999,
    # Or-clauses ("in" values counted) a filter may hold without advanced queries:
    # 15 (https://learn.microsoft.com/graph/filter-query-parameter).  Lower it to see a
    # client split a filter Graph refuses.
    "filterMaxOrClauses": 15,
}

CHOICES = {
    "provisioningErrorFilter": ("supported", "unsupported"),
    "proxyAddressErrorName": ("ProxyAddress", "ProxyAddresses"),
    "retryAfterFormat": ("integer", "fractional"),
    "deltaExpiredStatus": (400, 404, 410),
}
# Counts that may be 0.
NON_NEGATIVE = {"eventualConsistencyReads"}


class SettingsError(ValueError):
    pass


def merge(current, changes):
    """Return `current` updated with `changes`, validating names and values."""
    result = dict(current)
    for key, value in (changes or {}).items():
        if key not in DEFAULTS:
            raise SettingsError("unknown setting %r (known: %s)" % (key, ", ".join(sorted(DEFAULTS))))
        default = DEFAULTS[key]
        if key in CHOICES and value not in CHOICES[key]:
            raise SettingsError("setting %r must be one of %r" % (key, CHOICES[key]))
        if isinstance(default, bool) and not isinstance(value, bool):
            raise SettingsError("setting %r must be true or false" % key)
        if isinstance(default, int) and not isinstance(default, bool) and key not in CHOICES:
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not number or not (value >= 0 if key in NON_NEGATIVE else value > 0):
                raise SettingsError("setting %r must be a %s number" % (
                    key, "non-negative" if key in NON_NEGATIVE else "positive"))
        if isinstance(default, list) and (not isinstance(value, list) or not all(
                isinstance(v, str) for v in value)):
            raise SettingsError("setting %r must be a list of strings" % key)
        result[key] = value
    return result
