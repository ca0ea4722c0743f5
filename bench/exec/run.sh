#!/usr/bin/env bash
# The exec scenario of issue 14: `csub -R exec -w n[1-N] -f 64 true` in
# process (csub's embedded fleet spawns the shells; no daemon) against
# spawning the same N "/bin/sh -c true" bare (bench/exec/barespawn, which
# starts each process as csub's exec driver does: own process group,
# stdin/stdout/stderr pipes, output drained) and clush -R exec, all at
# fanout 64, runs interleaved. Records wall time and client CPU (the tool
# and the children it waited for) per run in bench/results/exec.jsonl and
# prints the medians and csub's CPU per node over the bare spawn's (the
# target: <= 1.5x), then the table and plot of bench/plot.
#
#   bash bench/exec/run.sh                        # N = 1000, 10000; 3 runs
#   FLEETSH_BENCH_FULL=1 bash bench/exec/run.sh   # N = 10000, 100000
#
# Environment: FLEETSH_BENCH_N (comma list of node counts; default
# 1000,10000, or 10000,100000 with FLEETSH_BENCH_FULL=1),
# FLEETSH_BENCH_REPEAT (runs per tool and N, default 3),
# FLEETSH_BENCH_OUT (results file, default bench/results/exec.jsonl; it is
# truncated first), FLEETSH_BENCH_CLUSH (unset: clush at the smallest N
# only; 1: at every N up to 10000; 0: never), FLEETSH_BENCH_TOOLS (comma
# list of csub, bare, clush: the tools to run).
#
# Time on a 2-core VM: the default about 5 minutes (10 000 spawns take
# ~30 s per tool and run; clush needs ~22 s for 1 000 nodes, 223 s for
# 10 000), the full sweep about 35 minutes (100 000 nodes: ~6 min per run
# of csub, ~5 min of the bare spawn). Take the shared bench lock around it
# when others measure on the machine (flock /work/wt/bench.lock ...).
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
bench_usage "$@"

if [[ ${FLEETSH_BENCH_FULL:-0} == 1 ]]; then
  export FLEETSH_BENCH_N=${FLEETSH_BENCH_N:-10000,100000}
fi
exec "$(dirname "$0")/../scenario.sh" exec BenchmarkExec -ref "bare spawn"
