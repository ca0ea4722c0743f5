#!/usr/bin/env bash
# Regenerate the expectations of the csub golden tests from the reference
# ClusterShell 1.9.1 clush (Debian's clustershell package).
#
#   bash internal/csub/testdata/golden/regen.sh             # every *.txt
#   bash internal/csub/testdata/golden/regen.sh output.txt  # some files
#   CLUSH=/path/to/clush bash .../regen.sh                  # other binary
#
# clush runs through a symlink named "csub": clush prints its program name
# as basename(argv[0]) (optparse's usage and errors, "csub: node1: exited
# with exit code 1", "csub: Parse error: ..."), so the expectations carry
# csub's name with nothing substituted afterwards.
#
# File format (parsed by ../../golden_test.go and by the Python below),
# the nodeset golden tests' format:
#
#   === case name
#   $ csub ARG...             argv, POSIX-shell quoted
#   >>> stdout                content = following lines, up to the next marker
#   >>> stderr
#   >>> exit N
#
# A section's content is its lines, each with its newline; a marker ending
# in " noeol" means the content has no final newline. Anything between an
# "exit" line and the next "===" line (blank lines, # comments) is ignored.
# To add a case, append a "=== name" block with its "$ csub ..." line, run
# this script and review the diff.
#
# Commands run from internal/csub with a scrubbed environment (empty HOME,
# CLUSTERSHELL_CFGDIR=testdata/golden/conf for groups.conf and clush.conf)
# and standard input from /dev/null.
#
# Two things clush does by chance are left out of the comparison:
#  - the order in which nodes run: clush keeps its clients in a Python set
#    of objects (address order, random even with -f 1), so lines printed
#    as they come interleave nodes at random. golden_test.go compares the
#    lines labelled with a node ("node1: ...", "csub: node1: ...") node by
#    node: each node's lines, in their order, byte for byte.
#  - the progress indicator ("csub: 3/12\r" on stderr) that gathered
#    modes start after 1.33 s, i.e. depending on the machine's load:
#    regen.sh strips it from clush's stderr, golden_test.go from csub's.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
pkgdir=$(cd "$here/../.." && pwd)
CLUSH=${CLUSH:-/usr/bin/clush}

if ! ver=$("$CLUSH" --version 2>&1) || [[ $ver != "clush 1.9.1" ]]; then
  echo "regen.sh: $CLUSH is not ClusterShell clush 1.9.1 (got: ${ver:-nothing})" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/home" "$tmp/bin"
ln -s "$CLUSH" "$tmp/bin/csub"

files=()
if [[ $# -eq 0 ]]; then
  for f in "$here"/*.txt; do files+=("$f"); done
else
  for f in "$@"; do
    case $f in /*) files+=("$f") ;; *) files+=("$here/$(basename "$f")") ;; esac
  done
fi

cd "$pkgdir"
python3 - "$tmp/bin/csub" "$tmp/home" "${files[@]}" <<'PY'
import re, shlex, subprocess, sys

csub, home, files = sys.argv[1], sys.argv[2], sys.argv[3:]
env = {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8",
       "CLUSTERSHELL_CFGDIR": "testdata/golden/conf"}

PROGRESS = re.compile(rb"csub: *\d+/\d+\r| +\r")
SAFE = re.compile(r"^[A-Za-z0-9@%+=:,./_-]+$")

def quote(arg):
    return arg if SAFE.match(arg) else "'" + arg.replace("'", "'\"'\"'") + "'"

def parse(path):
    header, cases, cur, sect = [], [], None, None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for ln in lines:
        if ln.startswith("=== "):
            cur = {"name": ln[4:].strip(), "cmd": None, "trailer": []}
            cases.append(cur)
            sect = None
            continue
        if cur is None:
            header.append(ln)
            continue
        if cur["cmd"] is None:
            if not ln.startswith("$ csub"):
                sys.exit("%s: case %r: want '$ csub ...', got %r" % (path, cur["name"], ln))
            cur["cmd"] = shlex.split(ln[2:])[1:]
            continue
        if ln.startswith(">>> "):
            sect = "skip-exit" if ln.startswith(">>> exit") else "skip"
            continue
        if sect == "skip-exit":
            cur["trailer"].append(ln)
    return header, cases

def content(data):
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
        p = subprocess.run([csub] + c["cmd"], stdin=subprocess.DEVNULL, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        out.append("=== " + c["name"])
        out.append(" ".join(["$ csub"] + [quote(a) for a in c["cmd"]]))
        for name, data in (("stdout", p.stdout), ("stderr", PROGRESS.sub(b"", p.stderr))):
            lines, noeol = content(data)
            out.append(">>> " + name + (" noeol" if noeol else ""))
            out.extend(lines)
        out.append(">>> exit %d" % p.returncode)
        out.extend(c["trailer"] or [""])
        total += 1
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
# clush's full help, which csub's option help must match line for line
# (golden_test.go's TestHelpMatchesClush).
p = subprocess.run([csub, "--help"], env=env, stdout=subprocess.PIPE, check=True)
with open("testdata/golden/clush_help.out", "wb") as f:
    f.write(p.stdout)
print("regen.sh: %d cases in %d files" % (total, len(files)), file=sys.stderr)
PY
