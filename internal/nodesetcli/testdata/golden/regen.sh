#!/usr/bin/env bash
# Regenerate the expectations of the nodeset golden tests from the reference
# ClusterShell 1.9.1 `nodeset` (Debian's clustershell package).
#
#   bash internal/nodesetcli/testdata/golden/regen.sh            # every *.txt
#   bash internal/nodesetcli/testdata/golden/regen.sh groups.txt # some files
#   NODESET=/path/to/nodeset bash .../regen.sh                   # other binary
#
# The case files are both the inputs and the expectations: this script keeps
# each case's name, command line and stdin, re-runs the command against the
# reference and rewrites the stdout, stderr and exit sections in place (the
# command line is re-quoted canonically). To add a
# case, append a "=== name" block with just its "$ nodeset ..." line (and an
# optional "<<< stdin" section) and run this script; then review the diff.
#
# File format (parsed by ../../golden_test.go and by the Python below):
#
#   === case name
#   $ nodeset ARG...          argv, POSIX-shell quoted
#   <<< stdin                 optional; content = following lines
#   >>> stdout                content = following lines, up to the next marker
#   >>> stderr
#   >>> exit N
#
# A section's content is its lines, each with its newline; a marker ending
# in " noeol" means the content has no final newline. Anything between an
# "exit" line and the next "===" line (blank lines, # comments) is ignored.
#
# The command line uses a small POSIX-shell subset, so that it can be pasted
# into bash as it is: blanks separate words; '...', "..." (with \\ \" \$ \`
# escapes), $'...' (with \n \t \r \\ \' \xHH escapes) and a backslash
# outside quotes quote characters; nothing else is special.
#
# Commands run from internal/nodesetcli (so the relative --groupsconf paths
# to testdata/golden/conf/ behave the same here and under `go test`, where
# the working directory is the package directory) with a scrubbed
# environment and an empty HOME, so no user or system groups.conf leaks in
# (only --groupsconf configs are ever read).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
pkgdir=$(cd "$here/../.." && pwd)
NODESET=${NODESET:-/usr/bin/nodeset}

if ! ver=$("$NODESET" --version 2>&1) || [[ $ver != "nodeset 1.9.1" ]]; then
  echo "regen.sh: $NODESET is not ClusterShell nodeset 1.9.1 (got: ${ver:-nothing})" >&2
  echo "regen.sh: install Debian's clustershell package or set NODESET" >&2
  exit 1
fi

home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT

