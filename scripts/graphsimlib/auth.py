"""The v2.0 token endpoint (client credentials) and access-token validation.

Sources: docs/graph-facts.md#client-credentials-tokens, from
https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow,
https://learn.microsoft.com/entra/identity-platform/certificate-credentials and
https://learn.microsoft.com/entra/identity-platform/reference-error-codes.
"""

import base64
import hashlib
import json
import os
import secrets
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse

from .util import b64url, b64url_decode, rand_guid

GRAPH_RESOURCE = "https://graph.microsoft.com"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# An assertion's exp is at most 5 to 10 minutes after its nbf
# (https://learn.microsoft.com/entra/identity-platform/certificate-credentials); the
# simulator allows five minutes of clock skew on nbf/exp.
CLOCK_SKEW = 300


class Certificate:
    """A certificate registered on an app, with the thumbprints the JWT header names.

    x5t is the base64url SHA-1 thumbprint (older page, RS256); x5t#S256 the base64url
    SHA-256 thumbprint of the certificate's DER form (current page, PS256); see
    docs/graph-facts.md#client-credentials-tokens."""

    _workdir = None
    _lock = threading.Lock()

    def __init__(self, pem):
        self.pem = pem
        der = ssl.PEM_cert_to_DER_cert(pem)
        self.x5t = b64url(hashlib.sha1(der).digest())
        self.x5t_s256 = b64url(hashlib.sha256(der).digest())
        proc = subprocess.run(["openssl", "x509", "-pubkey", "-noout"], input=pem.encode(),
                              capture_output=True, check=False)
        if proc.returncode != 0:
            raise ValueError("openssl could not read the certificate: %s" % proc.stderr.decode())
        with Certificate._lock:
            if Certificate._workdir is None:
                Certificate._workdir = tempfile.mkdtemp(prefix="graphsim-keys-")
        self.pubkey_path = os.path.join(Certificate._workdir, self.x5t_s256 + ".pem")
        with open(self.pubkey_path, "wb") as f:
            f.write(proc.stdout)

    def verify(self, alg, signing_input, signature):
        """RS256 = RSASSA-PKCS1-v1_5 with SHA-256; PS256 = RSASSA-PSS with SHA-256 and a
        salt as long as the digest (https://www.rfc-editor.org/rfc/rfc7518#section-3.5).
        Checked with the openssl CLI."""
        with tempfile.NamedTemporaryFile(dir=Certificate._workdir, suffix=".sig") as sig:
            sig.write(signature)
            sig.flush()
            cmd = ["openssl", "dgst", "-sha256", "-verify", self.pubkey_path,
                   "-signature", sig.name]
            if alg == "PS256":
                cmd += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"]
            proc = subprocess.run(cmd, input=signing_input, capture_output=True, check=False)
        return proc.returncode == 0


class App:
    def __init__(self, client_id, secret=None, secret_expired=False, certificates=(),
                 roles=(), disabled=False, display_name=None):
        self.client_id = client_id.lower()
        self.secret = secret
        self.secret_expired = secret_expired
        self.certificates = [Certificate(pem) for pem in certificates]
        self.roles = list(roles)
        self.disabled = disabled
        self.display_name = display_name or "graphsim app"

    def describe(self):
        return {"clientId": self.client_id, "roles": self.roles, "disabled": self.disabled,
                "secretExpired": self.secret_expired,
                "certificates": [{"x5t": c.x5t, "x5t#S256": c.x5t_s256}
                                 for c in self.certificates]}


class Issued:
    __slots__ = ("tenant_id", "app_id", "roles", "expires", "revoked")

    def __init__(self, tenant_id, app_id, roles, expires):
        self.tenant_id, self.app_id, self.roles, self.expires = tenant_id, app_id, roles, expires
        self.revoked = False


