#!/usr/bin/env bash
# The "copy" bench scenario (issue 16): one file of 136 MB (random bytes,
# made by the benchmark) copied to 142 nodes by ClusterShell's
# clush --copy (scp, direct), pdcp -R ssh (direct) and csub through a
# fleet (an in-process NATS server with JetStream, a coordinator joining
# it and two gateway agents, 71 nodes each: csub --fleet URL -w
# node[1-142] -c FILE --dest copy), one after the other. The nodes are one
# throwaway OpenSSH sshd on 127.0.0.1 (MaxStartups 1024): each node name
# has a key of its own whose forced command runs the session in a
# directory of its own, so the relative destination "copy" is a
# different directory per node. When a copy session ends, its copy is
# checksummed (cksum: CRC-32 and length) and deleted, so 142 x 136 MB
# never sit on the disk together; every node's checksum is compared with
# the source's before the next tool starts, so a fast wrong copy cannot
# win. Per tool: wall time, the tool's CPU (with the ssh and scp it
# waited for), copies checked. For the fleet (the coordinator keeps its
# file store in that server's JetStream; the agents' file caches are in
# the benchmark's temporary directory), the bytes NATS carried, leg by
# leg: csub to the coordinator, the coordinator to and from JetStream,
# the coordinator to each gateway's agent, and the agents' bytes over one
# copy per gateway (target: about 1); and per gateway, the time its
# agent took to fetch the file and to copy it to its nodes (from its log:
# "shard accepted", "tree fetched", "shard ended"). A fleet copy that
# fails fails the run (after the table is printed).
# Code: bench/copy/*_test.go; figures: docs/BENCHMARKS.md.
#
#   bash bench/copy/run.sh         # one run of each tool: 6-10 min on 2 cores
#   bash bench/copy/run.sh -h      # this text
#
# Environment: FLEETSH_BENCH_N (nodes, default 142), FLEETSH_BENCH_COPY_MB
# (the file's size in MB, default 136), FLEETSH_BENCH_FANOUT (default 64:
# clush -f and pdcp -f; each agent gets half), FLEETSH_BENCH_REPEAT (runs
# per tool, default 1), FLEETSH_BENCH_TOOLS (comma list of clush, pdcp,
# fleet; default all), FLEETSH_BENCH_OUT (results, default
# bench/results/copy.jsonl, truncated first unless APPEND=1).
# Needs openssh-server (/usr/sbin/sshd), openssh-sftp-server,
# openssh-client, clustershell (/usr/bin/clush), pdsh (/usr/bin/pdcp) and
# about fanout x size of free disk (8.7 GB at the defaults) while a tool
# runs; the fleet adds its store and the agents' caches (about 5 x size).
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
bench_usage "$@"
bench_root
bench_need openssh-server=/usr/sbin/sshd openssh-sftp-server=/usr/lib/openssh/sftp-server \
  openssh-client=ssh clustershell=/usr/bin/clush pdsh=/usr/bin/pdcp
bench_results copy "${APPEND:-0}"

rc=0
go test -v -run '^$' -bench '^BenchmarkCopy$' -benchtime 1x -timeout 0 ./bench/copy/ || rc=$?
go run ./bench/plot -table "$out"
exit "$rc"