files=()
if [[ $# -eq 0 ]]; then
  for f in "$here"/*.txt; do files+=("$f"); done
else
  for f in "$@"; do
    case $f in /*) files+=("$f") ;; *) files+=("$here/$(basename "$f")") ;; esac
  done
fi

cd "$pkgdir"
python3 - "$NODESET" "$home" "${files[@]}" <<'PY'
import os, re, subprocess, sys

nodeset, home, files = sys.argv[1], sys.argv[2], sys.argv[3:]
env = {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8"}

SAFE = re.compile(r"^[A-Za-z0-9@%+=:,./_-]+$")
ANSI_OUT = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\", "'": "\\'"}
ANSI_IN = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'"}

def quote(arg):
    """Quote one argument for the "$ nodeset" line (canonical form)."""
    if SAFE.match(arg):
        return arg
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in arg):
        return "$'" + "".join(
            ANSI_OUT.get(ch, ch if 32 <= ord(ch) != 127 else "\\x%02x" % ord(ch))
            for ch in arg) + "'"
    return "'" + arg.replace("'", "'\"'\"'") + "'"

def split(line):
    """Split a "$ nodeset" line into words (see the format above)."""
    words, cur, i, n = [], None, 0, len(line)
    while i < n:
        ch = line[i]
        if ch in " \t":
            if cur is not None:
                words.append(cur)
                cur = None
            i += 1
            continue
        cur = cur or ""
        if ch == "'":
            j = line.index("'", i + 1)
            cur += line[i + 1:j]
            i = j + 1
        elif ch == "$" and line[i + 1:i + 2] == "'":
            i += 2
            while line[i] != "'":
                if line[i] == "\\":
                    e = line[i + 1]
                    if e == "x":
                        cur += chr(int(line[i + 2:i + 4], 16))
                        i += 4
                        continue
                    cur += ANSI_IN[e]
                    i += 2
                else:
                    cur += line[i]
                    i += 1
            i += 1
        elif ch == '"':
            i += 1
            while line[i] != '"':
                if line[i] == "\\" and line[i + 1] in '\\"$`':
                    i += 1
                cur += line[i]
                i += 1
            i += 1
        elif ch == "\\":
            cur += line[i + 1]
            i += 2
        else:
            cur += ch
            i += 1
    if cur is not None:
        words.append(cur)
    return words

def parse(path):
    """Return (header lines, [case dict]) of one golden file."""
    header, cases, cur, sect = [], [], None, None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for ln in lines:
        if ln.startswith("=== "):
            cur = {"name": ln[4:].strip(), "cmd": None, "stdin": None,
                   "stdin_noeol": False, "trailer": []}
            cases.append(cur)
            sect = None
            continue
        if cur is None:
            header.append(ln)
            continue
        if cur["cmd"] is None:
            if not ln.startswith("$ nodeset"):
                sys.exit("%s: case %r: want '$ nodeset ...' line, got %r"
                         % (path, cur["name"], ln))
            cur["cmd"] = split(ln[2:])[1:]
            continue
        if ln.startswith("<<< stdin"):
            sect = "stdin"
            cur["stdin"] = []
            cur["stdin_noeol"] = ln.endswith(" noeol")
            continue
        if ln.startswith(">>> "):
            # Old expectations are dropped: they are regenerated below.
            sect = "skip-exit" if ln.startswith(">>> exit") else "skip"
            continue
        if sect == "stdin":
            cur["stdin"].append(ln)
        elif sect == "skip-exit":
            cur["trailer"].append(ln)
    return header, cases

def content(data):
    """Render bytes as golden section content plus the noeol flag."""
    text = data.decode("utf-8")
    for ln in text.split("\n"):
        if ln.startswith(("=== ", "<<< ", ">>> ")):
            raise ValueError("output line clashes with a marker: %r" % ln)
    if not text:
        return [], False
    noeol = not text.endswith("\n")
    if not noeol:
        text = text[:-1]
    return text.split("\n"), noeol

total = 0
for path in files:
    header, cases = parse(path)
    out = list(header)
    names = set()
    for c in cases:
        if c["name"] in names:
            sys.exit("%s: duplicate case name %r" % (path, c["name"]))
        names.add(c["name"])
        stdin = b""
        if c["stdin"] is not None:
            stdin = "\n".join(c["stdin"]).encode()
            if c["stdin"] and not c["stdin_noeol"]:
                stdin += b"\n"
        p = subprocess.run([nodeset] + c["cmd"], input=stdin, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        out.append("=== " + c["name"])
        out.append("$ nodeset" + ("" if not c["cmd"] else " " + " ".join(quote(a) for a in c["cmd"])))
        if c["stdin"] is not None:
            out.append("<<< stdin" + (" noeol" if c["stdin_noeol"] else ""))
            out.extend(c["stdin"])
        for sect, data in (("stdout", p.stdout), ("stderr", p.stderr)):
            lines, noeol = content(data)
            out.append(">>> " + sect + (" noeol" if noeol else ""))
            out.extend(lines)
        out.append(">>> exit %d" % p.returncode)
        trailer = c["trailer"]
        while trailer and trailer[-1] == "":
            trailer.pop()
        out.extend(trailer)
        out.append("")
        total += 1
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out).rstrip("\n") + "\n")
    print("%s: %d cases" % (os.path.relpath(path), len(cases)))
print("total: %d cases" % total)
PY
