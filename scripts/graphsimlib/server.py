"""HTTP(S) front end: routing between the token endpoint, Graph v1.0 and /_sim/, fault
injection, request logging, and the command line."""

import argparse
import gzip
import ipaddress
import json
import os
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import auth, control, faults, graph
from .scenario import ScenarioError, generate
from .state import Simulator
from .util import dumps

TOKEN_PATH = re.compile(r"^/([^/]+)/oauth2/v2\.0/token/?$")
MAX_BODY = 8 * 1024 * 1024
LOGGED_HEADERS = ("client-request-id", "consistencylevel", "prefer", "content-type",
                  "user-agent", "x-ms-throttle-priority", "return-client-request-id",
                  "accept-encoding")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "graphsim"
    # Headers and body leave in two writes; with Nagle on, a body shorter
    # than one segment waits for the client's delayed ACK of the headers
    # (about 40 ms per response on Linux), a stall of this server that no
    # Graph front end shows and that would dominate paging benchmarks.
    disable_nagle_algorithm = True

    def version_string(self):
        return self.server_version
    timeout = 120

    # ----- connection handling ---------------------------------------------------------
    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
        super().setup()

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("graphsim: %s - %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self._dispatch()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = do_GET

    @property
    def sim(self):
        return self.server.sim

    def _base(self):
        host = self.headers.get("Host")
        if not host:
            addr, port = self.server.server_address[:2]
            host = ("[%s]:%d" if ":" in addr else "%s:%d") % (addr, port)
        return "%s://%s" % (self.server.scheme, host)

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def _send(self, status, body=b"", content_type="application/json", headers=None,
              extra=None):
        if not isinstance(body, bytes):
            body = dumps(body)
        if extra is not None:
            extra["status"] = status
            extra["bytes"] = len(body)
            # Logged before the client can have the answer, so a client that reads the
            # log right after its request finds it there.
            self._log(extra)
        self.send_response(status)
        if body or status not in (204, 304):
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _log(self, entry):
        """Logs the request of `entry` once (the first call wins)."""
        if self._logged is entry:
            return
        self._logged = entry
        entry["durationMs"] = round((time.monotonic() - self._started) * 1000, 1)
        self.sim.log_request(entry, self._epoch)

    # ----- dispatch -----------------------------------------------------------------------
    def _dispatch(self):
        self._started = time.monotonic()
        self._epoch = self.sim.log_epoch
        self._logged = None
        split = urllib.parse.urlsplit(self.path)
        path = split.path
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        entry = {"method": self.command, "path": path, "query": query,
                 "headers": {h: self.headers[h] for h in LOGGED_HEADERS if h in self.headers},
                 "hasAuthorization": "Authorization" in self.headers,
                 "authScheme": (self.headers.get("Authorization") or " ").split(" ")[0] or None}
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self._send(413, {"error": {"code": "RequestEntityTooLarge",
                                       "message": "The request body is too large."}}, extra=entry)
            return
        try:
            if path == "/_sim" or path.startswith("/_sim/"):
                status, out = control.handle(self.sim, self.command, path, query, body)
                self._send(status, out)
                return  # control calls are not logged: the log is for the client's requests
            if self.server.latency:
                # --latency-ms: the time a request spends on the way to Graph and back, so
                # that a client's concurrency shows in benchmarks (control calls are exempt).
                self.server.stopping.wait(self.server.latency)
            match = TOKEN_PATH.match(path)
            if match:
                self._token(match.group(1), body, entry)
            elif path.startswith("/v1.0/") or path == "/v1.0":
                self._graph(path[len("/v1.0"):], query, body, entry)
            else:
                req = graph.Request(self.command, path, query, self._lower_headers(), body,
                                    self._base(), None, None)
                self._send_graph(graph.error(req, 404, "UnknownError", "Resource not found: %s"
                                             % path), req, entry)
        except (ConnectionError, ssl.SSLError, socket.timeout):
            self.close_connection = True
            entry.setdefault("status", "connection-error")
        except Exception:
            # A simulator bug must show up as a 500 the test can see, not a dropped socket.
            traceback.print_exc()
            self.close_connection = True
            self._send(500, {"error": {"code": "graphsimInternalError",
                                       "message": traceback.format_exc(limit=3)}}, extra=entry)
        finally:
            if not (path == "/_sim" or path.startswith("/_sim/")):
                self._log(entry)

    def _lower_headers(self):
        return {k.lower(): v for k, v in self.headers.items()}

    # ----- token endpoint -------------------------------------------------------------------
    def _token(self, tenant_key, body, entry):
        entry["kind"] = "token"
        if self._apply_pre_fault(entry, is_token=True):
            return
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                           keep_blank_values=True))
        entry["form"] = {k: form[k] for k in ("grant_type", "client_id", "scope",
                                              "client_assertion_type") if k in form}
        entry["credential"] = ("assertion" if "client_assertion" in form else
                               "secret" if "client_secret" in form else
                               "basic" if entry["authScheme"] == "Basic" else None)
        if self.command != "POST":
            status, out = 405, {"error": "invalid_request",
                                "error_description": "AADSTS900561: The endpoint only accepts "
                                                     "POST requests."}
        else:
            with self.sim.lock:
                status, out = auth.token_request(self.sim, tenant_key, form,
                                                 self.headers.get("Authorization"), self._base(),
                                                 self.headers.get("client-request-id"))
        tenant = self.sim.tenant_by_key(tenant_key)
        entry["tenant"] = tenant.id if tenant else tenant_key
        if tenant is not None:
            self.sim.throttle.note_http(tenant.id, token=True)
        self._send(status, out, "application/json; charset=utf-8",
                   {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}, extra=entry)

    # ----- Graph ------------------------------------------------------------------------------
    def _graph(self, path, query, body, entry):
        entry["kind"] = "graph"
        fault = self._apply_pre_fault(entry)
        if fault is True:
            return
        headers = self._lower_headers()
        req = graph.Request(self.command, path, query, headers, body, self._base(), None, None)
        req.url_length = len(self._base()) + len(self.path)  # the URL as sent
        authz = self.headers.get("Authorization") or ""
        token = authz[7:].strip() if authz[:7].lower() == "bearer " else ""
        if not token:
            response = self._unauthorized(req, "Access token is empty.")
        else:
            issued, reason = self.sim.tokens.lookup(token, self.sim.clock.timestamp())
            tenant = self.sim.tenants.get(issued.tenant_id) if issued else None
            if issued is None or tenant is None:
                response = self._unauthorized(
                    req, "Lifetime validation failed, the token is expired." if reason == "expired"
                    else "Access token validation failure. Invalid audience.")
            else:
                req.tenant, req.issued = tenant, issued
                entry["tenant"], entry["appId"] = tenant.id, issued.app_id
                self.sim.throttle.note_http(tenant.id)
                with self.sim.lock:
                    response = graph.handle(self.sim, req)
        if fault is not None and fault is not True:
            if self._apply_post_fault(fault, response, req, entry):
                return
        self._send_graph(response, req, entry)

    def _unauthorized(self, req, message):
        # Graph's error body (https://learn.microsoft.com/graph/errors); an expired or
        # foreign token gets 401 InvalidAuthenticationToken.
        return graph.error(req, 401, "InvalidAuthenticationToken", message, {
            "WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.'
                                'com/common/oauth2/authorize", client_id="00000003-0000-0000-'
                                'c000-000000000000"'})

    def _send_graph(self, response, req, entry):
        headers = {"request-id": req.request_id, "client-request-id": req.client_request_id,
                   "x-ms-ags-diagnostic": '{"ServerInfo":{"DataCenter":"graphsim"}}'}
        headers.update(response.headers)
        body = response.body if response.body is not None else b""
        if body and self._wants_gzip(req):
            # settings.py "gzipWhenAsked": Graph compresses when the client asks.
            body = gzip.compress(body if isinstance(body, bytes) else dumps(body))
            headers["Content-Encoding"] = "gzip"
            headers["Vary"] = "Accept-Encoding"
            entry["contentEncoding"] = "gzip"
        self._send(response.status, body, response.content_type, headers, extra=entry)

    def _wants_gzip(self, req):
        if req.tenant is not None and not req.tenant.settings["gzipWhenAsked"]:
            return False
        for part in (self.headers.get("Accept-Encoding") or "").split(","):
            name, _, params = part.strip().partition(";")
            if name.strip().lower() in ("gzip", "x-gzip") and params.replace(" ", "") != "q=0":
                return True
        return False

    # ----- faults ---------------------------------------------------------------------------
    def _apply_pre_fault(self, entry, is_token=False):
        """Returns True when the fault produced the whole response, the Fault when it must
        shape the real response, or None."""
        fault = self.sim.faults.take(self.command, self.path, is_token)
        if fault is None:
            return None
        entry["fault"] = fault.kind
        req = graph.Request(self.command, self.path, {}, self._lower_headers(), b"",
                            self._base(), None, None)
        kind = fault.kind
        if kind in faults.STATUS_KINDS:
            self._send_graph(graph.injected_error(req, kind, fault.retry_after), req, entry)
            return True
        if kind == "expired-page-token":
            # Large tenants get 400 Directory_ExpiredPageToken part-way through paging,
            # notably with default-mode lambda filters
            # (https://github.com/microsoftgraph/msgraph-sdk-dotnet/issues/2254,
            # https://github.com/microsoftgraph/msgraph-sdk-java/issues/368); the listing must
            # start again from the first page.
            self._send_graph(graph.error(req, 400, "Directory_ExpiredPageToken",
                                         "The specified page token value has expired and "
                                         "can no longer be included in your request."),
                             req, entry)
            return True
        if kind == "revoked-token":
            # An access token revoked between two pages of a listing: every token issued
            # so far is void and this page gets 401 InvalidAuthenticationToken
            # (https://learn.microsoft.com/graph/errors), so the client must ask for a
            # new token before it goes on.
            self.sim.tokens.expire_all()
            self._send_graph(self._unauthorized(req, "Access token has been revoked."),
                             req, entry)
            return True
        if kind in ("reset", "hang"):
            if kind == "hang":
                self.server.stopping.wait(fault.seconds)
            self._abort(reset=kind == "reset")
            entry["status"] = kind
            return True
        if kind == "delay":
            self.server.stopping.wait(fault.seconds)
            return None
        return fault

    def _abort(self, reset):
        self.close_connection = True
        try:
            if reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _apply_post_fault(self, fault, response, req, entry):
        kind = fault.kind
        if kind == "foreign-nextlink":
            if isinstance(response.body, dict) and response.status == 200:
                link = response.body.get("@odata.nextLink") or (
                    req.base + "/v1.0" + req.path + "?$skiptoken=graphsim-foreign")
                split = urllib.parse.urlsplit(link)
                response.body["@odata.nextLink"] = fault.host.rstrip("/") + split.path + (
                    "?" + split.query if split.query else "")
            return False
        headers = {"request-id": req.request_id, "client-request-id": req.client_request_id}
        if kind == "malformed":
            body = b'{"@odata.context":"' + req.base.encode() + b'/v1.0/$metadata#users","value":[{"id":"'
            self._send(200, body, graph.JSON_TYPE, headers, extra=entry)
            return True
        if kind == "content-type":
            body = (b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>"
                    b"<p>Proxy authentication required.</p></body></html>")
            self._send(200, body, "text/html; charset=utf-8", headers, extra=entry)
            return True
        body = response.body if isinstance(response.body, bytes) else dumps(response.body or {})
        if kind == "truncated":
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body[:max(1, len(body) // 2)])
            self.wfile.flush()
            self._abort(reset=False)
            entry["status"] = "truncated"
            return True
        if kind == "oversized":
            size = max(fault.bytes, 64)
            self.send_response(200)
            self.send_header("Content-Type", graph.JSON_TYPE)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            head, tail = b'{"value":[],"padding":"', b'"}'
            self.wfile.write(head)
            remaining = size - len(head) - len(tail)
            chunk = b"x" * 65536
            try:
                while remaining > 0:
                    n = min(remaining, len(chunk))
                    self.wfile.write(chunk[:n])
                    remaining -= n
                self.wfile.write(tail)
            except OSError:
                self.close_connection = True
            entry.update(status=200, bytes=size)
            return True
        return False


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, host, port, sim, ssl_context=None, verbose=False, latency_ms=0):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sim = sim
        self.latency = max(0, latency_ms) / 1000.0
        self.ssl_context = ssl_context
        self.scheme = "https" if ssl_context else "http"
        self.verbose = verbose
        self.stopping = threading.Event()
        super().__init__((host, port), Handler)

    def get_request(self):
        sock, addr = super().get_request()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)

    @property
    def url(self):
        host, port = self.server_address[:2]
        return "%s://%s:%d" % (self.scheme, "[%s]" % host if ":" in host else host, port)

    def start_background(self):
        """Serve on a thread (used by the tests) and tick the clock."""
        thread = threading.Thread(target=self.serve_forever, name="graphsim", daemon=True)
        thread.start()
        self._ticker = threading.Thread(target=self._tick_loop, daemon=True)
        self._ticker.start()
        return thread

    def _tick_loop(self):
        # --clock auto: the sweep runs in real time at --sweep-interval.
        while not self.stopping.wait(0.25):
            try:
                self.sim.tick()
            except Exception as exc:  # keep ticking; report once per failure
                sys.stderr.write("graphsim: sweep failed: %r\n" % exc)

    def stop(self):
        self.stopping.set()
        self.shutdown()
        self.server_close()


