# SPDX-License-Identifier: MIT
"""quarantinectl as an admin runs it: every subcommand, its output, its
errors on stderr prefixed "quarantinectl:", and its exit codes (0 ok,
1 bad input, 2 usage).  $QD_CTL names the binary, $QD_SRCDIR the tree."""

import json
import os
import subprocess
import tempfile
import unittest

CTL = os.environ.get("QD_CTL", "build/quarantinectl")
SRC = os.environ.get("QD_SRCDIR", ".")
FIXTURE = os.path.join(SRC, "tests", "csexport", "export-errors.xml")

A1 = "yYuRNW0Z6kCXeYidebdT8A=="
A2 = "x4V0iaeB60KXxjftcwd7Hw=="
ID1 = "8f0c5e4a-3d1b-4c2a-9e7f-112233445566"
SUGG_HEADER = ("approved,target,anchor,reference,conflict,holders,value,"
               "created,reason\n")


def slurp(path, encoding="utf-8"):
    with open(path, encoding=encoding) as f:
        return f.read()


def run(*args):
    return subprocess.run([CTL, *args], capture_output=True, text=True,
                          timeout=60)


class CtlTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="qdctl.")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text, encoding="utf-8"):
        with open(self.path(name), "w", encoding=encoding) as f:
            f.write(text)
        return self.path(name)

    def assert_run(self, args, code, stdout=None, stderr_has=None):
        r = run(*args)
        self.assertEqual(r.returncode, code, (r.stdout, r.stderr))
        if stdout is not None:
            self.assertEqual(r.stdout, stdout)
        if stderr_has is not None:
            self.assertIn(stderr_has, r.stderr)
        return r


class TestGeneral(CtlTest):
    def test_help_and_usage(self):
        r = self.assert_run(["-h"], 0)
        self.assertIn("usage: quarantinectl", r.stdout)
        self.assertIn("guid2anchor GUID", r.stdout)
        r = self.assert_run([], 2, stdout="")
        self.assertIn("usage: quarantinectl", r.stderr)
        self.assert_run(["frobnicate"], 2,
                        stderr_has="quarantinectl: unknown command "
                                   "'frobnicate'")
        self.assert_run(["-x"], 2, stderr_has="quarantinectl: unknown option")
        self.assertRegex(self.assert_run(["-V"], 0).stdout,
                         r"^quarantinectl \d+\.\d+\.\d+\n$")


class TestConversions(CtlTest):
    def test_issue_example(self):
        self.assert_run(["guid2anchor",
                         "35918bc9-196d-40ea-9779-889d79b753f0"],
                        0, stdout="yYuRNW0Z6kCXeYidebdT8A==\n")

    def test_braces_and_case(self):
        self.assert_run(["guid2anchor",
                         "{35918BC9-196D-40EA-9779-889D79B753F0}"],
                        0, stdout=A1 + "\n")

    def test_round_trips(self):
        for guid, anchor in [
                ("897485c7-81a7-42eb-97c6-37ed73077b1f", A2),
                ("744cca2e-abf0-4df2-b1a7-ac9702956ea8",
                 "LspMdPCr8k2xp6yXApVuqA==")]:
            self.assert_run(["guid2anchor", guid], 0, stdout=anchor + "\n")
            self.assert_run(["anchor2guid", anchor], 0, stdout=guid + "\n")
        self.assert_run(["anchor2guid", "{" + A1 + "}"], 0,
                        stdout="35918bc9-196d-40ea-9779-889d79b753f0\n")

    def test_bad_input(self):
        self.assert_run(["guid2anchor", "35918bc9-196d-40ea-9779"], 1,
                        stdout="",
                        stderr_has="quarantinectl: '35918bc9-196d-40ea-9779'"
                                   " is not a GUID")
        self.assert_run(["anchor2guid", "AQEBAQEBAQEBAQEB"], 1, stdout="",
                        stderr_has="quarantinectl: 'AQEBAQEBAQEBAQEB': "
                                   "decodes to 12 bytes, 16 required")
        self.assert_run(["anchor2guid", "not base64"], 1,
                        stderr_has="contains white space")
        self.assert_run(["anchor2guid", "abc$def="], 1,
                        stderr_has="contains '$' or '_'")
        self.assert_run(["anchor2guid", "yYuRNW0Z6kCXeYidebdT8A="], 1,
                        stderr_has="not valid Base64")

    def test_usage(self):
        self.assert_run(["guid2anchor"], 2,
                        stderr_has="guid2anchor takes one GUID")
        self.assert_run(["anchor2guid", A1, A2], 2,
                        stderr_has="anchor2guid takes one ANCHOR")


