#!/usr/bin/python3
# Generates the expectations of the optparse tests by running the real
# Python optparse and ClusterShell 1.9.1 option parsers.
# Usage (from internal/optparse): /usr/bin/python3 testdata/gen_cases.py
#
# Strings are encoded as {"s": text} or, when they contain lone surrogates
# (bytes that are not UTF-8: Python decodes sys.argv with surrogateescape),
# as {"cp": [code points]}; outputs are the bytes Python writes, decoded
# back with surrogateescape.
import io
import json
import optparse
import os
import random
import signal
import sys
import textwrap

from ClusterShell.CLI.OptionParser import OptionParser as CSOptionParser


def enc_str(s):
    if any(0xD800 <= ord(c) <= 0xDFFF for c in s):
        return {"cp": [ord(c) for c in s]}
    return {"s": s}


# --- parsers -----------------------------------------------------------

def nodeset_parser():
    # ClusterShell/CLI/Nodeset.py, nodeset()
    sys.argv[0] = "/usr/bin/nodeset"
    parser = CSOptionParser("%prog [COMMAND] [OPTIONS] [ns1 [-ixX] ns2|...]")
    parser.install_groupsconf_option()
    parser.install_nodeset_commands()
    parser.install_nodeset_operations()
    parser.install_nodeset_options()
    return parser


def clush_parser():
    # ClusterShell/CLI/Clush.py, main()
    sys.argv[0] = "/usr/bin/clush"
    parser = CSOptionParser("%prog [options] command")
    parser.add_option("-n", "--nostdin", action="store_true", dest="nostdin",
                      help="don't watch for possible input from stdin")
    parser.install_groupsconf_option()
    parser.install_clush_config_options()
    parser.install_nodes_options()
    parser.install_display_options(verbose_options=True)
    parser.install_filecopy_options()
    parser.install_connector_options()
    return parser


def consume_cb(option, opt_str, value, parser):
    vals = []
    while parser.rargs and not parser.rargs[0].startswith("-"):
        vals.append(parser.rargs.pop(0))
    setattr(parser.values, "consumed", vals)


def reject_cb(option, opt_str, value, parser):
    if value == "bad":
        raise optparse.OptionValueError("option %s: bad value %r" % (opt_str, value))
    parser.values.rejected = value


def demo_parser():
    # Mirrored by newDemoParser in python_test.go.
    sys.argv[0] = "/usr/bin/demo"
    p = optparse.OptionParser(
        usage="usage: %prog [options] FILE...", version="%prog 0.1",
        description="Demo program %prog exercising optparse: a long description text that "
                    "wraps over several lines, with hyphenated-words and an em--dash too.",
        epilog="Epilog text, also wrapped at the width of the terminal, see "
               "https://example.org/some-very-long-url-that-cannot-be-broken-nicely.")
    p.add_option("-v", "--verbose", action="count", dest="verbose", help="more output (repeatable)")
    p.add_option("-q", action="store_const", const=0, dest="verbose", help="no output")
    p.add_option("--level", type="int", default=3, metavar="LVL", help="level [default: %default]")
    p.add_option("--ratio", type="float", default="0.5", help="ratio,\tdefault %default")
    p.add_option("-p", "--point", nargs=2, type="int", help="a point (two ints)")
    p.add_option("-t", "--tag", action="append", dest="tags", help="add a tag")
    p.add_option("-T", action="append_const", const="T", dest="tags", help="add tag T")
    p.add_option("--mode", choices=["fast", "slow", "very-slow"], default="fast", help="mode: %default")
    p.add_option("--no-color", action="store_false", dest="color", default=True, help=optparse.SUPPRESS_HELP)
    p.add_option("--consume", action="callback", callback=consume_cb,
                 help="consume the following arguments up to the next option")
    p.add_option("--reject", action="callback", callback=reject_cb, type="string",
                 help="callback rejecting the value 'bad'")
    p.add_option("--abc-long-option-name-that-is-very-long", action="store_true", help="a long option")
    p.add_option("--abd", action="store_true")
    g = optparse.OptionGroup(p, "Group title", "Group description paragraph which is long enough to "
                             "need wrapping when printed at the usual widths.")
    g.add_option("-x", "--extra", help="extra value with a help text that is deliberately quite long so "
                 "that it wraps over several lines, including a-very-long-hyphenated-compound-word-to-break "
                 "and Supercalifragilisticexpialidocious-ishness")
    g.add_option("-y", dest="yvalue", type="choice", choices=("a", "b"), help="y choice")
    p.add_option_group(g)
    p.add_option_group("Empty group")
    return p


