#!/usr/bin/env bash
# Compare two builds of our nodeset, and ClusterShell's, on run.sh's rows,
# interleaved: each round runs every row once per side, one side after the
# other, so that a change of machine load falls on all sides alike. On a
# shared machine that is what makes two builds comparable; run.sh times
# each side's runs back to back.
#
#   bash bench/nodeset/ab.sh OLD NEW     # two nodeset binaries
#
# Environment: ROUNDS (timed rounds, default 7, after one untimed round
# that warms the page cache), NODESET_REF (reference binary, default
# /usr/bin/nodeset; "none" leaves it out). The reference skips the count
# row (it takes ClusterShell 18 s; run.sh has it) and the 1M fold (minutes).
# Prints, per row, the median and the fastest wall time of each side in
# milliseconds and ClusterShell's median over each build's median.
set -euo pipefail

if [[ $# != 2 ]]; then
  sed -n '2,15p' "$0"
  exit 2
fi
old=$(realpath "$1") new=$(realpath "$2")
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
rounds=${ROUNDS:-7}
ref=${NODESET_REF:-/usr/bin/nodeset}
[[ $ref == none ]] && ref=""

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nodeset-ab.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
# shellcheck source=bench/nodeset/inputs.sh
. "$root/bench/nodeset/inputs.sh"

titles=("fold 100k shuffled 1D names" "fold 50k shuffled 2D" "expand node[1-1000000]"
  "count node[1-10000000]" "-x of two fragmented 100k-node sets" "fold 1M shuffled 1D names")
# run ROW SIDE BIN: one timed run, its seconds appended to $tmp/ROW.SIDE
run() {
  local row=$1 side=$2 bin=$3 in=/dev/null
  local args=()
  case $row in
    0) in=$tmp/fold1d-100k.txt args=(-f) ;;
    1) in=$tmp/fold2d-50k.txt args=(-f) ;;
    2) args=(-e 'node[1-1000000]') ;;
    3) args=(-c 'node[1-10000000]') ;;
    4) args=("${xargs_[@]}") ;;
    5) in=$tmp/fold1d-1m.txt args=(-f) ;;
  esac
  "$tmp/wall" -n 1 -warmup 0 -in "$in" -- "$bin" "${args[@]}" | cut -d' ' -f1 >>"$tmp/$row.$side"
}
for ((r = 0; r <= rounds; r++)); do
  echo "round $r of $rounds (0: warm-up)" >&2
  for row in 0 1 2 3 4 5; do
    run "$row" old "$old"
    run "$row" new "$new"
    if [[ -n $ref && $row != 3 && $row != 5 ]]; then run "$row" ref "$ref"; fi
  done
  if ((r == 0)); then rm -f "$tmp"/*.old "$tmp"/*.new "$tmp"/*.ref; fi # warm-up round
done

# stats FILE -> "median_ms min_ms", or "- -" when there is no file
stats() {
  [[ -f $1 ]] || { echo "- -"; return; }
  sort -g "$1" | awk '{ v[NR] = $1 } END { printf "%.1f %.1f\n", v[int((NR + 1) / 2)] * 1000, v[1] * 1000 }'
}
ratio() { [[ $2 != - ]] && awk -v o="$1" -v r="$2" 'BEGIN { printf "%.1fx", r / o }' || echo "-"; }
echo "| row | old median / min ms | new median / min ms | cs median / min ms | cs/old (median) | cs/new (median) |"
echo "|---|---:|---:|---:|---:|---:|"
for row in 0 1 2 3 4 5; do
  read -r om omin <<<"$(stats "$tmp/$row.old")"
  read -r nm nmin <<<"$(stats "$tmp/$row.new")"
  read -r rm rmin <<<"$(stats "$tmp/$row.ref")"
  echo "| ${titles[$row]} | $om / $omin | $nm / $nmin | $rm / $rmin | $(ratio "$om" "$rm") | $(ratio "$nm" "$rm") |"
done
echo
echo "rounds: $rounds; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
