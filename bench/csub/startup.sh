#!/usr/bin/env bash
# Start-up of csub on its in-process fleet against clush, in one run:
#   bash bench/csub/startup.sh
# Needs hyperfine and clush (apt-get install -y hyperfine clustershell).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/" ./cmd/csub
cd "$bin"
hyperfine -N --warmup 3 --runs "${RUNS:-60}" \
	"$bin/csub -R exec -w node1 true" \
	"clush -R exec -w node1 true"
