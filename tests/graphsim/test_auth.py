"""Token endpoint: secrets (form and Basic), certificate assertions (RS256/x5t and
PS256/x5t#S256 signed with the openssl CLI), AADSTS error bodies, token expiry."""

import base64
import json
import os
import subprocess
import time
import unittest
import urllib.parse
import uuid

from simtest import (CONTOSO, EXPIRED, READER, WRITER, SimTestCase, cert_dir,
                     load_scenario)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CERT_APP = "3c4d5e6f-7081-4b9c-8dbe-2f3a4b5c6d7e"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprints(pem_path):
    import hashlib
    import ssl
    with open(pem_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return b64url(hashlib.sha1(der).digest()), b64url(hashlib.sha256(der).digest())


def sign_jwt(header, claims, key_path, alg):
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode())).encode()
    cmd = ["openssl", "dgst", "-sha256", "-sign", key_path]
    if alg == "PS256":
        cmd += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"]
    sig = subprocess.run(cmd, input=signing_input, capture_output=True, check=True).stdout
    return signing_input.decode() + "." + b64url(sig)


class SecretTest(SimTestCase):
    scenario = "existing-cloud-account.json"

    def assertAadError(self, reply, status, error, code):
        self.assertEqual(reply.status, status, reply.raw)
        body = reply.json
        self.assertEqual(body["error"], error)
        self.assertEqual(body["error_codes"], [code])
        self.assertTrue(body["error_description"].startswith("AADSTS%d:" % code))
        for field in ("timestamp", "trace_id", "correlation_id"):
            self.assertIn(field, body)
        self.assertIn("Trace ID: " + body["trace_id"], body["error_description"])
        return body

    def test_secret_in_form(self):
        reply = self.token_reply()
        self.assertEqual(reply.status, 200)
        body = reply.json
        self.assertEqual(body["token_type"], "Bearer")
        self.assertEqual(body["expires_in"], 3599)
        self.assertEqual(len(body["access_token"].split(".")), 3)

    def test_secret_with_basic_auth_and_domain_tenant(self):
        basic = base64.b64encode(("%s:%s" % (READER, urllib.parse.quote_plus("reader-secret")))
                                 .encode()).decode()
        reply = self.token_reply(tenant="contoso.onmicrosoft.com", client_id=None, secret=None,
                                 headers={"Authorization": "Basic " + basic})
        self.assertEqual(reply.status, 200, reply.raw)
        reply = self.token_reply(tenant="contoso.com")
        self.assertEqual(reply.status, 200, reply.raw)

    def test_simulator_origin_scope_is_accepted(self):
        self.assertEqual(self.token_reply(scope=self.base + "/.default").status, 200)

    def test_errors(self):
        self.assertAadError(self.token_reply(secret="wrong"), 401, "invalid_client", 7000215)
        self.assertAadError(self.token_reply(client_id=EXPIRED, secret="expired-secret"), 401,
                            "invalid_client", 7000222)
        self.assertAadError(self.token_reply(tenant="nosuch.onmicrosoft.com"), 400,
                            "invalid_request", 90002)
        self.assertAadError(self.token_reply(client_id=str(uuid.uuid4())), 400,
                            "unauthorized_client", 700016)
        self.assertAadError(self.token_reply(scope="https://outlook.office.com/.default"), 400,
                            "invalid_scope", 70011)
        self.assertAadError(self.token_reply(scope="User.Read"), 400, "invalid_scope", 70011)
        self.assertAadError(self.token_reply(secret=None), 401, "invalid_client", 7000218)
        self.assertAadError(self.token_reply(extra={"grant_type": "password"}), 400,
                            "unsupported_grant_type", 70003)

    def test_correlation_id_echoes_client_request_id(self):
        cid = str(uuid.uuid4())
        body = self.assertAadError(self.token_reply(secret="wrong",
                                                    headers={"client-request-id": cid}),
                                   401, "invalid_client", 7000215)
        self.assertEqual(body["correlation_id"], cid)

    def test_graph_rejects_missing_foreign_and_expired_tokens(self):
        reply = self.graph("GET", "/users", token=False)
        self.assertGraphError(reply, 401, "InvalidAuthenticationToken")
        self.assertIn("Bearer", reply.header("WWW-Authenticate"))
        reply = self.graph("GET", "/users", token="eyJhbGciOiJub25lIn0.e30.c2ln")
        self.assertGraphError(reply, 401, "InvalidAuthenticationToken")
        token = self.token()
        self.assertEqual(self.graph("GET", "/users", token).status, 200)
        self.control("POST", "clock/advance", {"seconds": 3600})
        err = self.assertGraphError(self.graph("GET", "/users", token), 401,
                                    "InvalidAuthenticationToken")
        self.assertIn("expired", err["message"])

    def test_short_token_lifetime_setting(self):
        self.control("POST", "tenants/%s/settings" % CONTOSO, {"tokenLifetimeSeconds": 5})
        reply = self.token_reply()
        self.assertEqual(reply.json["expires_in"], 5)
        token = reply.json["access_token"]
        self.assertEqual(self.graph("GET", "/users", token).status, 200)
        self.control("POST", "clock/advance", {"seconds": 6})
        self.assertEqual(self.graph("GET", "/users", token).status, 401)

    def test_expire_all_tokens_mid_paging(self):
        token = self.token()
        first = self.graph("GET", "/users?$top=1", token).json
        self.assertIn("@odata.nextLink", first)
        self.control("POST", "tokens/expire")
        reply = self.graph("GET", first["@odata.nextLink"], token)
        self.assertGraphError(reply, 401, "InvalidAuthenticationToken")
        # A fresh token continues with the same nextLink.
        self.assertEqual(self.graph("GET", first["@odata.nextLink"], self.token()).status, 200)