class TokenStore:
    def __init__(self):
        self._lock = threading.Lock()
        self._tokens = {}
        self._jti_seen = {}

    def issue(self, tenant_id, app, lifetime, now, base):
        """Access tokens look like JWTs (three base64url parts) but only this process can
        validate them: the simulator keeps the mapping token -> (tenant, app, expiry)."""
        header = {"typ": "JWT", "alg": "RS256", "kid": "graphsim"}
        payload = {"aud": GRAPH_RESOURCE, "iss": "%s/%s/v2.0" % (base, tenant_id),
                   "tid": tenant_id, "appid": app.client_id, "azp": app.client_id,
                   "roles": app.roles, "idtyp": "app", "iat": int(now), "nbf": int(now),
                   "exp": int(now + lifetime), "uti": secrets.token_urlsafe(16)}
        token = ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode()),
                          b64url(secrets.token_bytes(64))])
        with self._lock:
            self._tokens[token] = Issued(tenant_id, app.client_id, list(app.roles), now + lifetime)
        return token

    def lookup(self, token, now):
        """Returns (Issued, None) or (None, reason)."""
        with self._lock:
            issued = self._tokens.get(token)
        if issued is None:
            return None, "unknown"
        if issued.revoked or now >= issued.expires:
            return None, "expired"
        return issued, None

    def expire_all(self):
        with self._lock:
            for issued in self._tokens.values():
                issued.revoked = True
            return len(self._tokens)

    def clear(self):
        with self._lock:
            self._tokens.clear()
            self._jti_seen.clear()

    def remember_jti(self, jti, until):
        with self._lock:
            now = time.time()
            for key in [k for k, v in self._jti_seen.items() if v < now]:
                del self._jti_seen[key]
            if jti in self._jti_seen:
                return False
            self._jti_seen[jti] = until
            return True


class TokenError(Exception):
    def __init__(self, status, error, code, description):
        super().__init__(description)
        self.status, self.error, self.code, self.description = status, error, code, description


def aad_error_body(err, timestamp, correlation_id=None):
    """error, error_description, error_codes (array of ints), timestamp, trace_id,
    correlation_id and optionally error_uri
    (https://learn.microsoft.com/entra/identity-platform/reference-error-codes)."""
    trace_id, correlation_id = rand_guid(), correlation_id or rand_guid()
    ts = timestamp.strftime("%Y-%m-%d %H:%M:%SZ")
    return {"error": err.error,
            "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s"
                                 % (err.code, err.description, trace_id, correlation_id, ts),
            "error_codes": [err.code], "timestamp": ts, "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": "https://login.microsoftonline.com/error?code=%d" % err.code}


def _scope_ok(scope, base):
    """scope=https://graph.microsoft.com/.default, all scopes for one resource
    (docs/graph-facts.md#client-credentials-tokens).  The simulator's own origin is
    accepted as well, as a national cloud's Graph root is
    (docs/graph-facts.md#national-clouds)."""
    if not scope:
        return False
    scopes = scope.split()
    return len(scopes) == 1 and scopes[0].rstrip("/") in (
        GRAPH_RESOURCE + "/.default", base.rstrip("/") + "/.default")


def _client_credentials(form, authorization):
    client_id = form.get("client_id")
    secret = form.get("client_secret")
    if authorization and authorization.lower().startswith("basic "):
        # HTTP Basic authentication is accepted instead of client_secret
        # (docs/graph-facts.md#client-credentials-tokens); both parts are form-urlencoded
        # before base64 (https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1).
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode()
            user, _, password = decoded.partition(":")
        except (ValueError, UnicodeDecodeError):
            raise TokenError(401, "invalid_client", 7000218, "The request body must contain the "
                             "following parameter: 'client_assertion' or 'client_secret'.")
        client_id = client_id or urllib.parse.unquote_plus(user)
        secret = urllib.parse.unquote_plus(password)
    return client_id, secret


