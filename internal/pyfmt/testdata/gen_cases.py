#!/usr/bin/python3
# Generates the expectations of the pyfmt tests by running the real Python.
# Usage (from internal/pyfmt): /usr/bin/python3 testdata/gen_cases.py
#
# Every case records, in its "py" field, the Python expression that was
# evaluated; "ok" is its result (as a str value) or "kind"/"msg" the
# exception raised. Python str values are encoded as {"s": text} or, when
# they contain lone surrogates (bytes that are not UTF-8 in Go strings), as
# {"cp": [code points]}.
import gzip
import hashlib
import json
import math
import sys


def enc_str(s):
    if any(0xD800 <= ord(c) <= 0xDFFF for c in s):
        return {"cp": [ord(c) for c in s]}
    return {"s": s}


class Obj:
    """Stands for a ClusterShell RangeSet/NodeSet: a mapping whose
    __getitem__ rejects str keys."""

    def __str__(self):
        return "OBJ"

    def __repr__(self):
        return "Obj<é>"

    def __getitem__(self, key):
        if isinstance(key, str):
            raise TypeError("Obj indices must be integers")
        return key


class Plain:
    """An object that is not a mapping."""

    def __str__(self):
        return "PLAIN"

    def __repr__(self):
        return "Plain()"


def enc_val(v):
    if v is None:
        return {"type": "none"}
    if isinstance(v, bool):
        return {"type": "bool", "v": v}
    if isinstance(v, int):
        return {"type": "int", "v": hex(v)}
    if isinstance(v, float):
        return {"type": "float", "v": v.hex()}
    if isinstance(v, str):
        return dict(type="str", **enc_str(v))
    if isinstance(v, list):
        return {"type": "list", "items": [enc_val(x) for x in v]}
    if isinstance(v, tuple):
        return {"type": "tuple", "items": [enc_val(x) for x in v]}
    if isinstance(v, Obj):
        return {"type": "obj"}
    if isinstance(v, Plain):
        return {"type": "plain"}
    raise TypeError(v)


def run(case, fn):
    try:
        r = fn()
    except Exception as e:  # noqa
        case["kind"] = type(e).__name__
        case["msg"] = str(e)
    else:
        case["ok"] = enc_val(r) if not isinstance(r, str) else enc_str(r)
    return case