class AssertionTest(SimTestCase):
    scenario = "existing-cloud-account.json"

    def scenario_data(self):
        data = load_scenario(self.scenario)
        data["tenants"][0]["apps"].append({
            "clientId": CERT_APP, "roles": ["User.Read.All"],
            "certificate": os.path.join(cert_dir(), "app.pem")})
        return data

    def setUp(self):
        super().setUp()
        d = cert_dir()
        self.key = os.path.join(d, "app.key")
        self.x5t, self.x5t256 = thumbprints(os.path.join(d, "app.pem"))

    def claims(self, **over):
        now = int(time.time())
        claims = {"aud": "%s/%s/oauth2/v2.0/token" % (self.base, CONTOSO), "iss": CERT_APP,
                  "sub": CERT_APP, "jti": str(uuid.uuid4()), "nbf": now, "iat": now,
                  "exp": now + 600}
        claims.update(over)
        return claims

    def post(self, assertion, tenant=CONTOSO):
        return self.token_reply(tenant=tenant, client_id=CERT_APP, secret=None, extra={
            "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion})

    def rs256(self, **over):
        return sign_jwt({"alg": "RS256", "typ": "JWT", "x5t": self.x5t}, self.claims(**over),
                        self.key, "RS256")

    def ps256(self, **over):
        return sign_jwt({"alg": "PS256", "typ": "JWT", "x5t#S256": self.x5t256},
                        self.claims(**over), self.key, "PS256")

    def test_rs256_with_x5t_is_accepted(self):
        reply = self.post(self.rs256())
        self.assertEqual(reply.status, 200, reply.raw)
        self.assertEqual(self.graph("GET", "/users", reply.json["access_token"]).status, 200)

    def test_ps256_with_x5t_s256_is_accepted(self):
        reply = self.post(self.ps256())
        self.assertEqual(reply.status, 200, reply.raw)

    def test_audience_may_name_the_tenant_by_domain(self):
        aud = "%s/contoso.onmicrosoft.com/oauth2/v2.0/token" % self.base
        self.assertEqual(self.post(self.ps256(aud=aud), tenant="contoso.onmicrosoft.com").status, 200)

    def test_tampered_payload_fails_signature_validation(self):
        header, payload, sig = self.ps256().split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["exp"] += 3600
        forged = ".".join([header, b64url(json.dumps(claims).encode()), sig])
        reply = self.post(forged)
        self.assertEqual(reply.json["error_codes"], [700027], reply.raw)
        header, payload, sig = self.rs256().split(".")
        raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
        raw[10] ^= 0xFF
        self.assertEqual(self.post(".".join([header, payload, b64url(bytes(raw))])).json["error_codes"],
                         [700027])

    def test_wrong_padding_fails(self):
        # Signed with PKCS#1 v1.5 but labelled PS256.
        token = sign_jwt({"alg": "PS256", "x5t#S256": self.x5t256}, self.claims(), self.key, "RS256")
        self.assertEqual(self.post(token).json["error_codes"], [700027])

    def test_unsigned_token_fails_signature_validation(self):
        token = b64url(json.dumps({"alg": "none", "x5t": self.x5t}).encode()) + "." + \
            b64url(json.dumps(self.claims()).encode()) + "."
        self.assertEqual(self.post(token).json["error_codes"], [900384])

    def test_unknown_thumbprint(self):
        token = sign_jwt({"alg": "RS256", "x5t": b64url(b"\x01" * 20)}, self.claims(), self.key, "RS256")
        self.assertEqual(self.post(token).json["error_codes"], [700027])

    def test_claim_checks(self):
        self.assertEqual(self.post(self.ps256(aud="https://login.microsoftonline.com/%s/oauth2/v2.0/token"
                                              % CONTOSO)).json["error_codes"], [700023])
        self.assertEqual(self.post(self.ps256(iss=READER)).json["error_codes"], [700021])
        self.assertEqual(self.post(self.ps256(sub=READER)).json["error_codes"], [700021])
        now = int(time.time())
        self.assertEqual(self.post(self.ps256(nbf=now - 3600, exp=now - 1200)).json["error_codes"],
                         [700024])
        self.assertEqual(self.post(self.ps256(nbf=now + 3600, exp=now + 4000)).json["error_codes"],
                         [700024])
        self.assertEqual(self.post(self.ps256(jti=None)).json["error_codes"], [50027])
        self.assertEqual(self.post("not-a-jwt").json["error_codes"], [50027])

    def test_replayed_jti_is_rejected(self):
        assertion = self.ps256()
        self.assertEqual(self.post(assertion).status, 200)
        self.assertEqual(self.post(assertion).json["error_codes"], [50013])

    def test_certificate_registered_at_run_time(self):
        with open(os.path.join(cert_dir(), "app.pem")) as f:
            pem = f.read()
        self.control("POST", "tenants/%s/apps" % CONTOSO, {
            "clientId": WRITER, "roles": ["User.ReadWrite.All"], "certificate": pem})
        claims = self.claims(iss=WRITER, sub=WRITER)
        token = sign_jwt({"alg": "PS256", "x5t#S256": self.x5t256}, claims, self.key, "PS256")
        reply = self.token_reply(client_id=WRITER, secret=None, extra={
            "client_assertion_type": ASSERTION_TYPE, "client_assertion": token})
        self.assertEqual(reply.status, 200, reply.raw)


if __name__ == "__main__":
    unittest.main()