class TestAnchorsCheck(CtlTest):
    def test_good_file(self):
        f = self.write("known.csv",
                       "# comment\ntarget,anchor,reference,expires\n"
                       f"alice@contoso.com,{A1},CHG-1,\n"
                       f"{ID1},{A2},\"CHG-2, see ticket\",2999-12-31\n"
                       "old@contoso.com,LspMdPCr8k2xp6yXApVuqA==,CHG-3,"
                       "2001-01-01\n")
        r = self.assert_run(["anchors", "check", f], 0,
                            stdout="2 valid entries, 1 expired, 0 warnings\n")
        self.assertIn(f + ":5: note: target old@contoso.com: expired at "
                      "2001-01-02T00:00:00Z; skipped", r.stderr)

    def test_every_bad_line(self):
        f = self.write("bad.csv",
                       "target,anchor,reference\n"
                       f"alice@contoso.com,{A1},CHG-1\n"
                       "bob@contoso.com,AQEBAQEBAQEBAQEB,CHG-2\n"
                       f"carol,{A2},CHG-3\n"
                       f"ALICE@contoso.com,{A2},CHG-4\n"
                       f"dave@contoso.com,{A1},CHG-5\n"
                       f"erin@contoso.com,{A2}\n")
        r = self.assert_run(["anchors", "check", f], 1, stdout="")
        lines = r.stderr.splitlines()
        self.assertEqual(lines[:5], [
            f"{f}:3: anchor 'AQEBAQEBAQEBAQEB': decodes to 12 bytes, "
            "16 required",
            f"{f}:4: target is neither an object id (GUID) nor a UPN "
            "(user@domain)",
            f"{f}:5: target ALICE@contoso.com is already listed at {f}:2 "
            f"(anchor {A1})",
            f"{f}:6: anchor {A1} is already mapped to alice@contoso.com at "
            f"{f}:2; one anchor cannot belong to two users",
            f"{f}:7: 2 fields, the header has 3"])
        self.assertEqual(lines[5], "quarantinectl: 5 errors; 1 valid entry")

    def test_any_length_option(self):
        f = self.write("k.csv", "target,anchor,reference\n"
                       "bob@contoso.com,AQEBAQEBAQEBAQEB,CHG-2\n")
        self.assert_run(["anchors", "check", f], 1)
        self.assert_run(["anchors", "check", "-a", f], 0)

    def test_across_files(self):
        f1 = self.write("a.csv", f"target,anchor,reference\na@x.com,{A1},r\n")
        f2 = self.write("b.csv", f"target,anchor,reference\nb@x.com,{A1},r\n")
        self.assert_run(["anchors", "check", f1, f2], 1,
                        stderr_has=f"{f2}:2: anchor {A1} is already mapped "
                                   f"to a@x.com at {f1}:2")

    def test_errors(self):
        self.assert_run(["anchors", "check", self.path("none.csv")], 1,
                        stderr_has="none.csv:0: cannot open: No such file")
        self.assert_run(["anchors", "check"], 2,
                        stderr_has="needs at least one FILE")
        self.assert_run(["anchors", "verify", "x"], 2,
                        stderr_has="anchors: expected 'check'")
        self.assert_run(["anchors", "check", "-z", "x"], 2,
                        stderr_has="unknown option -z")