def format_cases():
    convs = "sradiuoxXeEfFgGc"
    specs = ["", "5", "-5", "05", "-05", "+", " ", "#", "#5", "#05", "+05", "- 6",
             ".0", ".1", ".3", "10.3", "-10.3", "010.3", "+.2", "#.0", "#.3", "#010.3",
             ".10", "3.10", "0", "00", "+ ", "#-08", "1.", "h", "l", "L", "5h"]
    args = [0, 1, 42, -42, 255, -255, 65, 0x10FFFF, 0x110000, -1, 10**20, -10**25,
            True, False, None, "", "a", "abc", "it's", 'say "hi"', "both ' and \"",
            "é", "日本語", "tab\there\n", "\x00\x1f\x7f\x80\xa0\xad", "\U0001F600",
            "\u0378\ue000\U000E0001", "\udcff", "x\udc80y",
            3.14159, -2.5, 0.5, 1.5, 2.5, 1e16, 1e-5, 1e-4, 123456789.0, 1e100, -0.0, 0.0,
            float("inf"), float("-inf"), float("nan"), 9.999999e15, 0.1, 5e-324,
            [1, "a"], [], Obj(), Plain()]
    cases = []
    for a in args:
        for spec in specs:
            for c in convs:
                f = "%" + spec + c
                cases.append(run({"py": "%r %% %r" % (f, a), "format": enc_str(f), "arg": enc_val(a)},
                                 lambda: f % a))
    extra = ["", "abc", "%%", "%", "abc%", "%z", "%5z", "%Lz", "% z", "%\x01", "%é",
             "%s %s", "%s%%", "%%%s", "%5%", "%-%", "%.%", "%(a)s", "%(a", "%(a)",
             "%((a))s", "%()s", "%*d", "%.*d", "%*.*d", "%-*s", "%99999999999999999999d",
             "%.99999999999d", "%.2147483647d", "%.2147483645d",
             "%9223372036854775807d", "[%s]", "%s\udcff", "\udcff%s", "%c%c", "%.0s|",
             "%#5.3x", "%#-8o|", "%+#x", "% #X", "%0#10.4X", "%5.5s|", "%-5.1s|",
             "%ld", "%hs", "%Li", "%lc", "%r%", "%s%", "%.", "%5", "%.5", "%#", "%-"]
    for a in [42, -7, "abc", 2.5, True, None, Obj(), Plain(), 10**4300, -10**4299, 10**400]:
        for f in extra:
            cases.append(run({"py": "%r %% %r" % (f, a if not isinstance(a, int) or abs(a) < 10**30 else "<big int>"),
                              "format": enc_str(f), "arg": enc_val(a)}, lambda: f % a))
    tuples = [("%s %s", (1, "a")), ("%s", ()), ("%s", (1, 2)), ("%*d", (5, 42)), ("%.*f", (2, 3.14159)),
              ("%-*s|", (-5, "a")), ("%*s|", (-5, "a")), ("%(a)s", (1,)), ("%s", ((1, 2),)), ("%r", ((1,),)),
              ("%d %d", (1,)), ("%c%c", ("a", 98)), ("%*.*f|", (9, 2, 2.5)), ("%*d", ("5", 1)), ("%%", ()),
              ("%s", ([], None)), ("x%sy%rz", ("é", "é")), ("%.*s", (True, "abc")), ("%*d", (10**20, 1)),
              ("%.*d", (2**31, 1)), ("%.*d", (-3, 5)), ("%s", ((),))]
    for f, a in tuples:
        cases.append(run({"py": "%r %% %r" % (f, a), "format": enc_str(f), "arg": enc_val(a)}, lambda: f % a))
    return cases


def block_digest(s, fn):
    return hashlib.sha256(fn(s).encode("utf-8", "surrogatepass")).hexdigest()


def repr_cases():
    strs = ["", "a", "'", '"', "'\"", "\\", "\t\n\r", "\x00\x07\x1b\x7f", "\x80\x9f\xa0\xad\xff",
            "é", "\u0100\u2028\u2029\u200b\ufeff\ufffe\uffff", "\ud800\udfff\udc80",
            "\U0001F600\U000E0001\U0010FFFF\U000F0000", "\u0378\u0e3a\u1aff", "\u3000\u00a0 ",
            "\U0001FAF7\U0001FAF8", "\u2fff\u31e4", "mixed 'q' and \"dq\"", "ǿ\u0301"]
    cases = [{"py": "repr(%r), ascii(%r)" % (s, s), "in": enc_str(s), "repr": enc_str(repr(s)),
              "ascii": enc_str(ascii(s))} for s in strs]
    # every code point, by blocks of 4096: only SHA-256 digests of the
    # UTF-8 (surrogatepass) encoding of repr() and ascii() are recorded.
    for lo in range(0, 0x110000, 0x1000):
        s = "".join(chr(c) for c in range(lo, lo + 0x1000))
        cases.append({"py": "repr(''.join(map(chr, range(0x%x, 0x%x))))" % (lo, lo + 0x1000),
                      "block": lo, "repr_sha256": block_digest(s, repr), "ascii_sha256": block_digest(s, ascii)})
    return cases


def float_repr_cases():
    vals = [0.0, -0.0, 1.0, -1.5, 0.1, 0.2 + 0.1, 1e16, 1e15, 123456789012345678.0, 1e-4, 1e-5,
            0.00012345, 1.5e-7, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
            float("inf"), float("-inf"), float("nan"), 1e22, 1e21, 9007199254740993.0, 100.0,
            3.141592653589793, 2.0 ** 60, 1 / 3, 12345.678]
    return [{"py": "repr(%r)" % v, "v": v.hex(), "repr": repr(v)} for v in vals]


