#!/usr/bin/env bash
# A newcomer's path, end to end, on one machine (loopback only), as CI runs it:
#   build -> coordinator init-site (CA, TLS, one nkey per identity) -> a coordinator and two
#   gateway agents from the deploy/ examples -> /readyz of each -> `csub agents` (admin) -> a csub
#   job on 105 test nodes as user alice -> `csub status`, the coordinator's metrics and its web
#   status page show it ->
#   clean stop (SIGTERM; each daemon exits 0).
# Usage: bash deploy/newcomer.sh [-h] [-k]   (-k keeps the work directory and prints its path)
# Env: FLEETSH_NEWCOMER_PORT (NATS port, default 14222; the daemons' --http listeners take the
#      next three), FLEETSH_NEWCOMER_DIR (work directory, default a new temporary one).
# Needs curl. Takes about a minute (most of it building).
set -euo pipefail
if [[ ${1:-} == -h ]]; then sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
keep=false
[[ ${1:-} == -k ]] && keep=true
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
port=${FLEETSH_NEWCOMER_PORT:-14222}
work=${FLEETSH_NEWCOMER_DIR:-$(mktemp -d -t fleetsh-newcomer.XXXXXX)}
mkdir -p "$work"
pids=()
stop() {
	local rc=$?
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [[ $rc -ne 0 ]]; then
		echo "newcomer: FAILED (exit $rc); the daemons' logs:" >&2
		tail -n 30 "$work"/*.log >&2 || true
	fi
	if $keep; then echo "newcomer: work directory kept: $work"; else rm -rf "$work"; fi
}
trap stop EXIT
step() { printf '\n== %s\n' "$*"; }

step "build"
go build -o "$work/bin/" ./cmd/coordinator ./cmd/agent ./cmd/csub ./cmd/nodeset
bin=$work/bin

step "init-site: CA, server certificate, one credential per identity"
"$bin/coordinator" init-site "$work/site" --admin root --user alice --agent gw1 --agent gw2 \
	--url "tls://127.0.0.1:$port"

step "coordinator (site credentials + deploy/ topology and demo policy)"
"$bin/coordinator" --config "$work/site/coordinator.yaml" --topology deploy/topology.conf --root admin \
	--local-agent --worker exec --policy deploy/demo-policy.yaml --store "$work/store" \
	--http "127.0.0.1:$((port + 1))" 2>"$work/coordinator.log" &
pids+=($!)
coordinator=$!

step "two gateway agents (gw1, gw2 of group gw[1-2])"
http=$((port + 2))
for gw in gw1 gw2; do
	"$bin/agent" --config "$work/site/agents/$gw/agent.yaml" --fanout 64 --worker exec \
		--spill-dir "$work/spill-$gw" --http "127.0.0.1:$http" 2>"$work/agent-$gw.log" &
	pids+=($!)
	http=$((http + 1))
done

step "readiness: /readyz of the coordinator and of each agent (an agent is ready once registered)"
for p in $((port + 1)) $((port + 2)) $((port + 3)); do
	for try in $(seq 1 300); do
		curl -sf "http://127.0.0.1:$p/readyz" >/dev/null && break
		[[ $try -eq 300 ]] && { echo "newcomer: :$p/readyz never said ready" >&2; curl -s "http://127.0.0.1:$p/readyz" >&2; exit 1; }
		sleep 0.1
	done
	echo "127.0.0.1:$p/readyz: $(curl -sf "http://127.0.0.1:$p/readyz")"
done
FLEETSH_FLEET_CONFIG=$work/site/users/root/fleet.yaml "$bin/csub" agents

step "csub as alice: 100 nodes behind the gateways, 5 under none"
export FLEETSH_FLEET_CONFIG=$work/site/users/alice/fleet.yaml
out=$work/csub.out
"$bin/csub" -R exec -w 'node[1-100],other[1-5]' -b 'echo hello' >"$out"
cat "$out"
# clush -b gathers identical outputs: one block naming every node.
printf '%s\n' '---------------' 'node[1-100],other[1-5] (105)' '---------------' 'hello' | cmp - "$out"

step "csub jobs, csub status JOB: every node exited 0"
"$bin/csub" jobs
job=$("$bin/csub" jobs --json | grep -o '"id": *"[0-9a-f-]*"' | tail -n 1 | grep -o '[0-9a-f-]\{36\}')
"$bin/csub" status "$job" | tee "$work/status.out"
grep -qx 'exited (105): node\[1-100\],other\[1-5\]' "$work/status.out"

step "metrics: the coordinator counted 105 nodes exited, one job done"
curl -sf "http://127.0.0.1:$((port + 1))/metrics" >"$work/metrics.out"
grep -E '^fleetsh_coordinator_(nodes_ended_total|jobs)\{' "$work/metrics.out"
grep -qx 'fleetsh_coordinator_nodes_ended_total{state="exited"} 105' "$work/metrics.out"
grep -qx 'fleetsh_coordinator_jobs{state="done"} 1' "$work/metrics.out"

step "the coordinator's status page: the job's nodes per final state"
curl -sf "http://127.0.0.1:$((port + 1))/job/$job" >"$work/page.html"
grep -o '<title>[^<]*</title>' "$work/page.html"
grep -q 'node\[1-100\],other\[1-5\]' "$work/page.html"
curl -sf "http://127.0.0.1:$((port + 1))/api/job/$job" | grep -o '"exited": *"node\[1-100\],other\[1-5\]"'

step "clean stop: SIGTERM, every daemon exits 0"
for pid in "${pids[@]}"; do kill -TERM "$pid"; done
for pid in "${pids[@]}"; do
	if ! wait "$pid"; then echo "newcomer: daemon $pid did not exit 0" >&2; exit 1; fi
done
pids=()
echo "newcomer: OK"
