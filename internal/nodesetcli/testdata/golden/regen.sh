#!/usr/bin/env bash
# Regenerate the expectations of the nodeset golden tests from the reference
# ClusterShell 1.9.1 `nodeset` (Debian's clustershell package).
#
#   bash internal/nodesetcli/testdata/golden/regen.sh            # every *.txt
#   bash internal/nodesetcli/testdata/golden/regen.sh groups.txt # some files
#   NODESET=/path/to/nodeset bash .../regen.sh                   # other binary
#
# The file format and how cases are added are described in
# internal/testdata/golden/regen-common.sh.
#
# Commands run from internal/nodesetcli (so the relative --groupsconf paths
# to testdata/golden/conf/ behave the same here and under `go test`, where
# the working directory is the package directory) with a scrubbed
# environment and an empty HOME, so no user or system groups.conf leaks in
# (only --groupsconf configs are ever read).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../../testdata/golden/regen-common.sh"
golden_regen "$here" "${NODESET:-/usr/bin/nodeset}" "nodeset 1.9.1" nodeset -- "$@"
