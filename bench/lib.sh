# The set-up the bench scripts share, sourced (not run) by them:
#
#   . "$(dirname "$0")/../lib.sh"   # from bench/<scenario>/run.sh
#   . "$(dirname "$0")/lib.sh"      # from bench/scenario.sh
#
# It defines functions only; each script calls those it needs, in this
# order: bench_usage, bench_root, bench_need, bench_results.

# bench_usage [ARG]: a script that takes no argument but -h prints its
# header (the comment lines after the #! line) for -h or --help and
# exits 0; any other argument exits 2.
bench_usage() {
  case ${1:-} in
    -h|--help) awk 'NR > 1 { if (!/^#/) exit; print }' "$0"; exit 0 ;;
    "") ;;
    *) echo "${0##*/}: unknown argument: $1 (see -h)" >&2; exit 2 ;;
  esac
}

# bench_root: sets root to the repository's root (the folder above this
# file's bench/) and changes to it: the scripts run go from there.
bench_root() {
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  cd "$root"
}

# bench_need PACKAGE=PROGRAM...: exits 1, naming the Debian packages to
# install, unless every PROGRAM is there: an absolute path must be an
# executable file, a bare name a command on PATH.
bench_need() {
  local spec pkg prog missing=()
  for spec in "$@"; do
    pkg=${spec%%=*} prog=${spec#*=}
    if [[ $prog == /* ]]; then
      [[ -x $prog ]] || missing+=("$pkg")
    else
      command -v "$prog" >/dev/null || missing+=("$pkg")
    fi
  done
  if ((${#missing[@]})); then
    echo "${0##*/}: missing: ${missing[*]}; install with: apt-get install ${missing[*]}" >&2
    exit 1
  fi
}

# bench_results SCENARIO [APPEND]: sets out to the results file and
# exports it as FLEETSH_BENCH_OUT, which the Go benchmarks write to:
# FLEETSH_BENCH_OUT if set (a relative path is taken from root), else
# bench/results/SCENARIO.jsonl. It makes the file's directory and
# truncates the file unless APPEND is 1. Call it after bench_root.
bench_results() {
  out=${FLEETSH_BENCH_OUT:-bench/results/$1.jsonl}
  [[ $out == /* ]] || out=$root/$out
  export FLEETSH_BENCH_OUT=$out
  mkdir -p "$(dirname "$out")"
  [[ ${2:-0} == 1 ]] || : >"$out"
}