class TestCsexportImport(CtlTest):
    def test_import_to_stdout(self):
        r = self.assert_run(["csexport", "import", FIXTURE], 0)
        self.assertIn(f"\nalice@contoso.com,{A1},csexport:export-errors.xml:"
                      "CN={795975524E57305A366B4358655969646562645438413D3D},"
                      "\n", r.stdout)
        self.assertIn("# LEFT OUT (ambiguous): bob@contoso.com", r.stdout)
        self.assertIn("error-name=AttributeValueMustBeUnique", r.stdout)
        self.assertIn("quarantinectl: 7 objects, 1 candidate, 5 left out",
                      r.stderr)

    def test_output_file_checks_clean(self):
        out = self.path("review.csv")
        self.assert_run(["csexport", "import", "-o", out, FIXTURE], 0,
                        stdout="", stderr_has="written to " + out)
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o640)
        self.assert_run(["anchors", "check", out], 0,
                        stdout="1 valid entry, 0 expired, 0 warnings\n")
        # Never overwritten without -f.
        before = slurp(out)
        self.assert_run(["csexport", "import", "-o", out, FIXTURE], 1,
                        stderr_has=f"quarantinectl: {out} exists; not "
                                   "overwriting it (use -f)")
        self.assertEqual(slurp(out), before)
        with open(out, "w") as f:
            f.write("edited\n")
        self.assert_run(["csexport", "import", "-f", "-o", out, FIXTURE], 0)
        self.assertEqual(slurp(out), before)

    def test_utf16_export(self):
        # csexport on Windows may write UTF-16 with a byte order mark.
        text = slurp(FIXTURE).replace(
            'encoding="UTF-8"', 'encoding="UTF-16"')
        f = self.write("utf16.xml", text, encoding="utf-16")
        r = self.assert_run(["csexport", "import", f], 0)
        self.assertIn(f"\nalice@contoso.com,{A1},", r.stdout)

    def test_bad_files(self):
        f = self.write("broken.xml", "<cs-objects>\n<cs-object cs-dn='x'>\n"
                                     "</cs-objects>\n")
        self.assert_run(["csexport", "import", f], 1, stdout="",
                        stderr_has=f"quarantinectl: {f}:3: malformed XML:")
        f = self.write("ad.xml", "<cs-objects><cs-object cs-dn='CN=A,DC=x'/>"
                                 "</cs-objects>\n")
        self.assert_run(["csexport", "import", f], 1,
                        stderr_has="is it an export of the Entra ID "
                                   "connector?")
        self.assert_run(["csexport", "import", self.path("none.xml")], 1,
                        stderr_has="none.xml: No such file or directory")
        self.assert_run(["csexport", "import"], 2,
                        stderr_has="needs exactly one FILE")
        self.assert_run(["csexport", "import", "-o"], 2,
                        stderr_has="option -o needs a file name")
        self.assert_run(["csexport", "export", "x"], 2)


