#!/bin/sh
# Writes the daemons' configs of the example tree etc/fleetsh/ (what an
# install copies to /etc/fleetsh, where the units of deploy/systemd read
# them) from deploy/, their single source: a path deploy/X becomes
# /etc/fleetsh/X, and the gateway example agent-gw1.yaml becomes
# agent.yaml. Run it after changing one of those deploy/ files
# (deploy/systemd's TestEtcTree fails until then).
#
#	deploy/systemd/make-etc.sh [DIR]    # default: etc/fleetsh of this repository
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/etc/fleetsh}
mkdir -p "$out"
for pair in coordinator.yaml:coordinator.yaml agent-gw1.yaml:agent.yaml topology.conf:topology.conf policy.yaml:policy.yaml; do
	sed -e 's|deploy/agent-gw1\.yaml|/etc/fleetsh/agent.yaml|g' -e 's|deploy/|/etc/fleetsh/|g' \
		"$repo/deploy/${pair%%:*}" >"$out/${pair#*:}"
done
