#!/usr/bin/python3
# Generates ../unicode_names.gz: the names (and name aliases) Python's
# "\N{name}" string escape accepts, except the algorithmic "HANGUL SYLLABLE"
# and "CJK UNIFIED IDEOGRAPH-" ones, with the code point they stand for.
# Aliases are taken from Perl's copy of the same Unicode database (Name.pl)
# and kept only when Python accepts them. Every entry is checked by
# evaluating "\N{name}" with the running Python.
# Usage (from internal/pyfmt): /usr/bin/python3 testdata/gen_names.py
import gzip
import re
import sys
import unicodedata

PERL_NAMES = "/usr/share/perl/5.36.0/unicore/Name.pl"


def accepted(name):
    try:
        v = eval('"\\N{%s}"' % name)
    except SyntaxError:
        return None
    return v if len(v) == 1 else None


entries = {}
for c in range(0x110000):
    n = unicodedata.name(chr(c), None)
    if n is None or n.startswith("HANGUL SYLLABLE ") or n.startswith("CJK UNIFIED IDEOGRAPH-"):
        continue
    assert accepted(n) == chr(c), n
    entries[n] = c

text = open(PERL_NAMES).read()
for m in re.finditer(r"^([0-9A-F]{4,6})\n([A-Z0-9 \-]+)$", text, re.M):
    name = m.group(2)
    if name in entries or name.startswith("HANGUL SYLLABLE ") or name.startswith("CJK UNIFIED IDEOGRAPH-"):
        continue
    v = accepted(name)
    if v is not None:
        assert ord(v) == int(m.group(1), 16), name
        entries[name] = ord(v)

# Unified ideograph ranges, for the algorithmic names.
ranges, start, prev = [], None, None
for c in range(0x110000):
    n = unicodedata.name(chr(c), "")
    if n.startswith("CJK UNIFIED IDEOGRAPH-"):
        if start is None:
            start = c
        prev = c
    elif start is not None:
        ranges.append((start, prev))
        start = None

lines = ["#cjk %X %X" % r for r in ranges]
lines += ["%s\t%X" % (n, c) for n, c in sorted(entries.items())]
data = ("\n".join(lines) + "\n").encode("ascii")
with open("unicode_names.gz", "wb") as f:
    f.write(gzip.compress(data, compresslevel=9, mtime=0))
print("%d names, %d CJK ranges, Unicode %s" % (len(entries), len(ranges), unicodedata.unidata_version))