def token_request(sim, tenant_key, form, authorization, base, correlation_id):
    """Handle POST /{tenant}/oauth2/v2.0/token.  Returns (status, body dict)."""
    now_dt = sim.clock.now()
    try:
        return 200, _token_request(sim, tenant_key, form, authorization, base, now_dt)
    except TokenError as err:
        return err.status, aad_error_body(err, now_dt, correlation_id)


def _token_request(sim, tenant_key, form, authorization, base, now_dt):
    tenant = sim.tenant_by_key(tenant_key)
    if tenant is None:
        # AADSTS90002 "InvalidTenantName - The tenant name wasn't found in the data store."
        raise TokenError(400, "invalid_request", 90002, "Tenant '%s' not found. Check to make "
                         "sure you have the correct tenant ID and are signing into the correct "
                         "cloud." % tenant_key)
    if form.get("grant_type") != "client_credentials":
        # The documented error values include unsupported_grant_type
        # (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
        raise TokenError(400, "unsupported_grant_type", 70003, "The app requested an "
                         "unsupported grant type '%s'." % form.get("grant_type"))
    client_id, secret = _client_credentials(form, authorization)
    if not client_id:
        raise TokenError(400, "invalid_request", 900144, "The request body must contain the "
                         "following parameter: 'client_id'.")
    app = tenant.apps.get(client_id.lower())
    if app is None:
        # AADSTS700016 "UnauthorizedClient_DoesNotMatchRequest - The application wasn't
        # found in the directory/tenant."
        raise TokenError(400, "unauthorized_client", 700016, "Application with identifier "
                         "'%s' was not found in the directory '%s'. This can happen if the "
                         "application has not been installed by the administrator of the tenant "
                         "or consented to by any user in the tenant." % (client_id, tenant_key))
    if app.disabled:
        raise TokenError(400, "unauthorized_client", 7000112, "Application '%s'(%s) is "
                         "disabled." % (app.client_id, app.display_name))
    if not _scope_ok(form.get("scope"), base):
        # AADSTS70011 "InvalidScope - The scope requested by the app is invalid."
        raise TokenError(400, "invalid_scope", 70011, "The provided value for the input "
                         "parameter 'scope' is not valid. The scope %s is not valid."
                         % form.get("scope"))
    assertion = form.get("client_assertion")
    if assertion is not None:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise TokenError(400, "invalid_request", 700010, "Invalid client_assertion_type "
                             "'%s'." % form.get("client_assertion_type"))
        _verify_assertion(sim, tenant, tenant_key, app, assertion, base)
    elif secret is not None:
        # Community tables map 7000215/7000222 to invalid_client; one fixture shows 401
        # (docs/graph-facts.md#client-credentials-tokens).  The simulator answers 401.
        if app.secret is None or not secrets.compare_digest(secret.encode(), app.secret.encode()):
            raise TokenError(401, "invalid_client", 7000215, "Invalid client secret provided. "
                             "Ensure the secret being sent in the request is the client secret "
                             "value, not the client secret ID, for a secret added to app '%s'."
                             % app.client_id)
        if app.secret_expired:
            raise TokenError(401, "invalid_client", 7000222, "The provided client secret keys "
                             "for app '%s' are expired. Visit the Azure portal to create new "
                             "keys for your app." % app.client_id)
    else:
        raise TokenError(401, "invalid_client", 7000218, "The request body must contain the "
                         "following parameter: 'client_assertion' or 'client_secret'.")
    lifetime = tenant.settings["tokenLifetimeSeconds"] or sim.token_lifetime
    token = sim.tokens.issue(tenant.id, app, lifetime, now_dt.timestamp(), base)
    # token_type, expires_in and access_token, as in the sample of
    # https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
    return {"token_type": "Bearer", "expires_in": int(lifetime),
            "ext_expires_in": int(lifetime), "access_token": token}


