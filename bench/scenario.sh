#!/usr/bin/env bash
# Runs one bench scenario's Go benchmark and plots its results; the
# bench/<scenario>/run.sh scripts end with it:
#
#   bash bench/scenario.sh SCENARIO BENCHMARK [PLOT-ARGS...]
#
# It truncates the results file (FLEETSH_BENCH_OUT, default
# bench/results/SCENARIO.jsonl; a relative path is taken from the
# repository's root), runs `go test -bench '^BENCHMARK$' -benchtime 1x` in
# integration/ with FLEETSH_BENCH_OUT pointing at it, then
# `go run ./bench/plot -table -svg bench/results/SCENARIO.svg PLOT-ARGS...`.
set -euo pipefail

if (($# < 2)); then
  sed -n '2,11p' "$0" >&2
  exit 2
fi
scenario=$1 benchmark=$2
shift 2
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_root
bench_results "$scenario"

(cd integration && go test -v -run '^$' -bench "^$benchmark\$" -benchtime 1x -timeout 0 .)
go run ./bench/plot -table -svg "${out%.jsonl}.svg" "$@" "$out"
