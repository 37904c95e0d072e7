"""Every user-visible name is documented: each configuration key in
quarantined.conf(5); each quarantinectl command and option in quarantinectl(8)
and its bash completion; each quarantined option, alert type and metric in
quarantined(8); and every man page is clean under `groff -ww`.  The names are
read from the sources (the option table, the command table, getopt strings,
the alert and metric tables), so a new one without documentation fails here."""

import glob
import os
import re
import shutil
import subprocess
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def man_text(page):
    """The page's source with groff's escaped hyphens made plain."""
    return read("man", page).replace("\\-", "-")


class DocsTest(unittest.TestCase):

    def assertDocumented(self, names, text, where):
        missing = sorted(n for n in names if not re.search(
            r"(^|[\s\"'(|])%s($|[\s\"',.;:)|\\=\[])" % re.escape(n), text, re.M))
        self.assertEqual(missing, [], "not documented in %s" % where)

    def test_config_keys(self):
        keys = set(re.findall(r'\{SEC_[A-Z]+,\s*"([a-z_]+)"', read("daemon", "cfg.c")))
        self.assertIn("health_listen", keys)
        page = man_text("quarantined.conf.5")
        self.assertDocumented(keys, page, "quarantined.conf(5)")
        self.assertDocumented(keys, read("conf", "quarantined.conf"),
                              "conf/quarantined.conf")

    def test_quarantinectl_commands_and_options(self):
        src = read("daemon", "quarantinectl.c")
        table = src[src.index("cmds[] = {"):]
        table = table[:table.index("};")]
        commands = set(re.findall(r'\{"([a-z0-9]+)",', table))
        self.assertIn("conflicts", commands)
        ctl = "".join(read("daemon", os.path.basename(p))
                      for p in glob.glob(os.path.join(ROOT, "daemon", "ctl_*.[ch]")))
        options = {"--" + o for o in re.findall(
            r'\{"([a-z-]+)",\s*(?:required|no)_argument', ctl)}
        self.assertIn("--older-than", options)
        page = man_text("quarantinectl.8")
        completion = read("scripts", "completion", "quarantinectl")
        self.assertDocumented(commands, page, "quarantinectl(8)")
        self.assertDocumented(options, page, "quarantinectl(8)")
        self.assertDocumented(commands, completion, "the bash completion")
        self.assertDocumented(options, completion, "the bash completion")
        # Short options: the getopt strings of quarantinectl.c's own commands
        # (parse_opts(), main) and of the ctl_*.c ones (getopt_long()).
        shorts = set()
        for flags in re.findall(r'(?:parse_opts\(argc - 1, argv \+ 1, |getopt(?:_long)?\(argc, argv, )"\+?([^"]+)"',
                                src + ctl):
            shorts |= {"-" + c for c in flags.replace(":", "") if c != "h"}
        self.assertIn("-o", shorts)
        self.assertDocumented(shorts, page, "quarantinectl(8)")

    def test_quarantined_options(self):
        letters = re.search(r'getopt\(argc, argv, "([^"]+)"\)',
                            read("daemon", "main.c")).group(1).replace(":", "")
        options = {"-" + c for c in letters if c != "h"}
        self.assertDocumented(options, man_text("quarantined.8"), "quarantined(8)")
        self.assertDocumented(options, read("scripts", "completion", "quarantined"),
                              "the bash completion")

    def test_alert_types(self):
        # The rows of the type table: {"conflict.detected", "<MESSAGE_ID>", ...}.
        types = set(re.findall(r'\{"([a-z]+\.[a-z-]+)",\s*"[0-9a-f]{32}"',
                               read("daemon", "alert.c")))
        self.assertGreaterEqual(len(types), 13)
        self.assertIn("daemon.fd-exhausted", types)
        self.assertDocumented(types, man_text("quarantined.8"), "quarantined(8)")

    def test_eventlog_message_ids(self):
        """The eventlog sink's Event ID of an alert type is 100 plus its place
        in alert.c's table (daemon/sink_eventlog.c); messages.mc must have a
        message for each, in the same order, and 120 for the others."""
        types = re.findall(r'\{"([a-z]+\.[a-z-]+)",\s*"[0-9a-f]{32}"',
                           read("daemon", "alert.c"))
        enum = re.search(r"enum alert_type \{(.*?)\};", read("daemon", "alert.h"), re.S)
        self.assertEqual(len(re.findall(r"\bALERT_[A-Z_]+", re.sub(r"/\*.*?\*/", "",
                                                                enum.group(1), flags=re.S))),
                         len(types))
        msgs = re.findall(r"^MessageId=(\d+)\nSeverity=(\w+)\nSymbolicName=(\w+)\n"
                          r"Language=English\n(.*?)\n\.$",
                          read("daemon", "win32", "messages.mc"), re.M | re.S)
        alerts = [(int(i), sev, sym, text) for i, sev, sym, text in msgs if int(i) >= 100]
        want = [(100 + k, "Success",
                 "MSG_ALERT_" + re.sub(r"[.-]", "_", t).upper(),
                 "%s: %%1%%n%%nAlert record: %%2" % t) for k, t in enumerate(types)]
        want.append((100 + len(types), "Success", "MSG_ALERT_OTHER",
                     "alert: %1%n%nAlert record: %2"))
        self.assertEqual(alerts, want)

    def test_metrics(self):
        names = set(re.findall(r'"(quarantined_[a-z_]+)', read("daemon", "metrics.c")))
        names = {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}
        self.assertIn("quarantined_build_info", names)
        self.assertDocumented(names, man_text("quarantined.8"), "quarantined(8)")

    @unittest.skipUnless(shutil.which("groff"), "groff is not installed")
    def test_groff_clean(self):
        for page in sorted(glob.glob(os.path.join(ROOT, "man", "*.[0-9]"))):
            proc = subprocess.run(["groff", "-ww", "-man", "-Tutf8", page],
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual((proc.returncode, proc.stderr), (0, ""), page)