def literal_cases():
    inputs = ["", "abc", " ", ":", "\\", "\\\\", "\\'", '\\"', "\\a\\b\\f\\n\\r\\t\\v",
              "\\0", "\\7", "\\07", "\\777", "\\1234", "\\8", "\\9", "\\x41", "\\x4", "\\x",
              "\\xg1", "\\u00e9", "\\u12", "\\U0001F600", "\\U00110000", "\\UFFFFFFFF",
              "\\ud800", "\\udc80", "\\N{BULLET}", "\\N{}", "\\N{", "\\N", "\\Nx", "\\N{bad name!}",
              "\\z", "\\é", "é", "a\\\nb", "a\nb", "a\rb", "a\r\nb", "\\\r\nx", "'", "''", "a'",
              "\\''", "a'''", "'''", "a'''b", "a''' '''b", "a'''#", "a'''  # c", "a''' \\\n'''b",
              "a''' r'''\\d", "a''' R'''x", "a''' u'''\\x41", "a''' b'''x", "a''' f'''x",
              "a''' f'''{1}", "a''' rb'''x", "a''' ur'''x", "a''' '''b''' '''c",
              "a'''\n'''b", "a'''\n", "a'''#\n'''", "a''' \"\"\"b", "a''' \"b\" '", "a''' 'b' '",
              "a'''+'''", "'''+'''", "a''' * 2 + '''", "a''' if 1 else '''", "a''' or '''",
              "a''' x '''", "a'''1'''", "a'''.5'''", "a'''.join'''", "a''';'''", "a'''='''",
              "a'''=='''", "a'''!'''", "a'''!='''", "a''' ~ '''", "a'''$'''", "a'''\\",
              "a'''\\x", "\"\"\"", '"', "a\"\"\"b", "\x00", "a\udcffb", "\udcff\udcfe",
              "\\t\udc80", "a\x0cb", "\ta", "a''' \t\x0c'''b", "a'''\\\n'''b", "\\\n",
              "a''' 'b\nc' '''", "a''' 'b\\\nc' '''", "\\N{LATIN SMALL LETTER E WITH ACUTE}",
              "\\u0000", "\\x00", "\\N{bullet}", "\\N{Line Feed}", "\\N{NUL}", "\\N{BYTE ORDER MARK}",
              "\\N{HANGUL SYLLABLE GGA}", "\\N{HANGUL SYLLABLE GAG}", "\\N{HANGUL SYLLABLE ga}", "\\N{HANGUL SYLLABLE }",
              "\\N{HANGUL SYLLABLE I}", "\\N{HANGUL SYLLABLE GAX}", "\\N{CJK UNIFIED IDEOGRAPH-4E00}",
              "\\N{CJK UNIFIED IDEOGRAPH-4e00}", "\\N{cjk unified ideograph-4E00}", "\\N{CJK UNIFIED IDEOGRAPH-2B739}",
              "\\N{CJK UNIFIED IDEOGRAPH-30000}", "\\N{CJK UNIFIED IDEOGRAPH-04E00}", "\\N{CJK COMPATIBILITY IDEOGRAPH-F900}",
              "\\N{TANGUT IDEOGRAPH-17000}", "\\N{KHITAN SMALL SCRIPT CHARACTER-18B00}", "\\N{LATIN CAPITAL LETTER A WITH MACRON AND GRAVE}",
              "\\N{ bullet}", "\\N{BULLET }", "\\N{bul-let}", "\\N{é}", "a\\N{SPACE}b\\N{DIGIT ONE}", "\\N{BULLET"]
    import random
    import unicodedata
    rnd = random.Random(3)
    for c in rnd.sample(range(0xAC00, 0xD7A4), 60) + rnd.sample(range(0x20000, 0x2A6E0), 20):
        inputs.append("\\N{%s}" % unicodedata.name(chr(c)))
    cases = []
    for s in inputs:
        def ev(s=s):
            return eval("'''%s'''" % s, {"__builtins__": None}, {})
        c = run({"py": "eval(\"'''%%s'''\" %% %r, {'__builtins__': None}, {})" % s, "in": enc_str(s)}, ev)
        if "ok" in c and not isinstance(ev(), str):
            c["ok"] = enc_val(ev())
        cases.append(c)
    return cases


