# SPDX-License-Identifier: MIT
"""The alert formats as a SIEM would read them.

The daemon sends its alerts in RFC 5424, CEF, LEEF 2.0 and JSON over TCP (RFC
6587 octet counting) to receivers this test runs on loopback.  Each stream is
read back by a parser written here from the specifications, independent of the
daemon's code, and every value must survive: pipes, equals signs, backslashes,
quotes, brackets, tabs, line breaks, non-ASCII and a very long value (cut at
2048 bytes on a character boundary in the line formats, whole in JSON).
"""
import os
import socket
import threading

from tests.e2e.harness import E2ETestCase, SCENARIOS, wait_until

MAX_VALUE = 2048


class OctetReceiver:
    """A TCP syslog receiver: RFC 6587 octet-counted frames, in arrival order."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.frames = []
        self.lock = threading.Lock()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.read, args=(conn,), daemon=True).start()

    def read(self, conn):
        with conn:
            self.frames_from(conn)

    def frames_from(self, conn):
        """Appends the frames read from conn until it is closed."""
        buf = b""
        while True:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            while True:
                sp = buf.find(b" ")
                if sp < 0:
                    break
                n = int(buf[:sp])
                if len(buf) < sp + 1 + n:
                    break
                with self.lock:
                    self.frames.append(buf[sp + 1:sp + 1 + n])
                buf = buf[sp + 1 + n:]

    def close(self):
        self.sock.close()


def cut(value):
    """What the line formats keep of a value: MAX_VALUE bytes, whole characters."""
    raw = value.encode()
    if len(raw) <= MAX_VALUE:
        return value
    return raw[:MAX_VALUE].decode("utf-8", "ignore")


def parse_5424(frame):
    """RFC 5424 section 6: header, one SD-ELEMENT, BOM and MSG."""
    text = frame.decode("utf-8")
    head, _, rest = text.partition(" [")
    pri_ver, ts, host, app, procid, msgid = head.split(" ")
    assert pri_ver.startswith("<") and pri_ver.endswith(">1"), pri_ver
    sd_id, _, rest = rest.partition(" ")
    params, i = {}, 0
    while rest[i] != "]":
        eq = rest.index("=", i)
        name = rest[i:eq]
        assert rest[eq + 1] == '"'
        j, val = eq + 2, []
        while rest[j] != '"':
            if rest[j] == "\\" and rest[j + 1] in '"\\]':
                j += 1
            val.append(rest[j])
            j += 1
        params[name] = "".join(val)
        i = j + 1
        if rest[i] == " ":
            i += 1
    msg = rest[i + 1:]
    assert msg.startswith(" \ufeff"), msg[:10]
    return {"msgid": msgid, "app": app, "sd_id": sd_id, "params": params, "msg": msg[2:]}


def split_unescaped(text, sep, limit):
    """Splits on sep not preceded by a backslash escape, at most limit times."""
    out, cur, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if c == sep and len(out) < limit:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


def parse_cef(frame):
    """CEF:0 (ArcSight CEF v25): 7 header fields, then key=value extensions."""
    text = frame.decode("utf-8")
    text = text[text.index("CEF:0|"):]
    fields = split_unescaped(text, "|", 7)
    ext = fields[7]
    # A key is a word followed by an unescaped '='; the value runs to the next key.
    pairs, i = {}, 0
    tokens = []
    while i < len(ext):
        if ext[i] == "\\":
            i += 2
            continue
        if ext[i] == "=":
            k0 = ext.rfind(" ", 0, i) + 1
            tokens.append((k0, i))
        i += 1
    for n, (k0, eq) in enumerate(tokens):
        end = tokens[n + 1][0] - 1 if n + 1 < len(tokens) else len(ext)
        raw = ext[eq + 1:end]
        val, j = [], 0
        while j < len(raw):
            if raw[j] == "\\":
                val.append({"n": "\n", "r": "\r"}.get(raw[j + 1], raw[j + 1]))
                j += 2
            else:
                val.append(raw[j])
                j += 1
        pairs[ext[k0:eq]] = "".join(val)
    return {"header": fields[:7], "ext": pairs}


def parse_leef(frame):
    """LEEF:2.0 with the delimiter named in the header (x09)."""
    text = frame.decode("utf-8")
    text = text[text.index("LEEF:2.0|"):]
    fields = split_unescaped(text, "|", 6)
    assert fields[5] == "x09", fields[5]
    attrs = {}
    for item in fields[6].split("\t"):
        k, _, raw = item.partition("=")
        val, j = [], 0
        while j < len(raw):
            if raw[j] == "\\":
                val.append({"n": "\n", "r": "\r", "t": "\t"}.get(raw[j + 1], raw[j + 1]))
                j += 2
            else:
                val.append(raw[j])
                j += 1
        attrs[k] = "".join(val)
    return {"header": fields[:5], "attrs": attrs}


class AlertFormats(E2ETestCase):
    scenario = os.path.join(SCENARIOS, "tricky-values.json")

    def test_every_format_carries_tricky_values(self):
        receivers = {f: OctetReceiver() for f in ("rfc5424", "cef", "leef", "json")}
        for r in receivers.values():
            self.addCleanup(r.close)
        d = self.daemon()
        with open(d.conf_path, "a") as f:
            for fmt, r in receivers.items():
                f.write("\n[sink %s]\ntype = tcp\nhost = 127.0.0.1\nport = %d\nformat = %s\n"
                        % (fmt, r.port, fmt))
        d.start()
        alerts = d.wait_for_alerts(lambda a: any(x["event"] == "conflict.detected" for x in a))
        det = [a for a in alerts if a["event"] == "conflict.detected"][0]
        name = det["displayName"]
        self.assertIn("|", name)
        self.assertGreater(len(name.encode()), MAX_VALUE)

        def frames(fmt):
            return wait_until("%s frames" % fmt, lambda: [
                f for f in list(receivers[fmt].frames) if b"conflict.detected" in f])

        import json
        j = json.loads(frames("json")[0].decode().split(" - ", 1)[1])
        self.assertEqual(j["displayName"], name)
        self.assertEqual(j["id"], det["id"])

        s = parse_5424(frames("rfc5424")[0])
        self.assertEqual(s["msgid"], "conflict.detected")
        self.assertEqual(s["sd_id"], "quarantined@32473")
        self.assertEqual(s["params"]["displayName"], cut(name))
        self.assertEqual(s["params"]["id"], det["id"])
        self.assertEqual(s["msg"], det["message"])

        c = parse_cef(frames("cef")[0])
        self.assertEqual(c["header"][4], "conflict.detected")
        self.assertEqual(c["ext"]["externalId"], det["id"])
        self.assertEqual(c["ext"]["msg"], cut(det["message"]))
        self.assertEqual(c["ext"]["cs1Label"], "tenant")
        self.assertTrue(0 <= int(c["header"][6]) <= 10)

        l = parse_leef(frames("leef")[0])
        self.assertEqual(l["attrs"]["displayName"], cut(name))
        self.assertEqual(l["attrs"]["id"], det["id"])
        self.assertEqual(l["attrs"]["cat"], "conflict.detected")
        d.stop()