def _verify_assertion(sim, tenant, tenant_key, app, assertion, base):
    """Validate a client assertion's header and claims
    (docs/graph-facts.md#client-credentials-tokens)."""
    parts = assertion.split(".")
    try:
        if len(parts) != 3:
            raise ValueError("not three parts")
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise ValueError("not objects")
    except ValueError:
        # AADSTS50027, invalid JWT
        # (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
        raise TokenError(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
    alg = header.get("alg")
    if alg not in ("RS256", "PS256") or not signature:
        # AADSTS900384 "JWT token failed signature validation." - an unsigned or
        # non-RSA token cannot be validated at all.
        raise TokenError(400, "invalid_request", 900384, "JWT token failed signature validation. "
                         "Actual: '%s', Expected: 'RS256 or PS256'." % alg)
    cert = None
    for candidate in app.certificates:
        if header.get("x5t#S256") and header["x5t#S256"] == candidate.x5t_s256:
            cert = candidate
        elif header.get("x5t") and header["x5t"] == candidate.x5t:
            cert = candidate
    if cert is None:
        # AADSTS700027 "Client assertion failed signature validation." (the key named by
        # x5t / x5t#S256 is not registered on the app)
        raise TokenError(401, "invalid_client", 700027, "Client assertion failed signature "
                         "validation. (Reason - The key was not found., Thumbprint of key used "
                         "by client: '%s')" % (header.get("x5t#S256") or header.get("x5t")))
    if not cert.verify(alg, (parts[0] + "." + parts[1]).encode(), signature):
        raise TokenError(401, "invalid_client", 700027, "Client assertion failed signature "
                         "validation. (Reason - The provided signature value did not match the "
                         "expected signature value.)")
    # learn.microsoft.com/azure/developer/java/sdk/troubleshooting-authentication-service-principal:
    # AADSTS700021 "Client assertion application identifier doesn't match 'client_id'
    # parameter"; AADSTS700023 "audience claim does not match the Realm issuer";
    # AADSTS700024 "Client assertion is not within its valid time range."
    if claims.get("iss", "").lower() != app.client_id or claims.get("sub", "").lower() != app.client_id:
        raise TokenError(400, "invalid_request", 700021, "Client assertion application "
                         "identifier doesn't match 'client_id' parameter.")
    accepted = {("%s/%s/oauth2/v2.0/token" % (base, key)).lower()
                for key in [tenant.id, tenant_key] + tenant.all_domains()}
    if str(claims.get("aud", "")).lower() not in accepted:
        raise TokenError(400, "invalid_request", 700023, "Client assertion audience claim does "
                         "not match Realm issuer. Expected: '%s/%s/oauth2/v2.0/token'."
                         % (base, tenant.id))
    # The assertion is checked against real time: the client signs it with its own clock,
    # which does not follow /_sim/clock/advance.
    now = time.time()
    try:
        exp, nbf = float(claims["exp"]), float(claims.get("nbf", claims.get("iat", 0)))
    except (KeyError, TypeError, ValueError):
        raise TokenError(400, "invalid_request", 50027, "JWT token is invalid or malformed: "
                         "exp is missing.")
    if now > exp + CLOCK_SKEW or now < nbf - CLOCK_SKEW:
        raise TokenError(400, "invalid_client", 700024, "Client assertion is not within its "
                         "valid time range. Current time: %s, assertion valid from %s, expiry "
                         "time of assertion %s." % (int(now), int(nbf), int(exp)))
    jti = claims.get("jti")
    if not jti:
        raise TokenError(400, "invalid_request", 50027, "JWT token is invalid or malformed: "
                         "jti is missing.")
    if not sim.tokens.remember_jti(jti, exp + CLOCK_SKEW):
        # AADSTS50013 "InvalidAssertion - Assertion is invalid because of various reasons"
        raise TokenError(400, "invalid_grant", 50013, "Assertion is invalid: the assertion "
                         "identifier (jti) '%s' was already used." % jti)
