"""Every citation in the tree resolves from the repository alone.

A comment or document may cite a public URL or a file of this repository, with a
section anchor that one of its headings produces.  It may not cite documents that
live elsewhere: the research notes once cited by name and section number (see NOTES
and PEERS below), anything in the shared directory next to the repository (OUTSIDE),
or a section sign at all (a section of which document?).
"""

import os
import re
import unittest

from tests.repo import tree

SECTION_SIGN = "\u00a7"
NOTES = "graph" + "-facts"            # the notes' name; only docs/<NOTES>.md is ours
OWN_NOTES = "docs/" + NOTES + ".md"
PEERS = "peers" + ".md"
OUTSIDE = ("../" + "shared", "shared/" + "reference")
DOCS = "docs" + "/"                   # split so that this file cites nothing itself

# docs/<name>.md and an optional #anchor, possibly behind ../ (a link relative to the
# citing file), not part of a longer path or URL (".../azure-docs/...md" is not ours).
DOCS_PATH = re.compile(r"(?<![\w./-])((?:\.\./)*)(docs/[\w./-]*?\.md)(?![\w])(#[\w-]+)?")
# Markdown link targets: [text](target) and <...> autolinks are left to the reader; only
# relative targets are checked.
MD_LINK = re.compile(r"\]\(\s*([^)\s]+)\s*\)")


class Checker:
    """Finds the citations of one file that do not resolve.  exists(path) and
    anchors_of(path) answer for paths relative to the repository root."""

    def __init__(self, exists, anchors_of):
        self.exists = exists
        self.anchors_of = anchors_of

    def problems(self, path, text):
        out = []
        for lineno, line in enumerate(text.splitlines(), 1):
            for msg in self._line(path, line):
                out.append("%s:%d: %s" % (path, lineno, msg))
        return out

    def _line(self, path, line):
        if SECTION_SIGN in line:
            yield ("a section sign cites a section of some document; cite a URL or "
                   "docs/<file>.md#<section> instead")
        for m in re.finditer(re.escape(NOTES), line):
            start = m.start() - len("docs/")
            if line[start:start + len(OWN_NOTES)] != OWN_NOTES:
                yield ("%r names notes outside the repository; cite the Microsoft URL or "
                       "%s#anchor" % (NOTES, OWN_NOTES))
        if PEERS in line:
            yield "%r is not in the repository" % PEERS
        for outside in OUTSIDE:
            if outside in line:
                yield "%r points outside the repository" % outside
        for m in DOCS_PATH.finditer(line):
            up, target, anchor = m.group(1), m.group(2), m.group(3)
            if up:
                target = os.path.normpath(os.path.join(os.path.dirname(path), up + target))
            yield from self._target(target, anchor)
        if path.endswith(".md"):
            for m in MD_LINK.finditer(line):
                yield from self._md_link(path, m.group(1))

    def _target(self, target, anchor):
        if target.startswith("..") or not self.exists(target):
            yield "%s does not exist in the repository" % target
        elif anchor and target.endswith(".md") and anchor[1:] not in self.anchors_of(target):
            yield "%s has no section %s" % (target, anchor)

    def _md_link(self, path, link):
        if re.match(r"^[a-z][a-z0-9+.-]*:", link, re.I):
            return                                  # https:, mailto:, ...
        file_part, _, anchor = link.partition("#")
        if not file_part:
            if anchor and anchor not in self.anchors_of(path):
                yield "link to #%s: %s has no such section" % (anchor, path)
            return
        if DOCS_PATH.fullmatch(link):
            return                                  # checked as a docs path in _line
        target = os.path.normpath(os.path.join(os.path.dirname(path), file_part))
        yield from self._target(target, "#" + anchor if anchor else None)


def _repo_checker():
    cache = {}

    def exists(path):
        return os.path.exists(os.path.join(tree.ROOT, path))

    def anchors_of(path):
        if path not in cache:
            text = tree.read_text(path)
            cache[path] = tree.anchors(text or "")
        return cache[path]

    return Checker(exists, anchors_of)


class CheckerTest(unittest.TestCase):
    """The checker catches each kind of citation that would not resolve."""

    def setUp(self):
        files = {DOCS + "facts.md": "# Facts\n\n## Delta query\n\n## Delta query\n"}
        self.checker = Checker(lambda p: p in files or p == "daemon",
                               lambda p: tree.anchors(files.get(p, "")))

    def check(self, text, path="daemon/x.c"):
        return self.checker.problems(path, text)

    def test_notes_outside_the_repository(self):
        for text in ("/* " + NOTES + " " + SECTION_SIGN + "4: throttling */",
                     "# see " + NOTES + ".md",
                     "(" + NOTES + " 6)",
                     "peers " + SECTION_SIGN + "1.3",
                     "see " + PEERS,
                     "RFC 7518 " + SECTION_SIGN + "3.5",
                     "`" + OUTSIDE[1] + "/x.md`",
                     "open('" + OUTSIDE[0] + "/reference/x')"):
            with self.subTest(text=text):
                self.assertTrue(self.check(text))

    def test_missing_file_and_section(self):
        self.assertTrue(self.check("/* " + DOCS + "missing.md */"))
        self.assertTrue(self.check("/* " + DOCS + "facts.md#paging */"))
        self.assertTrue(self.check("see [x](../" + DOCS + "facts.md)", "scripts/lib/README.md"))
        self.assertTrue(self.check("see [x](#nowhere)", DOCS + "facts.md"))
        self.assertTrue(self.check("see [x](../nowhere.md)", DOCS + "facts.md"))

    def test_what_resolves(self):
        for text, path in (("/* " + DOCS + "facts.md#delta-query */", "daemon/x.c"),
                           ("# " + DOCS + "facts.md#delta-query-1", "scripts/x.py"),
                           ("(" + DOCS + "facts.md)", "daemon/x.c"),
                           ("[x](../../" + DOCS + "facts.md#delta-query)",
                            "scripts/lib/README.md"),
                           ("[x](#delta-query)", DOCS + "facts.md"),
                           ("https://github.com/MicrosoftDocs/azure-" + DOCS + "x/"
                            + DOCS + "y.md", "daemon/x.c"),
                           ("https://learn.microsoft.com/graph/paging", "daemon/x.c")):
            with self.subTest(text=text):
                self.assertEqual(self.check(text, path), [])

    def test_own_notes_name_is_allowed(self):
        checker = Checker(lambda p: p == OWN_NOTES, lambda p: {"throttling"})
        self.assertEqual(checker.problems("x.c", OWN_NOTES + "#throttling"), [])

    def test_anchors_follow_github(self):
        self.assertEqual(tree.anchors("## Writing onPremisesImmutableId\n"
                                      "## Retry-After on every 429\n"
                                      "```\n# not a heading\n```\n"
                                      "### Case of `proxyAddresses` comparisons\n"),
                         {"writing-onpremisesimmutableid", "retry-after-on-every-429",
                          "case-of-proxyaddresses-comparisons"})


class TreeTest(unittest.TestCase):
    """No file of the repository cites what the repository does not hold."""

    def test_every_citation_resolves(self):
        checker = _repo_checker()
        problems, read = [], 0
        for path in tree.source_files():
            text = tree.read_text(path)
            if text is None:
                continue
            read += 1
            problems += checker.problems(path, text)
        self.assertGreater(read, 50, "the tree was not found")
        self.assertEqual(problems, [], "\n" + "\n".join(problems))


if __name__ == "__main__":
    unittest.main()
