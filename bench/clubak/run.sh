#!/usr/bin/env bash
# Memory and time of "clubak -b" on 1 000 000 input lines, ours against
# ClusterShell's /usr/bin/clubak, on three inputs:
#   same     1 000 nodes x 1 000 lines, every node the same output
#   distinct 1 000 nodes x 1 000 lines, every line different
#   nodes    1 000 000 nodes, one same line each
# Prints one row per run: input, program, wall seconds, max RSS (MiB).
# Usage: bash bench/clubak/run.sh [ours-binary]  (default: builds ./cmd/clubak)
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ours=${1:-}
if [ -z "$ours" ]; then
	ours=$tmp/clubak
	go build -o "$ours" ./cmd/clubak
fi
awk 'BEGIN { for (i = 0; i < 1000; i++) for (n = 1; n <= 1000; n++) printf "node%d: line %d\n", n, i }' >"$tmp/same"
awk 'BEGIN { for (i = 0; i < 1000; i++) for (n = 1; n <= 1000; n++) printf "node%d: line %d of node %d\n", n, i, n }' >"$tmp/distinct"
awk 'BEGIN { for (n = 1; n <= 1000000; n++) printf "node%d: up\n", n }' >"$tmp/nodes"
printf '%-9s %-16s %8s %10s\n' input program wall_s maxrss_MiB
for input in same distinct nodes; do
	for prog in "$ours" /usr/bin/clubak; do
		[ -x "$prog" ] || continue
		name=ours
		[ "$prog" = /usr/bin/clubak ] && name=clubak
		env -i PATH=/usr/bin:/bin HOME="$tmp" CLUSTERSHELL_CFGDIR="$tmp" /usr/bin/time -v "$prog" -b <"$tmp/$input" \
			>"$tmp/out.$name" 2>"$tmp/time"
		wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$tmp/time")
		rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$tmp/time")
		printf '%-9s %-16s %8s %10s\n' "$input" "$name" "$wall" "$rss"
	done
	if [ -x /usr/bin/clubak ] && ! cmp -s "$tmp/out.ours" "$tmp/out.clubak"; then
		echo "$input: outputs differ" >&2
		exit 1
	fi
done
