#!/usr/bin/env bash
# Benchmark our nodeset CLI against ClusterShell 1.9's, on the same inputs,
# in the same run (so machine load affects both sides alike).
#
#   bash bench/nodeset/run.sh            # 3 timed runs per row and side
#   FAST=1 bash bench/nodeset/run.sh     # one timed run per row
#   bash bench/nodeset/run.sh --record   # also append the table to
#                                        # bench/nodeset/RESULTS.md
#
# Environment: NODESET_REF (reference binary, default /usr/bin/nodeset),
# REPEAT (timed runs per row and side, default 3), REPEAT_SHORT (the same
# for the -x row, default 10; FAST=1 sets both to 1), NODESET_OURS (use this
# binary instead of building ./cmd/nodeset; pointing it at the reference
# checks the script itself). Ours is built static and stripped, as a
# release would be (see the build below and RESULTS.md).
#
# Each row and side runs once under GNU time (/usr/bin/time -f '%M': peak
# RSS in KiB; this also warms the page cache), then $REPEAT times under
# bench/nodeset/wall, which starts the command as posix_spawn does and
# prints the best and the median wall time (its doc says why bash's clock
# is not used). Ratios are ClusterShell's time over ours, from the best
# times and from the medians; the target is 30x on every row. Outputs of
# both sides are compared where they are captured (the "same" column); the
# expand row writes to /dev/null as a user piping a million names away
# would, so it is not compared. The last row runs ours alone: the
# reference needs minutes for a million shuffled names, and the row exists
# to hold ours to its target (< 1 s).
set -euo pipefail

record=0
for a in "$@"; do
  case $a in
    --record) record=1 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument: $a" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
repeat=${REPEAT:-3}
# the -x row takes ClusterShell under half a second and ours some 10 ms,
# where a scheduling hiccup is a large share: more runs, on both sides
repeat_short=${REPEAT_SHORT:-10}
[[ ${FAST:-0} == 1 ]] && repeat=1 repeat_short=1
rowrepeat=$repeat

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nodeset-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# GNU time gives peak RSS; bash's time keyword does not.
timebin=/usr/bin/time
if ! [[ -x $timebin ]] || ! $timebin -f '%e %M' true >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "installing GNU time (Debian package 'time')..." >&2
    apt-get install -y -q time >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q time >/dev/null 2>&1; } || true
  fi
fi
if ! [[ -x $timebin ]] || ! $timebin -f '%e %M' true >/dev/null 2>&1; then
  timebin=""
  echo "warning: GNU time unavailable: wall times from date(1), no RSS" >&2
fi

ref=${NODESET_REF:-/usr/bin/nodeset}
refver=$("$ref" --version 2>/dev/null || true)
if [[ $refver != "nodeset 1.9"* ]]; then
  echo "warning: no ClusterShell 1.9 nodeset at $ref: reference columns left empty" >&2
  ref=""
fi

ours=$tmp/nodeset
if [[ -n ${NODESET_OURS:-} ]]; then
  ours=$NODESET_OURS
else
  # Built as a release would be: static (CGO_ENABLED=0: no dynamic loader,
  # no libc; os/user then reads /etc/passwd itself, which only matters
  # when $HOME is unset), without symbol tables and build paths.
  echo "building ./cmd/nodeset (CGO_ENABLED=0, -trimpath, -ldflags='-s -w')..." >&2
  CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$ours" ./cmd/nodeset
fi
# shellcheck source=bench/nodeset/inputs.sh
. "$root/bench/nodeset/inputs.sh"

# rss BIN STDIN OUT ARGS... -> peak RSS in KiB of one run (time(1)), 0 if
# time(1) is missing. It runs first and so also warms the page cache for
# the timed runs.
rss() {
  local bin=$1 in=$2 out=$3
  shift 3
  if [[ -z $timebin ]]; then
    "$bin" "$@" <"$in" >"$out" 2>"$tmp/err" ||
      { echo "run.sh: $bin failed:" >&2; cat "$tmp/err" >&2; return 1; }
    echo 0
    return
  fi
  "$timebin" -f '%M' -o "$tmp/time" "$bin" "$@" <"$in" >"$out" 2>"$tmp/err" ||
    { echo "run.sh: $bin failed:" >&2; cat "$tmp/err" >&2; return 1; }
  tail -n 1 "$tmp/time"
}

# best BIN STDIN OUT ARGS... -> "best median rss_kib": wall seconds of the
# fastest and the median of $rowrepeat runs (bench/nodeset/wall starts each
# the way posix_spawn does: see its doc for why not bash's clock), and the
# peak memory of one more run, made first.
best() {
  local bin=$1 in=$2 out=$3 r w
  shift 3
  r=$(rss "$bin" "$in" "$out" "$@") || return 1
  w=$("$tmp/wall" -n "$rowrepeat" -warmup 0 -in "$in" -out "$out" -- "$bin" "$@") || return 1
  echo "$w $r"
}