def loopback_host(host):
    """Only loopback addresses may be bound (design requirement: nothing here may be
    reachable from another machine)."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise SystemExit("graphsim: --host must be a loopback address, not %r" % host)
    if not addr.is_loopback:
        raise SystemExit("graphsim: refusing to bind non-loopback address %s" % host)
    return str(addr)


def make_ssl_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


def write_port_file(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def serve_parser():
    p = argparse.ArgumentParser(
        prog="graphsim",
        description="Tenant simulator: a stateful stand-in for the Microsoft Entra ID token "
                    "endpoint and Microsoft Graph v1.0 (users, groups, contacts, delta, $batch, "
                    "PATCH onPremisesImmutableId) with Duplicate Attribute Resiliency, "
                    "throttling and fault injection.  Serves {base}/{tenant}/oauth2/v2.0/token, "
                    "{base}/v1.0/... and the control API {base}/_sim/... on one port.",
        epilog="Subcommand: 'graphsim generate --help' writes a large deterministic scenario. "
               "Documentation: scripts/graphsimlib/README.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--host", default="127.0.0.1",
                   help="loopback address to bind (127.0.0.1, ::1 or localhost; others are refused)")
    p.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free port")
    p.add_argument("--port-file", metavar="PATH",
                   help="write the bound port number here (atomically: temp file + rename)")
    p.add_argument("--tls-cert", metavar="PEM", help="server certificate (chain); enables HTTPS")
    p.add_argument("--tls-key", metavar="PEM", help="private key of --tls-cert")
    p.add_argument("--scenario", metavar="FILE", help="scenario JSON to load at start")
    p.add_argument("--token-lifetime", type=int, default=3599, metavar="SECONDS",
                   help="access-token lifetime (expires_in); a tenant setting can override it")
    p.add_argument("--sweep-interval", type=float, default=3600.0, metavar="SECONDS",
                   help="simulated seconds between DAR release sweeps (the service runs it hourly)")
    p.add_argument("--clock", choices=("auto", "manual"), default="auto",
                   help="auto: simulated time follows the wall clock (plus any advance); "
                        "manual: it moves only through POST /_sim/clock/advance")
    p.add_argument("--latency-ms", type=float, default=0, metavar="MS",
                   help="delay every token and Graph request (not /_sim/) by MS milliseconds "
                        "before it is handled, as the network and the service would")
    p.add_argument("--log-requests", metavar="FILE",
                   help="also append every request-log entry to FILE as JSON lines")
    p.add_argument("--verbose", action="store_true", help="log each HTTP request to stderr")
    return p


def generate_parser():
    p = argparse.ArgumentParser(
        prog="graphsim generate",
        description="Write a deterministic large-tenant scenario (same options and seed, same "
                    "file).  Conflicts are exported through the simulator's DAR logic at load "
                    "time: even ones are UPN conflicts with cloud-only users, odd ones proxy "
                    "address conflicts; about 1%% more are group and contact conflicts.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--users", type=int, default=1000, help="number of users (conflicting ones included)")
    p.add_argument("--conflicts", type=int, default=0, help="number of conflicting exported users")
    p.add_argument("--groups", type=int, default=0, help="number of mail-enabled groups")
    p.add_argument("--contacts", type=int, default=0, help="number of organizational contacts")
    p.add_argument("--seed", type=int, default=1, help="random seed")
    p.add_argument("--tenant-id", default="11111111-2222-4333-8444-555555555555")
    p.add_argument("--initial-domain", default="contoso", help="<label>.onmicrosoft.com")
    p.add_argument("--domain", default="contoso.com", help="verified domain used for addresses")
    p.add_argument("--client-id", default="00000000-0000-4000-8000-00000000c11e")
    p.add_argument("--secret", default="graphsim-secret")
    p.add_argument("--roles", default="User.Read.All", help="comma-separated app roles")
    p.add_argument("--expand", action="store_true",
                   help="write every object and export instead of a compact 'generate' spec")
    p.add_argument("--out", required=True, metavar="FILE", help="output scenario file ('-' = stdout)")
    return p


def run_generate(argv):
    args = generate_parser().parse_args(argv)
    spec = {"users": args.users, "conflicts": args.conflicts, "groups": args.groups,
            "contacts": args.contacts, "seed": args.seed}
    tenant = {"id": args.tenant_id, "initialDomain": args.initial_domain,
              "domains": [args.domain],
              "apps": [{"clientId": args.client_id, "secret": args.secret,
                        "roles": [r for r in args.roles.split(",") if r]}]}
    if args.expand:
        try:
            tenant.update(generate(args.tenant_id, args.initial_domain, args.domain, spec))
        except ScenarioError as exc:
            raise SystemExit("graphsim generate: %s" % exc)
    else:
        tenant["generate"] = spec
    scenario = {"description": "Generated tenant: %d users, %d conflicts, %d groups, %d "
                               "contacts, seed %d" % (args.users, args.conflicts, args.groups,
                                                      args.contacts, args.seed),
                "seed": args.seed, "tenants": [tenant]}
    text = json.dumps(scenario, indent=1 if not args.expand else None, sort_keys=False)
    if args.out == "-":
        sys.stdout.write(text + "\n")
    else:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, args.out)
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "generate":
        return run_generate(argv[1:])
    args = serve_parser().parse_args(argv)
    host = loopback_host(args.host)
    if bool(args.tls_cert) != bool(args.tls_key):
        raise SystemExit("graphsim: --tls-cert and --tls-key go together")
    sim = Simulator(args.clock, args.token_lifetime, args.sweep_interval, args.log_requests)
    if args.scenario:
        try:
            with open(args.scenario) as f:
                data = json.load(f)
            sim.load(data, os.path.dirname(os.path.abspath(args.scenario)))
        except (OSError, ValueError, ScenarioError) as exc:
            raise SystemExit("graphsim: cannot load %s: %s" % (args.scenario, exc))
    ctx = make_ssl_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    if args.latency_ms < 0:
        raise SystemExit("graphsim: --latency-ms must not be negative")
    server = SimServer(host, args.port, sim, ctx, args.verbose, args.latency_ms)

    def stop(signum, frame):
        threading.Thread(target=server.stop, daemon=True).start()

    # The handlers are in place before anyone can learn the port: a test
    # that signals right after reading the banner must see a clean stop.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file:
        write_port_file(args.port_file, server.server_address[1])
    print("graphsim: listening on %s" % server.url, flush=True)
    ticker = threading.Thread(target=server._tick_loop, daemon=True)
    ticker.start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.stopping.set()
        sim.close()
    return 0
