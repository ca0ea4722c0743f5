#!/usr/bin/env bash
# The output scenario of issue 14: what gathering much output costs, with
# csub -b through a fleet (a coordinator embedding NATS and four gateway
# agents, started afresh for each run, every node played by the in-process
# node simulator internal/nodesim):
#   identical: 10 000 nodes x the same 1 000 lines (seq 1000), one group;
#   distinct:  50 nodes x 200 000 lines of their own (about 126 MiB);
# the distinct case also through `csub -R exec -b` and `clush -R exec -b`
# with the same lines printed by local processes. Records wall time, CPU
# per role and peak RSS of csub (or clush), the coordinator and the largest
# agent, and the output's size, in bench/results/output.jsonl, and prints
# the medians and the targets (csub's peak RSS <= 2x the distinct output;
# csub and coordinator under 200 MB in the identical case), then the table
# and plot of bench/plot.
#
#   bash bench/output/run.sh
#   FLEETSH_BENCH_OUTPUT_SMALL=1 bash bench/output/run.sh   # a quick check
#
# Environment: FLEETSH_BENCH_REPEAT (runs per case and tool, default 3),
# FLEETSH_BENCH_OUT (results file, default bench/results/output.jsonl; it
# is truncated first), FLEETSH_BENCH_OUTPUT_SMALL=1 (500 nodes x 100 lines
# and 5 nodes x 20 000 lines), FLEETSH_BENCH_CASES (identical, distinct:
# a comma list), FLEETSH_BENCH_CLUSH (unset: clush in the first run only;
# 1: in every run; 0: never), FLEETSH_BENCH_TOOLS (comma list of fleet,
# exec, clush), FLEETSH_BENCH_PROFILES=DIR (each csub writes CPU
# and heap profiles there: CASE-TOOL-RUN.cpu.pprof and .mem.pprof; read
# them with go tool pprof).
#
# Time on a 2-core VM: about 10 minutes (fleet runs well under a minute
# each; clush needs several minutes for the distinct case's 10 million
# lines). Take the shared bench lock around it when others measure on the
# machine (flock /work/wt/bench.lock ...).
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
bench_usage "$@"

exec "$(dirname "$0")/../scenario.sh" output BenchmarkOutput
