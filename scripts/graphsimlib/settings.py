"""Per-tenant switches for behaviour the Microsoft documents leave open or contradict.

Every switch can be set in a scenario ("settings" of a tenant) and changed at run
time with POST /_sim/tenants/{tid}/settings.  The default is the behaviour the
documents describe; the comment says where they are silent or disagree.
"""

DEFAULTS = {
    # graph-facts §2 / §11.2: the filter table marks
    # onPremisesProvisioningErrors/any(o:o/category eq ...) as "Default", but community
    # sources say "no filtering seems to be supported" (peers §1.1).  "unsupported"
    # answers such filters with 400 Request_UnsupportedQuery.
    "provisioningErrorFilter": "supported",
    # No document says whether delta tracks onPremisesProvisioningErrors
    # (learn.microsoft.com/graph/delta-query-overview only says properties "stored
    # outside of the main data store" are not tracked).  The cautious reading is the
    # default: a change of only that property does not put the object into a delta
    # response.  true lets a scenario opt in.
    "deltaTracksProvisioningErrors": False,
    # graph-facts §6: tenant feature BlockCloudObjectTakeoverThroughHardMatchEnabled;
    # "a blocked hard match surfaces as InvalidHardMatch" (tshoot-connect-sync-errors).
    "blockCloudObjectTakeoverThroughHardMatchEnabled": False,
    # onpremisesdirectorysynchronization-get (learn.microsoft.com/graph/api/
    # onpremisesdirectorysynchronization-get): "Application | Not supported." - an app-only
    # token gets 403.  true lets apps read the features, to test a client's readable path.
    "onPremisesSynchronizationReadableByApps": False,
    # graph-facts §6 (BlockSoftMatchEnabled): the service default is false, so a
    # cloud-only user with the exported UPN or primary SMTP address is soft-matched.
    # Microsoft recommends blocking soft match after the initial sync; the scenarios
    # that model the "existing cloud account" conflict (graph-facts §7, Connect
    # Health: "The user can't be matched in sync to the existing object") set it.
    # Where a scenario does not say, the cautious default is blocked: a soft match
    # silently merges a cloud account, so a scenario that wants one opts in with false.
    "blockSoftMatchEnabled": True,
    # graph-facts §11.3: unknown whether proxyAddresses eq ignores case.
    "proxyAddressFilterCaseInsensitive": True,
    # graph-facts §1: the doc names the property "ProxyAddress"; real captures show
    # "ProxyAddresses".  Value used in propertyCausingError for quarantined addresses.
    "proxyAddressErrorName": "ProxyAddresses",
    # graph-facts §1: real values carry the "SMTP:" prefix; false strips it.
    "proxyAddressErrorValueHasPrefix": True,
    # graph-facts §4: 429 "Retry-After: 2.128" (older samples) vs "Retry-After: 10"
    # (current page).  "integer" rounds up, "fractional" sends three decimals.
    "retryAfterFormat": "integer",
    # graph-facts §11.5: a community file says Identity & Access sends no Retry-After
    # on 429; the docs say it does.  false omits the header.
    "throttleRetryAfterHeader": True,
    # graph-facts §4: token-bucket limits; false disables simulated throttling.
    "throttleEnabled": True,
    # Resource units per 10 s for the app+tenant pair; null = the documented S/M/L
    # quota (graph-facts §4 table).  Tests lower it to reach the limit quickly.
    "throttleResourceUnitQuota": None,
    # graph-facts §4: write quota "3,000 requests per 2 minutes and 30 seconds".
    "throttleWriteQuota": None,
    # graph-facts §2 delta: "For directory objects, the limit is seven days."
    "deltaTokenLifetimeSeconds": 7 * 24 * 3600,
    # graph-facts §2 delta: expired token -> "a 40X-series error with error codes such
    # as syncStateNotFound", "A 410 (gone) with a Location header".
    "deltaExpiredStatus": 410,
    # Access-token lifetime; null = the --token-lifetime option (graph-facts §5,
    # "expires_in":3599 in the doc sample).
    "tokenLifetimeSeconds": None,
    # graph-facts §7 (Connect Health Apply Fix): "User with conflicting attribute is
    # soft deleted ... Ensure the user is hard deleted before retry" -> a soft-deleted
    # object still holds its UPN and proxy addresses.
    "softDeletedObjectsHoldValues": True,
    # DAR known issue 1 (learn.microsoft.com/entra/identity/hybrid/connect/
    # how-to-connect-syncservice-duplicate-attribute-resiliency, "Known issues"): a new
    # user whose UPN and smtp: value both collide with a group's SMTP: address gets an
    # export error instead of a quarantine.  Only that case: any other collision with a
    # group's address is quarantined.  false quarantines that case too.
    "userGroupSmtpConflictIsExportError": True,
    # graph-facts §7 known issue: "with two groups sharing an SMTP address, one fails on
    # the first attempt and is quarantined on the next cycle".
    "groupGroupConflictFailsFirst": True,
    # Application permissions that may write onPremisesImmutableId: User.ReadWrite.All
    # or Directory.ReadWrite.All (learn.microsoft.com/graph/api/user-update);
    # User.ManageIdentities.All covers only the identities property
    # (learn.microsoft.com/answers/questions/1688073).  Other roles get 403.
    "writeRoles": ["User.ReadWrite.All", "Directory.ReadWrite.All"],
    # onPremisesImmutableId cannot be set for a user whose UPN is in a federated domain
    # (github.com/MicrosoftDocs/azure-docs/issues/5108; the user resource says the
    # property "must be specified when creating a new user account in the Graph if you
    # are using a federated domain", learn.microsoft.com/graph/api/resources/user).
    # The domains listed here are federated; a PATCH of the property for a user whose
    # UPN is in one answers 400 Request_BadRequest.
    "federatedDomains": [],
    # Directory reads are eventually consistent: "A successful write to Microsoft
    # Entra does not guarantee that an immediate read will reflect that change" - a
    # read can return old data, a newly created object can answer "Not Found", a
    # recently updated property may not be visible yet
    # (devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/).
    # The documents give no duration, so the lag is counted in reads: after a Graph
    # PATCH or a sync export, the next N reads that touch the object (GET by id, or a
    # $filter listing) see it as it was before (404 Request_ResourceNotFound, or left out
    # of $filter results, when it was just created).  0 = always consistent.
    "eventualConsistencyReads": 0,
    # learn.microsoft.com/graph/json-batching: "dependsOn" orders requests, and a
    # request whose dependency failed answers 424 (Failed Dependency).  false ignores
    # dependsOn, as the simulator once did.
    "batchDependsOn": True,
    # Graph compresses a response when the client asks for it (Accept-Encoding: gzip;
    # the Graph SDKs' default middleware includes a compression handler,
    # learn.microsoft.com/graph/sdks/customize-client).  false always answers identity.
    "gzipWhenAsked": True,
    # graph-facts §2: the doc-recommended filter uses "eq"; Microsoft's own cmdlet sends
    # "any(o:o/category ne null)" without ConsistencyLevel (§11.2).  true accepts that
    # form without advanced-query headers.
    "provisioningErrorNeNullWithoutAdvanced": False,
    # graph-facts §3 ($batch): responses "might appear in a different order than the
    # requests".  true returns them in reverse order so clients must match on "id".
    "batchReverseResponses": False,
    # Page size of delta responses when the client sends no Prefer: odata.maxpagesize
    # (graph-facts §2: delta does not support $top).
    "deltaPageSize": 100,
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