rows=()
# row TITLE STDIN COMPARE(yes|no) OURS_ONLY(0|1) ARGS...
row() {
  local title=$1 in=$2 compare=$3 oursonly=$4
  shift 4
  local oo=/dev/null ro=/dev/null
  if [[ $compare == yes ]]; then oo=$tmp/out.ours ro=$tmp/out.ref; fi
  echo "running: $title" >&2
  local m ow omed orss rw="" rmed="" rrss="" same=-
  m=$(best "$ours" "$in" "$oo" "$@") || exit 1
  read -r ow omed orss <<<"$m"
  if [[ -n $ref && $oursonly == 0 ]]; then
    m=$(best "$ref" "$in" "$ro" "$@") || exit 1
    read -r rw rmed rrss <<<"$m"
    if [[ $compare == yes ]]; then
      if cmp -s "$oo" "$ro"; then same=yes; else same=NO; fi
    fi
  fi
  rows+=("$title|$ow|$omed|$orss|$rw|$rmed|$rrss|$same")
}

row "fold 100k shuffled 1D names (stdin)" "$tmp/fold1d-100k.txt" yes 0 -f
row "fold 50k shuffled 2D r[1-50]n[1-1000] (stdin)" "$tmp/fold2d-50k.txt" yes 0 -f
row "expand node[1-1000000] (>/dev/null)" /dev/null no 0 -e 'node[1-1000000]'
row "count node[1-10000000]" /dev/null yes 0 -c 'node[1-10000000]'
rowrepeat=$repeat_short
row "-x of two fragmented 100k-node sets" /dev/null yes 0 "${xargs_[@]}"
rowrepeat=$repeat
row "fold 1M shuffled 1D names (stdin), ours only" "$tmp/fold1d-1m.txt" no 1 -f

# table: plain text to stdout, markdown for RESULTS.md
fmt_mb() { [[ -n $1 && $1 != 0 ]] && awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }' || echo "-"; }
ratio() { [[ -n $2 ]] && awk -v o="$1" -v r="$2" 'BEGIN { if (o > 0) printf "%.1fx", r / o; else printf ">%.0fx", r / 0.0001 }' || echo "-"; }
# verdict30 OURS REF -> "met", "MISSED" or "-": the 30x target of a row
verdict30() { [[ -n $2 ]] && awk -v o="$1" -v r="$2" 'BEGIN { print (r >= 30 * o) ? "met" : "MISSED" }' || echo "-"; }

text=$(
  printf '%-46s %8s %8s %8s %8s %8s %8s %8s %8s %5s %5s\n' "row" "ours_s" "cs_s" "cs/ours" \
    "ours_med" "cs_med" "cs/ours" "ours_MB" "cs_MB" "same" "30x"
  for r in "${rows[@]}"; do
    IFS='|' read -r t ow omed orss rw rmed rrss same <<<"$r"
    printf '%-46s %8s %8s %8s %8s %8s %8s %8s %8s %5s %5s\n' "$t" "$ow" "${rw:--}" "$(ratio "$ow" "$rw")" \
      "$omed" "${rmed:--}" "$(ratio "$omed" "$rmed")" "$(fmt_mb "$orss")" "$(fmt_mb "$rrss")" "$same" \
      "$(verdict30 "$ow" "$rw")"
  done
)
echo
echo "$text"

# the 1M row carries a target
IFS='|' read -r _ ow _ <<<"${rows[-1]}"
verdict=$(awk -v w="$ow" 'BEGIN { print (w < 1.0) ? "met" : "MISSED" }')
echo
echo "target: fold of 1M shuffled names under 1 s: $verdict (${ow}s)"

if [[ $record == 1 ]]; then
  res=$root/bench/nodeset/RESULTS.md
  model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
  mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)
  if [[ ! -f $res ]]; then
    cat >"$res" <<'EOF'
# nodeset benchmark results

Produced by `bash bench/nodeset/run.sh --record` (newest first). Wall
seconds are the best and the median of the repeats (bench/nodeset/wall);
MB is the peak RSS of one more run; cs is ClusterShell's /usr/bin/nodeset
run on the same inputs in the same run; "same" says whether both printed
the same bytes (- when not compared). Other processes on the machine slow
both sides alike; the load average is noted.

EOF
  fi
  {
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: $(nproc) CPUs, ${model:-unknown CPU}, ${mem:-? memory}; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- ours: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo 'no commit'), $(go version | cut -d' ' -f3); reference: ${refver:-none}"
    echo "- timed runs per row and side: $repeat ($repeat_short for the -x row)"
    echo
    echo "| row | ours s | cs s | cs/ours | ours median s | cs median s | cs/ours (median) | ours MB | cs MB | same | 30x |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|:---:|"
    for r in "${rows[@]}"; do
      IFS='|' read -r t ow omed orss rw rmed rrss same <<<"$r"
      echo "| $t | $ow | ${rw:--} | $(ratio "$ow" "$rw") | $omed | ${rmed:--} | $(ratio "$omed" "$rmed") | $(fmt_mb "$orss") | $(fmt_mb "$rrss") | $same | $(verdict30 "$ow" "$rw") |"
    done
    echo
    echo "Target (fold of 1M shuffled names under 1 s): $verdict."
    echo
  } >"$tmp/section"
  # newest first: header (up to the first "## ") stays on top
  awk -v sec="$tmp/section" '
    !done && /^## / { while ((getline l < sec) > 0) print l; done = 1 }
    { print }
    END { if (!done) while ((getline l < sec) > 0) print l }' "$res" >"$tmp/results"
  cp "$tmp/results" "$res"
  echo "recorded in ${res#"$root"/}" >&2
fi