def number_cases():
    ints = ["0", "1", "-1", "+7", " 12 ", "\t12\n", "\x0b12\x0c", "\x1c12", "12\x85", "1_000",
            "1__0", "_1", "1_", "0x1f", "0X1F", "0x_1f", "0x", "0b101", "0b_1", "0o17", "017",
            "0_17", "00", "08", "0", "-0", "٣", "１２", "߀", "+-1", "- 1", "", " ", "abc", "ff",
            "zz", "9" * 30, "9" * 4300, "9" * 4301, "1" * 5000, "12\u2003", "\u3000 5", "1e3",
            "1.0", "\udcff", "1\udcff", "0x1g", "1 2", "Z", "-z", "0b", "0B11", "7_7_7", "a" * 300]
    cases = []
    for s in ints:
        for b in [10, 16, 8, 2, 36, 0]:
            cases.append(run({"py": "int(%r, %d)" % (s if len(s) < 40 else s[:10] + "...", b),
                              "in": enc_str(s), "base": b}, lambda: hex(int(s, b))))
    floats = ["0", "1.5", "-2.5e3", ".5", "5.", ".", "e5", "1e", "1e+", "1e+5", "1E-5", "inf", "-INF",
              "Infinity", "+infinity", "infinit", "nan", "-nan", "NaN", "+nAn", "nan1", "1_000.5",
              "1__0", "1_.5", "1._5", "._5", "1e1_0", "1e_1", "_1", "1_", " 1.5 ", "\x1c1.5",
              "1.5\x85", "١.٥", "0x1p3", "1e400", "-1e400", "1e-400", "4.9e-324", "2.5e-324",
              "1.7976931348623157e308", "1.7976931348623159e308", "123456789012345678901234567890",
              "0.1", "", " ", "abc", "1 2", "+-1", "1.5\udcff", "a" * 300, "9" * 5000]
    for s in floats:
        cases.append(run({"py": "float(%r)" % (s if len(s) < 40 else s[:10] + "..."), "in": enc_str(s), "float": True},
                         lambda: float(s).hex() if not math.isnan(float(s)) else ("-nan" if math.copysign(1, float(s)) < 0 else "nan")))
    return cases


def encode_cases():
    strs = ["abc", "\udc80\udcff", "a\ud800b", "a\ud800\ud801b", "a\udc80\ud800b", "a\ud800b\ud801",
            "\udfff", "x\udc7f", "\U0001F600\ud83d"]
    cases = []
    for s in strs:
        c = {"py": "%r.encode('utf-8', 'surrogateescape')" % s, "in": enc_str(s)}
        try:
            b = s.encode("utf-8", "surrogateescape")
            c["ok"] = enc_str(b.decode("utf-8", "surrogateescape"))
        except UnicodeEncodeError as e:
            c["kind"], c["msg"] = type(e).__name__, str(e)
        cases.append(c)
    return cases


out = {"python": sys.version.split()[0], "format": format_cases(), "repr": repr_cases(),
       "float_repr": float_repr_cases(), "literal": literal_cases(), "number": number_cases(),
       "encode": encode_cases()}
# One case per line, gzipped: the file is large.
with gzip.open("testdata/cases.json.gz", "wt", encoding="utf-8", compresslevel=9) as f:
    f.write("{\"python\": %s" % json.dumps(out.pop("python")))
    for k, v in out.items():
        f.write(",\n%s: [\n" % json.dumps(k))
        f.write(",\n".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in v))
        f.write("]")
    f.write("}\n")
print({k: len(v) for k, v in out.items() if isinstance(v, list)})