def demo2_parser():
    # Mirrored by newDemo2Parser in python_test.go.
    sys.argv[0] = "/usr/bin/demo2"
    p = optparse.OptionParser(usage=optparse.SUPPRESS_USAGE, add_help_option=False,
                              conflict_handler="resolve",
                              formatter=optparse.IndentedHelpFormatter(width=60, short_first=0))
    p.add_option("-a", "--alpha", action="store_true")
    p.add_option("-a", "--all", action="store_true", help="takes -a over from --alpha")
    p.add_option("-b", action="store_true", help="first b")
    p.add_option("-b", action="store_false", dest="b2", help="second b, the first one disappears")
    p.add_option("-f", "--file", dest="filename", metavar="FILE", help="a file")
    return p


PARSERS = {"nodeset": nodeset_parser, "clush": clush_parser, "demo": demo_parser, "demo2": demo2_parser}


# --- running ------------------------------------------------------------

def run(parser_name, args, columns=None):
    if columns is None:
        os.environ.pop("COLUMNS", None)
    else:
        os.environ["COLUMNS"] = columns
    parser = PARSERS[parser_name]()
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    status = None
    values = rest = None
    try:
        options, rest = parser.parse_args(args)
        values = str(options)
    except SystemExit as e:
        status = e.code if e.code is not None else 0
    finally:
        sys.stdout, sys.stderr = saved
    case = {
        "py": "COLUMNS=%s %s %s" % (columns, parser_name, " ".join(repr(a) for a in args)),
        "parser": parser_name, "args": [enc_str(a) for a in args], "columns": columns,
        "stdout": enc_str(out.getvalue().encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")),
        "stderr": enc_str(err.getvalue().encode("utf-8", "backslashreplace").decode("utf-8", "surrogateescape")),
    }
    if status is not None:
        case["status"] = status
    else:
        case["values"] = values
        case["rest"] = [enc_str(a) for a in rest]
    return case


NODESET_ARGS = [
    [], ["-Z"], ["--aut=3"], ["--a"], ["-f", "--fold=1"], ["-S"], ["--fold=x"], ["--split=abc"],
    ["--pick", "0x1f", "-e", "a"], ["--version"], ["-h"], ["--help"], ["--he"], ["-x"], ["-fx"], ["--no"],
    ["-f", "a", "-r"], ["-f", "--", "-r"], ["-f", "-", "a"], ["-fS", ":", "a"], ["-fS:", "a"], ["-eS'x'", "a"],
    ["-ll", "-L"], ["-c", "-x", "b", "-xc", "-i", "d", "--xor=e", "a"], ["--autostep=50%", "-f"],
    ["--autostep=auto"], ["--autostep=x"], ["--autostep", "5%0"], ["--autostep=1_0"], ["--autostep=-3"],
    ["--autostep=12.5%"], ["--autostep=%"], ["--pick=-1"], ["--pick", "010"], ["--pick", "08"],
    ["--pick", "0b101"], ["--pick", "0b"], ["--pick", "99999999999999999999999"], ["--pick", " 7 "],
    ["--pick", "0x"], ["--pick", "0X1F"], ["--pick", "-0x1"], ["--pick", "1_000"], ["--pick", "٣"],
    ["-s", "-x"], ["-s", ""], ["--groupsource", "foo"], ["-sfoo", "-f"], ["--list-s"], ["--list"],
    ["--list-"], ["--groups"], ["--groupsources"], ["-O", "%s-ib", "-e", "a[1-2]"], ["--output-format=%d"],
    ["-\udcff"], ["--pick", "\udcff\xe9"], ["--\udcff"], ["-é"], ["-R", "-Iabc"], ["--axis", "-1", "-f"],
    ["--split", "2", "--contiguous"], ["-d", "-q", "-G", "-a", "-R"], ["a", "-f"], ["--=x"], ["---"],
    ["--fold", "--", "--"], ["-"], ["-e", "-"], ["--separator=", "-e"], ["-S", "-e"], ["--versio"],
    ["--version=1"], ["-h", "-Z"], ["-Z", "-h"], ["-fZ"], ["--split"], ["--split="], ["-I"],
    ["--exclude=x", "--exc", "y", "-xz"], ["-eq", "--quiet", "x", "y", "-z"],
]

CLUSH_ARGS = [
    [], ["-w", "a", "hostname"], ["-w", "-x"], ["-w", ""], ["-c", "file", "-w", "a"],
    ["--rcopy", "f", "--dest", "/tmp", "-w", "a", "g"], ["-f", "abc"], ["-f", "0x10"], ["-t", "1.5"],
    ["-t", "abc"], ["-t", "1e500"], ["-u", "inf"], ["-u", "-nan"], ["-t", "1_0.5"], ["-t", " 2 "],
    ["--remote=maybe"], ["--color=bad"], ["--color="], ["-E", "foo"], ["-E", "epoll"], ["--engine", "auto"],
    ["-b", "-B", "-L", "-N"], ["-O", "a=b", "-O", "c=d"], ["--hostfile=/x", "--machinefile", "/y"],
    ["--topology", "t"], ["--grooming", "0.5"], ["--grooming", "x"], ["-R", "exec", "-l", "root", "-o", "-p 22"],
    ["-l", "-root"], ["-vqd"], ["-S", "-P"], ["--diff", "--outdir", "o", "--errdir", "e"], ["-a", "uname"],
    ["--pick", "x"], ["-X", "g", "-g", "h", "-x", "n"], ["--conf=c", "--groupsconf=g"], ["-n", "--nostdin"],
    ["-m", "m"], ["--o"], ["--op"], ["--opti"], ["--option"], ["--option=k=v"], ["--help"], ["-c"],
    ["-cp", "f", "-w", "a"], ["--copy=x"], ["-w", "a", "cmd", "-x", "b"], ["-c", "f", "--", "-w"],
    ["--rc", "f"], ["-g"], ["-N", "--color", "never"],
]

DEMO_ARGS = [
    [], ["-vvv"], ["-vq"], ["-qv"], ["--level", "5"], ["--level=x"], ["--ratio=1e3"], ["-p", "1", "2", "rest"],
    ["-p", "1"], ["--point=1", "2"], ["-p1", "2"], ["-p", "1", "x"], ["-tA", "-t", "B", "-T"], ["--mode=slow"],
    ["--mode=very"], ["--mode", "Fast"], ["--no-color"], ["--consume", "a", "b", "-v", "c"], ["--reject", "bad"],
    ["--reject=ok"], ["--abc"], ["--ab"], ["-y", "c"], ["-y", "a"], ["file", "-v", "file2"], ["--", "-v"],
    ["-", "-v"], ["--help"], ["--version"], ["-h"], ["--consume"], ["--verb", "-x", "e"],
]

DEMO2_ARGS = [[], ["-a"], ["--alpha"], ["--all"], ["-b"], ["--help"], ["-h"], ["-f", "x"]]

COLUMNS = [None, "1", "10", "20", "30", "40", "60", "79", "80", "100", "150", "300", "abc", " 70 ", "-5",
           "1_00", "", "99999999999999999999"]


def parse_cases():
    cases = []
    for name, arglists in [("nodeset", NODESET_ARGS), ("clush", CLUSH_ARGS), ("demo", DEMO_ARGS),
                           ("demo2", DEMO2_ARGS)]:
        for args in arglists:
            cases.append(run(name, args))
        for cols in COLUMNS:
            cases.append(run(name, ["--help"], cols))
    return cases


# --- option definition errors -------------------------------------------

OPTION_ERRORS = [
    # (name, python statement using parser p)
    ("no flags", "p.add_option(optparse.Option(action='store_true'))"),
    ("short too long", "p.add_option('-xy')"),
    ("one char", "p.add_option('x')"),
    ("bad short", "p.add_option('--')"),
    ("bad long", "p.add_option('-x', '---y')"),
    ("bad long 2", "p.add_option('-x', 'yy')"),
    ("bad action", "p.add_option('-x', action='frob')"),
    ("bad type", "p.add_option('-x', type='complex2')"),
    ("type for store_true", "p.add_option('-x', action='store_true', type='int')"),
    ("choice without choices", "p.add_option('-x', type='choice')"),
    ("choices for int", "p.add_option('-x', type='int', choices=['1'])"),
    ("choices for store_true", "p.add_option('-x', action='store_true', choices=['1'])"),
    ("const for store", "p.add_option('-x', const=1)"),
    ("nargs for store_true", "p.add_option('-x', action='store_true', nargs=2)"),
    ("callback without function", "p.add_option('-x', action='callback')"),
    ("conflict", "p.add_option('-h')"),
    ("conflict 2", "p.add_option('-x', '--help', '--version')"),
]


def option_error_cases():
    cases = []
    for name, stmt in OPTION_ERRORS:
        p = optparse.OptionParser(version="1")
        try:
            exec(stmt)
            msg = None
        except (optparse.OptionError, TypeError) as e:
            msg = str(e)
        cases.append({"py": stmt, "name": name, "error": msg})
    return cases


# --- textwrap -----------------------------------------------------------

def on_alarm(signum, frame):
    raise TimeoutError()


def textwrap_cases():
    signal.signal(signal.SIGALRM, on_alarm)
    rnd = random.Random(1)
    words = ["a", "I", "word", "words,", "end.", "hyphen-ated", "multi-hyphen-ated-word", "x-y", "--", "---",
             "em--dash", "a--b", "-b", "--option", "(see", "-s)", "'quoted'", "\"dq\"", "1,5,18-31", "a-b/step",
             "node[1-10]", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bb-bbbbbbbbbbbbbbbbbbbbbbbbbbbb", "é-é", "日本-語",
             "\t", "\n", "  ", " ", "-", "--x", "x--", "abc-", "-abc", "a-b-c-d", "ab-cd-ef", "1-2", "a1-b2",
             "_x-y_", "Ab-Cd", "!?-!", ".,-.", "ééééééééééééééééé", "\u00a0", "x\u00a0y", "\xad"]
    cases = []
    for i in range(600):
        n = rnd.randint(0, 14)
        parts = []
        for _ in range(n):
            parts.append(rnd.choice(words))
            parts.append(rnd.choice([" ", " ", " ", "", "\t", "  ", "\n"]))
        text = "".join(parts)
        width = rnd.choice([1, 2, 3, 5, 8, 11, 15, 20, 30, 50])
        ind = rnd.choice(["", "", "  ", "    "])
        sub = rnd.choice(["", "  ", ind])
        signal.alarm(2)
        try:
            lines = textwrap.wrap(text, width, initial_indent=ind, subsequent_indent=sub)
        except ValueError:
            continue
        except TimeoutError:
            # textwrap loops forever on some inputs when the indentation
            # leaves no room: optparse never wraps that way.
            print("textwrap hangs:", repr(text), width, repr(ind), repr(sub), file=sys.stderr)
            continue
        finally:
            signal.alarm(0)
        cases.append({"py": "textwrap.wrap(%r, %d, initial_indent=%r, subsequent_indent=%r)" % (text, width, ind, sub),
                      "text": text, "width": width, "initial": ind, "subsequent": sub, "lines": lines})
    return cases


def dump(path, data):
    with open(path, "w", encoding="utf-8") as f:
        f.write("{\"python\": %s" % json.dumps(sys.version.split()[0]))
        for k, v in data.items():
            f.write(",\n%s: [\n" % json.dumps(k))
            f.write(",\n".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in v))
            f.write("]")
        f.write("}\n")


dump("testdata/cases.json", {"parse": parse_cases(), "option_errors": option_error_cases()})
dump("testdata/textwrap.json", {"wrap": textwrap_cases()})
