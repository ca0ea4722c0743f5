"""Run ClusterShell's nodeset main() once per case, in this process.

This is how ClusterShell's own tests/CLINodesetTest.py runs nodeset (through
TLib.CLI_main): sys.argv, a text standard input, the exit status from
SystemExit. Starting one Python per case costs ~100 ms of CPU (most of it
in the entry point script's pkg_resources import); this runs all the cases
of one configuration in one process, and keeps what a new process would
start afresh:

- file descriptors 1 and 2 are a fresh file per case, so that what the
  group upcalls (child processes) write to stderr is captured in order
  with nodeset's own messages, as in a real process;
- the standard group resolver is rebuilt from the default configuration
  files (upstream resets it in setUp/tearDown: main() changes it);
- logging is reset (-d configures it once per process).

Input (stdin): a JSON list of {"args": [...], "stdin": "..."}.
Output (stdout): a JSON list of {"stdout": "...", "stderr": "...", "exit": N}
(bytes decoded as latin-1, so any byte survives the round trip).
"""

import io
import json
import logging
import os
import sys
import tempfile
import traceback

from ClusterShell import NodeSet, NodeUtils
from ClusterShell.CLI.Nodeset import main


def stream(fd, errors):
    """A text stream writing through to fd, as sys.stdout/sys.stderr."""
    return io.TextIOWrapper(io.FileIO(fd, 'w', closefd=False),
                            encoding='utf-8', errors=errors,
                            write_through=True)


OUT = stream(1, 'strict')
ERR = stream(2, 'backslashreplace')


def run(case):
    files = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    saved_fds = os.dup(1), os.dup(2)
    saved = sys.stdin, sys.stdout, sys.stderr
    os.dup2(files[0].fileno(), 1)
    os.dup2(files[1].fileno(), 2)
    sys.stdin = io.StringIO(case["stdin"])
    sys.stdout, sys.stderr = OUT, ERR
    sys.argv = ["nodeset"] + case["args"]
    for handler in logging.root.handlers[:]:
        logging.root.removeHandler(handler)
    logging.root.setLevel(logging.WARNING)
    NodeSet.set_std_group_resolver(NodeUtils.GroupResolverConfig(
        NodeSet.DEF_GROUPS_CONFIGS, NodeSet.ILLEGAL_GROUP_CHARS))
    rc = -1
    try:
        main()
    except SystemExit as exc:
        # As the interpreter does at exit: None is 0, a message is
        # printed and is status 1.
        if exc.code is None:
            rc = 0
        elif isinstance(exc.code, int):
            rc = exc.code
        else:
            ERR.write("%s\n" % exc.code)
            rc = 1
    except Exception:  # what the interpreter prints for an uncaught one
        traceback.print_exc(file=ERR)
        rc = 1
    finally:
        OUT.flush()
        ERR.flush()
        os.dup2(saved_fds[0], 1)
        os.dup2(saved_fds[1], 2)
        os.close(saved_fds[0])
        os.close(saved_fds[1])
        sys.stdin, sys.stdout, sys.stderr = saved
    res = {"exit": rc}
    for name, f in zip(("stdout", "stderr"), files):
        f.seek(0)
        res[name] = f.read().decode('latin-1')
        f.close()
    return res


def entry():
    cases = json.load(sys.stdin)
    results = [run(c) for c in cases]
    sys.stdout.write(json.dumps(results))


if __name__ == "__main__":
    entry()