class TestSuggestions(CtlTest):
    def sample(self):
        return self.write(
            "suggestions.csv", SUGG_HEADER +
            f"no,{ID1},{A1},conflict:c1:userPrincipalName,c1,h1 h2,"
            "alice@contoso.com,2026-01-01T00:00:00Z,\"synced, duplicate\"\n"
            f"no,bob@contoso.com,{A2},conflict:c2:userPrincipalName,c2,,"
            "bob@contoso.com,2026-01-01T00:00:00Z,\n"
            "no,bob@contoso.com,LspMdPCr8k2xp6yXApVuqA==,conflict:c3:upn,"
            "c3,,bob@contoso.com,2026-01-01T00:00:00Z,\n"
            "no,carol@contoso.com,AQEBAQEBAQEBAQEB,conflict:c4:upn,c4,,"
            "carol@contoso.com,2026-01-01T00:00:00Z,\n")

    def test_list(self):
        f = self.sample()
        r = self.assert_run(["suggestions", "list", f], 0)
        self.assertIn(f"{f}:2: not approved  {ID1} <- {A1}\n"
                      "    value alice@contoso.com, conflict c1, holders "
                      "h1 h2, created 2026-01-01T00:00:00Z\n"
                      "    reference conflict:c1:userPrincipalName; synced, "
                      "duplicate\n", r.stdout)
        self.assertTrue(r.stdout.endswith("4 suggestions, 0 approved\n"))

    def test_approve(self):
        f = self.sample()
        self.assert_run(["suggestions", "approve", f,
                         "ALICE@contoso.com"], 0,
                        stdout=f"{f}:2: approved {ID1} <- {A1}\n")
        text = slurp(f)
        self.assertIn(f"yes,{ID1},{A1},", text)
        self.assertEqual(text.count("\nno,"), 3)
        self.assertEqual(os.stat(f).st_mode & 0o777, 0o640)
        self.assert_run(["suggestions", "approve", f, "bob@contoso.com"], 1,
                        stderr_has="several suggestions for bob@contoso.com;"
                                   " name the ANCHOR too")
        self.assert_run(["suggestions", "approve", f, "bob@contoso.com",
                         A2], 0)
        self.assert_run(["suggestions", "approve", f, "nobody@contoso.com"],
                        1, stderr_has="no suggestion for nobody@contoso.com")
        self.assert_run(["suggestions", "approve", f, "carol@contoso.com"],
                        1, stderr_has="not approving anchor "
                                      "'AQEBAQEBAQEBAQEB': decodes to 12 "
                                      "bytes, 16 required")
        r = self.assert_run(["suggestions", "list", f], 0)
        self.assertTrue(r.stdout.endswith("4 suggestions, 2 approved\n"))

    def test_bad_file_not_rewritten(self):
        f = self.write("s.csv", SUGG_HEADER +
                       f"maybe,{ID1},{A1},r,c1,,,2026-01-01T00:00:00Z,\n"
                       f"no,b@x.com,{A2},r,c2,,,2026-01-01T00:00:00Z,\n")
        before = slurp(f)
        self.assert_run(["suggestions", "approve", f, "b@x.com"], 1,
                        stderr_has="has bad lines; fix them first")
        self.assertEqual(slurp(f), before)
        self.assert_run(["suggestions", "list", f], 1,
                        stderr_has=f"{f}:2: approved is 'maybe', not yes "
                                   "or no")

    def test_usage(self):
        self.assert_run(["suggestions", "list", self.path("none.csv")], 1,
                        stderr_has="No such file")
        self.assert_run(["suggestions", "approve", "f"], 2)
        self.assert_run(["suggestions"], 2)


class TestJournal(CtlTest):
    def record(self, kind, crid="c-1", **extra):
        r = {"kind": kind, "when": "2026-01-01T00:00:00Z",
             "tenant": "contoso", "userId": ID1, "upn": "alice@contoso.com",
             "oldValue": None, "newValue": A1, "source": "csv",
             "reference": "CHG-1", "clientRequestId": crid}
        r.update(extra)
        return json.dumps(r, separators=(",", ":")) + "\n"

    def test_show(self):
        f = self.write("contoso.journal.jsonl",
                       self.record("intent") +
                       self.record("applied", patchRequestId="p-1",
                                   getRequestId="g-1") +
                       self.record("intent", crid="c-2") +
                       '{"kind":"failed","when":"2026-01-0')
        r = self.assert_run(["journal", "show", f], 0)
        self.assertIn("1: 2026-01-01T00:00:00Z intent     tenant contoso, "
                      f"user {ID1} (alice@contoso.com)\n"
                      f"    (none) -> {A1}, from csv, reference CHG-1\n"
                      "    client-request-id c-1\n", r.stdout)
        self.assertIn("    client-request-id c-1, PATCH request-id p-1, "
                      "GET request-id g-1\n", r.stdout)
        self.assertTrue(r.stdout.endswith(
            "1 applied, 0 failed, 1 intent without outcome\n"))
        self.assertIn(f"quarantinectl: {f}:4: warning: line cut short by a "
                      "crash; skipped", r.stderr)

    def test_bad_journal(self):
        f = self.write("j.jsonl", "garbage\n" + self.record("intent"))
        self.assert_run(["journal", "show", f], 1,
                        stderr_has=f"quarantinectl: {f}:1: not valid JSON")
        self.assert_run(["journal", "show", self.path("none")], 1,
                        stderr_has="No such file")
        self.assert_run(["journal", "list", f], 2)


if __name__ == "__main__":
    unittest.main()


