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
# The file format is the nodeset golden tests', described in
# internal/testdata/golden/regen-common.sh.
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
#
# clush's full help goes to clush_help.out, which csub's option help must
# match line for line (golden_test.go's TestHelpMatchesClush).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../../testdata/golden/regen-common.sh"
golden_regen "$here" "${CLUSH:-/usr/bin/clush}" "clush 1.9.1" csub \
  --env CLUSTERSHELL_CFGDIR=testdata/golden/conf --strip-progress \
  --help-out testdata/golden/clush_help.out -- "$@"
