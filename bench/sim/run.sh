#!/usr/bin/env bash
# Simulated nodes (issue 14): the command `true` on N healthy nodes played by
# one x/crypto/ssh server without forking (internal/nodesim, inside the
# benchmark process), through a coordinator and 4 gateway agents, 8 agents
# (N >= FLEETSH_BENCH_SIM_8), csub's in-process fleet, and a bare
# x/crypto/ssh client loop (bench/sim/bareloop: the per-node floor), all at
# fanout 256, interleaved within each repetition. Records wall time, CPU per
# role (csub, coordinator, agents, simulator, bare client), context switches
# per role and peak RSS per role in bench/results/sim.jsonl; prints the medians, agent CPU per node
# against the bare loop's, the wall targets (10 000 nodes through 4 agents
# <= 10 s, 100 000 through 8 <= 110 s) and wall per node from the smallest N
# to the largest (integration/bench_sim_test.go, docs/bench/sim.md).
#
#   bash bench/sim/run.sh                          # N=1000,10000, 3 runs each
#   FLEETSH_BENCH_N=1000,10000,50000,100000 bash bench/sim/run.sh   # the issue's sweep
#   FLEETSH_BENCH_APPEND=1 FLEETSH_BENCH_N=100000 FLEETSH_BENCH_REPEAT=1 bash bench/sim/run.sh
#
# Environment: FLEETSH_BENCH_N (sizes, default 1000,10000), FLEETSH_BENCH_REPEAT
# (runs per tool and N, default 3), FLEETSH_BENCH_OUT (records, default
# bench/results/sim.jsonl), FLEETSH_BENCH_SIM_TOOLS (comma list among
# "fleet 1 agent", "fleet 2 agents", "fleet 4 agents", "fleet 8 agents",
# "csub in-process", "bare x/crypto/ssh"; default all but the 1- and 2-agent
# fleets), FLEETSH_BENCH_SIM_8 (smallest N of the 8-agent fleet, default
# 10000), FLEETSH_BENCH_FANOUT (default 256), FLEETSH_BENCH_APPEND=1 (add to the
# records file instead of truncating it, to run big N as separate commands),
# FLEETSH_BENCH_AGENT_ENV (NAME=VALUE words for the fleets' agents alone, e.g.
# GOMAXPROCS=1).
# Wrap it in `flock /work/wt/bench.lock` on a shared machine.
#
# Time on the shared 2-core VM (docs/bench/sim.md): the default about 5
# minutes; one repetition at 50 000 nodes (all four tools) about 7 minutes;
# 100 000 nodes through 8 agents and the bare loop about 8 minutes. Hold a
# shared lock no longer: run big N as separate commands with
# FLEETSH_BENCH_APPEND=1, FLEETSH_BENCH_REPEAT=1 and FLEETSH_BENCH_SIM_TOOLS.
set -euo pipefail

for a in "$@"; do
  case $a in
    -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument: $a" >&2; exit 2 ;;
  esac
done

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
bench_root
bench_results sim "${FLEETSH_BENCH_APPEND:-}"

# -v streams the benchmark's log (without it, go test keeps 10 lines).
# 100 000 nodes through every tool takes minutes: no test timeout.
(cd integration && go test -run '^$' -bench '^BenchmarkSim$' -benchtime 1x -timeout 0 -v .)

svg=${out%.jsonl}.svg
if [ -d bench/plot ]; then
  go run ./bench/plot -table -svg "$svg" "$out"
else
  echo "run.sh: bench/plot is not on this branch: no table or SVG from it (the benchmark's log above has the medians)" >&2
fi