class TestAskTheDaemon(CtlTest):
    """conflicts/show/status/check without a daemon: the state files, read-only,
    and one clear line for each kind of bad input.  (With a daemon: the e2e
    tests in tests/e2e/test_health.py.)"""

    STATE = {"schema": 3, "tenant": "contoso", "saved": "2026-01-02T03:04:05Z",
             "lastSuccess": "2026-01-02T03:04:05Z",
             "deltaLinks": {"users": None, "groups": None, "contacts": None},
             "deltaFullSync": None, "conflicts": []}

    def setUp(self):
        super().setUp()
        os.mkdir(self.path("state"))
        self.conf = self.write("q.conf", (
            "[daemon]\nstate_dir = %s\nhealth_listen = none\n"
            "health_socket = %s\n\n[tenant contoso]\n"
            "tenant_id = contoso.com\n"
            "client_id = 0f4a5b6c-7d8e-4f90-a1b2-c3d4e5f60718\n"
            "client_secret_file = %s\n") % (self.path("state"), self.path("no.sock"),
                                            self.path("secret")))
        with open(self.path("state/contoso.state.json"), "w") as f:
            json.dump(self.STATE, f)

    def test_empty_inventory_from_the_state_dir(self):
        r = self.assert_run(["conflicts", "-f", self.conf], 0)
        self.assertEqual(r.stdout.splitlines()[0].split(),
                         ["TENANT", "TYPE", "ATTR", "VALUE", "CLASS", "STATE", "AGE",
                          "NAME"])
        self.assertEqual(len(r.stdout.splitlines()), 1)
        r = self.assert_run(["conflicts", "-f", self.conf, "--json"], 0)
        self.assertEqual(json.loads(r.stdout), [])

    def test_not_running(self):
        r = self.assert_run(["status", "-f", self.conf], 3)
        self.assertEqual(r.stderr, "quarantinectl: quarantined is not running "
                         "(no answer on %s)\n" % self.path("no.sock"))
        r = self.assert_run(["check", "-f", self.conf], 2)
        self.assertTrue(r.stdout.startswith(
            "QUARANTINED CRITICAL - the daemon is not running"), r.stdout)
        self.assertEqual(r.stdout.count("\n"), 1)

    def test_bad_input_one_line(self):
        cases = [
            (["conflicts", "-f", self.conf, "-t", "fabrikam"], 1,
             "quarantinectl: no tenant 'fabrikam' in %s\n" % self.conf),
            (["conflicts", "-f", self.conf, "--older-than", "a week"], 2,
             "quarantinectl conflicts: --older-than: 'a week' is not a duration"),
            (["conflicts", "-f", self.conf, "--class", "odd"], 2,
             "quarantinectl conflicts: --class: 'odd' is not one of"),
            (["conflicts", "-f", self.path("missing.conf")], 1,
             "quarantinectl: "),
            (["conflicts", "--offline", "--state-dir", self.path("nowhere")], 1,
             "quarantinectl: cannot read the state directory %s: "
             "No such file or directory\n" % self.path("nowhere")),
            (["show", "-f", self.conf, "john@contoso.com"], 1,
             "quarantinectl: no conflict with key, value or object id "
             "'john@contoso.com'\n"),
        ]
        for args, code, start in cases:
            r = run(*args)
            self.assertEqual(r.returncode, code, (args, r.stderr))
            self.assertTrue(r.stderr.startswith(start), (args, r.stderr))
            self.assertEqual(r.stdout, "", args)
        r = run("check", "-f", self.conf, "-w", "ten")
        self.assertEqual((r.returncode, r.stdout),
                         (3, "QUARANTINED UNKNOWN - -w: 'ten' is not a range "
                             "(10, 10:, ~:10, 10:20, @10:20)\n"))

    def test_corrupt_state_file_is_left_alone(self):
        self.write("state/contoso.state.json", "{not json")
        r = self.assert_run(["conflicts", "-f", self.conf], 1)
        self.assertIn("not a state file this version reads", r.stderr)
        self.assertEqual(os.listdir(self.path("state")), ["contoso.state.json"])
