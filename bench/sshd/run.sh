#!/usr/bin/env bash
# The "sshd" bench scenario: csub (native ssh worker, in-process fleet),
# csub -R openssh, ClusterShell's clush and pdsh -R ssh run `true` on N node
# names that all reach one throwaway OpenSSH sshd on 127.0.0.1 (its own
# host and client keys, MaxStartups 1024, curve25519-sha256 the only key
# exchange), the tools interleaved within each repetition. Per run: wall
# time, client CPU (the tool and the ssh processes it waited for), machine
# busy time (/proc/stat), server CPU (busy minus client) and the
# server-bound limit (server CPU / cores), sshd's own CPU beside it. Prints
# the medians and the issue's targets (csub client CPU <= 1/10 of pdsh's
# and clush's; csub wall <= 1.1x the limit), then the plot's table.
# Integration code: integration/bench_sshd_test.go; figures and findings:
# docs/bench/sshd.md.
#
#   bash bench/sshd/run.sh           # N=50,200 at fanout 64 and 256, 3 runs: 8-15 min
#   FULL=1 bash bench/sshd/run.sh    # N=50,200,1000: 30-45 min on 2 cores
#   bash bench/sshd/run.sh -h        # this text
#
# Environment: FLEETSH_BENCH_N (comma list of node counts, default 50,200;
# FULL=1: 50,200,1000), FLEETSH_BENCH_FANOUT (default 64,256),
# FLEETSH_BENCH_REPEAT (runs per point and tool, default 3),
# FLEETSH_BENCH_TOOLS (comma list, default all four), FLEETSH_BENCH_OUT
# (results, default bench/results/sshd.jsonl; truncated first unless
# APPEND=1, which adds to it, e.g. to measure one fanout at a time).
# Needs openssh-server (/usr/sbin/sshd), openssh-client, clustershell
# (/usr/bin/clush) and pdsh. Time grows with N: sshd costs some 90 ms of
# CPU per connection on a 2-core VM, so N=1000 takes ~45 s per tool.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
bench_usage "$@"
bench_root
bench_need openssh-server=/usr/sbin/sshd openssh-client=ssh clustershell=/usr/bin/clush pdsh=/usr/bin/pdsh

export FLEETSH_BENCH_N=${FLEETSH_BENCH_N:-50,200}
[[ ${FULL:-0} == 1 ]] && FLEETSH_BENCH_N=50,200,1000
bench_results sshd "${APPEND:-0}"

# The sweep is one benchmark call; the test binary runs from integration/.
go test -v -run '^$' -bench '^BenchmarkSSHD$' -benchtime 1x -timeout 0 ./integration/

if [[ -d bench/plot ]]; then
  go run ./bench/plot -table -ref csub -svg "${out%.jsonl}.svg" "$out"
else
  echo "run.sh: bench/plot not on this branch: no table or SVG (the records are in ${out#"$root"/})" >&2
fi
