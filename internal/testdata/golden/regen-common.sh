# Shared by the golden tests' regen.sh scripts (internal/nodesetcli and
# internal/csub testdata/golden), which source it and call golden_regen.
#
# File format (parsed by each package's golden_test.go and by regen.py):
#
#   === case name
#   $ PROG ARG...             argv, POSIX-shell quoted
#   <<< stdin                 optional; content = following lines
#   >>> stdout                content = following lines, up to the next marker
#   >>> stderr
#   >>> exit N
#
# A section's content is its lines, each with its newline; a marker ending
# in " noeol" means the content has no final newline. Anything between an
# "exit" line and the next "===" line (blank lines, # comments) is ignored.
#
# The case files are both the inputs and the expectations: regen.py keeps
# each case's name, command line and stdin, re-runs the command against the
# reference and rewrites the stdout, stderr and exit sections in place (the
# command line is re-quoted canonically). To add a case, append a
# "=== name" block with just its "$ PROG ..." line (and an optional
# "<<< stdin" section), run regen.sh and review the diff. A case without
# "<<< stdin" reads /dev/null.
#
# The command line uses a small POSIX-shell subset, so that it can be pasted
# into bash as it is: blanks separate words; '...', "..." (with \\ \" \$ \`
# escapes), $'...' (with \n \t \r \\ \' \xHH escapes) and a backslash
# outside quotes quote characters; nothing else is special. Words holding
# control characters are written as $'...'.

golden_common=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# golden_regen DIR EXE VERSION PROG [REGEN.PY OPTION]... -- [FILE]...
#
# Checks that EXE --version prints VERSION ("nodeset 1.9.1"), then
# regenerates FILEs (names in DIR, the golden directory; default: every
# DIR/*.txt) with regen.py, from DIR's package directory (DIR/../..) so that
# relative paths to testdata/golden/conf behave as under `go test`. EXE runs
# through a symbolic link named PROG (ClusterShell prints its name as
# basename(argv[0])), with an empty HOME.
golden_regen() {
  local dir=$1 exe=$2 want=$3 prog=$4
  shift 4
  local opts=() files=() ver f
  while [[ $# -gt 0 && $1 != -- ]]; do opts+=("$1"); shift; done
  [[ $# -gt 0 ]] && shift
  if ! ver=$("$exe" --version 2>&1) || [[ $ver != "$want" ]]; then
    echo "regen.sh: $exe is not ClusterShell $want (got: ${ver:-nothing})" >&2
    echo "regen.sh: install Debian's clustershell package or name another binary (see regen.sh)" >&2
    exit 1
  fi
  golden_tmp=$(mktemp -d)
  trap 'rm -rf "$golden_tmp"' EXIT
  mkdir "$golden_tmp/home" "$golden_tmp/bin"
  ln -s "$exe" "$golden_tmp/bin/$prog"
  if [[ $# -eq 0 ]]; then
    for f in "$dir"/*.txt; do files+=("$f"); done
  else
    for f in "$@"; do
      case $f in /*) files+=("$f") ;; *) files+=("$dir/$(basename "$f")") ;; esac
    done
  fi
  cd "$dir/../.."
  python3 "$golden_common/regen.py" --exe "$golden_tmp/bin/$prog" --prog "$prog" \
    --home "$golden_tmp/home" "${opts[@]}" "${files[@]}"
}
