"""The repository's text files and the anchors of its markdown headings."""

import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Build output and caches; never part of the sources.
SKIP_DIRS = {".git", "__pycache__", "tmp", "node_modules"}
SKIP_PREFIXES = ("build",)


def _walk():
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs
                         if d not in SKIP_DIRS and not d.startswith(SKIP_PREFIXES))
        for name in sorted(files):
            yield os.path.relpath(os.path.join(top, name), ROOT)


def source_files():
    """Paths (relative to ROOT) of the files git tracks or would track: tracked ones
    plus untracked ones .gitignore does not exclude.  Without git, every file below
    ROOT outside build and cache directories."""
    try:
        out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return list(_walk())
    return sorted({p for p in out.decode().split("\0")
                   if p and os.path.isfile(os.path.join(ROOT, p))})


def read_text(path):
    """The text of a file below ROOT, or None for a binary file."""
    with open(os.path.join(ROOT, path), "rb") as f:
        data = f.read()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped (letters, digits,
    spaces, '-' and '_' kept), each space a '-'."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(text):
    """The anchors of a markdown document's headings (outside code fences); a repeated
    heading gets -1, -2, ... as on GitHub."""
    seen, out, fenced = {}, set(), False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        m = None if fenced else _HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else "%s-%d" % (base, n))
    return out
