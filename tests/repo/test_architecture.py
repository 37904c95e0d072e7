"""ARCHITECTURE.md stays true to daemon/: its module table lists every daemon/*.c and
nothing else, and its data-flow diagram keeps the order in which a cycle runs."""

import glob
import os
import re
import unittest

from tests.repo import tree

ARCHITECTURE = os.path.join(tree.ROOT, "ARCHITECTURE.md")


def section(text, title):
    """The lines of the '## title' section of a markdown document."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("## "):
            inside = line[3:].strip() == title
            continue
        if inside:
            out.append(line)
    return out


def module_rows(text):
    """(file, prefix) of every row of the module table."""
    rows = []
    for line in section(text, "Modules"):
        m = re.match(r"^\|\s*`([^`]+)`\s*\|\s*([^|]*?)\s*\|", line)
        if m:
            rows.append((m.group(1), m.group(2)))
    return rows


class ModuleTableTest(unittest.TestCase):
    def setUp(self):
        with open(ARCHITECTURE, encoding="utf-8") as f:
            self.rows = module_rows(f.read())
        self.sources = {os.path.basename(p)
                        for p in glob.glob(os.path.join(tree.ROOT, "daemon", "*.c"))}

    def test_every_source_file_is_listed(self):
        self.assertTrue(self.sources, "no daemon/*.c found")
        missing = sorted(self.sources - {f for f, _ in self.rows})
        self.assertEqual(missing, [], "daemon/*.c not in ARCHITECTURE.md's module table")

    def test_no_listed_file_is_missing(self):
        extra = sorted({f for f, _ in self.rows} - self.sources)
        self.assertEqual(extra, [], "ARCHITECTURE.md lists files daemon/ does not have")

    def test_each_file_is_listed_once(self):
        files = [f for f, _ in self.rows]
        self.assertEqual(sorted(f for f in set(files) if files.count(f) > 1), [])

    def test_prefix_is_the_file_name(self):
        """One concern = one .c/.h pair = one prefix: <mod>.c owns <mod>_ names (the two
        programs' entry points have none)."""
        for name, prefix in self.rows:
            with self.subTest(file=name):
                if prefix.strip("`") in ("–", "-", ""):
                    continue
                self.assertEqual(prefix, "`%s_`" % name[:-2])


class DataFlowTest(unittest.TestCase):
    """The cycle as tenant.c runs it: inventory -> holder lookup (pair()) -> read of the
    objects of gone conflicts (check_gone(), holder_fetch()) -> classes and suggestions,
    diff, sweep steps, state file, apply pass (commit()).  Classification runs after the
    gone objects are read, so the diagram draws it after holder_fetch."""

    STAGES = ("inventory -->", "conflict_set (complete cycles only)", "holder --graph_batch",
              "holder_fetch --graph_batch", "classify (pure", "diff against the set",
              "sweep (pure state machine")

    def test_diagram_keeps_the_cycle_order(self):
        with open(ARCHITECTURE, encoding="utf-8") as f:
            lines = section(f.read(), "Data flow")
        where = []
        for stage in self.STAGES:
            found = [i for i, line in enumerate(lines) if stage in line]
            self.assertTrue(found, "the data flow no longer draws %r" % stage)
            where.append(found[0])
        self.assertEqual(where, sorted(where),
                         "the data flow draws the cycle's stages out of order: %s"
                         % [s for _, s in sorted(zip(where, self.STAGES))])


if __name__ == "__main__":
    unittest.main()
