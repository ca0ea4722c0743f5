"""Regenerate golden case files from a reference ClusterShell program.

Run by regen-common.sh (see there for the file format):

    python3 regen.py --exe PATH --prog NAME --home DIR [--env KEY=VALUE]...
                     [--strip-progress] [--help-out FILE] FILE...

Each case's name, command line and stdin are kept; the command is run
against the reference (PATH, which prints its name as NAME) with a
scrubbed environment (PATH=/usr/bin:/bin, HOME=DIR, LANG=C.UTF-8 and the
--env entries) and its stdout, stderr and exit sections are rewritten.
--strip-progress removes the gathered modes' progress indicator
("NAME: 3/12\\r") from stderr. --help-out writes "NAME --help" there.
"""
import argparse, os, re, subprocess, sys

ap = argparse.ArgumentParser()
ap.add_argument("--exe", required=True)
ap.add_argument("--prog", required=True)
ap.add_argument("--home", required=True)
ap.add_argument("--env", action="append", default=[])
ap.add_argument("--strip-progress", action="store_true")
ap.add_argument("--help-out")
ap.add_argument("files", nargs="+")
args = ap.parse_args()

exe, prog = args.exe, args.prog
env = {"PATH": "/usr/bin:/bin", "HOME": args.home, "LANG": "C.UTF-8"}
env.update(kv.split("=", 1) for kv in args.env)
PROGRESS = re.compile(re.escape(prog).encode() + rb": *\d+/\d+\r| +\r")

SAFE = re.compile(r"^[A-Za-z0-9@%+=:,./_-]+$")
ANSI_OUT = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\", "'": "\\'"}
ANSI_IN = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'"}

def quote(arg):
    """Quote one argument for the "$ PROG" line (canonical form)."""
    if SAFE.match(arg):
        return arg
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in arg):
        return "$'" + "".join(
            ANSI_OUT.get(ch, ch if 32 <= ord(ch) != 127 else "\\x%02x" % ord(ch))
            for ch in arg) + "'"
    return "'" + arg.replace("'", "'\"'\"'") + "'"

def split(line):
    """Split a "$ PROG" line into words (see the format)."""
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
            if not ln.startswith("$ " + prog):
                sys.exit("%s: case %r: want '$ %s ...' line, got %r"
                         % (path, cur["name"], prog, ln))
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

def run(cmd, stdin):
    """Run the reference; stdin None is /dev/null."""
    kw = {"stdin": subprocess.DEVNULL} if stdin is None else {"input": stdin}
    return subprocess.run([exe] + cmd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60, **kw)

total = 0
for path in args.files:
    header, cases = parse(path)
    out = list(header)
    names = set()
    for c in cases:
        if c["name"] in names:
            sys.exit("%s: duplicate case name %r" % (path, c["name"]))
        names.add(c["name"])
        stdin = None
        if c["stdin"] is not None:
            stdin = "\n".join(c["stdin"]).encode()
            if c["stdin"] and not c["stdin_noeol"]:
                stdin += b"\n"
        p = run(c["cmd"], stdin)
        stderr = PROGRESS.sub(b"", p.stderr) if args.strip_progress else p.stderr
        out.append("=== " + c["name"])
        out.append("$ " + prog + ("" if not c["cmd"] else " " + " ".join(quote(a) for a in c["cmd"])))
        if c["stdin"] is not None:
            out.append("<<< stdin" + (" noeol" if c["stdin_noeol"] else ""))
            out.extend(c["stdin"])
        for sect, data in (("stdout", p.stdout), ("stderr", stderr)):
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
if args.help_out:
    p = subprocess.run([exe, "--help"], env=env, stdout=subprocess.PIPE, check=True)
    with open(args.help_out, "wb") as f:
        f.write(p.stdout)
print("total: %d cases" % total)
