package ops

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/fleet/daemon"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// The metrics are read from the parts' own counters and registries when
// Prometheus scrapes (a Collector each), so that nothing on the hot path
// changes but a few atomic additions; only the durations (merge latency,
// driver stages) are histograms observed as they happen. docs/fleet.md,
// "Metrics and health", lists them all.

// maxAgentSeries bounds the per-agent series a scrape reports: a
// coordinator remembers every agent it has seen since it started, and an
// agent without a fixed --id comes back under a new id at each restart.
const maxAgentSeries = 512

// storeWait bounds the JetStream requests of one scrape.
const storeWait = 2 * time.Second

// live is the running fleet the collectors read.
type live struct {
	coord *coordinator.Coordinator
	agent *agent.Agent
}

// Instrument registers the metrics of the parts cfg runs and sets the
// hooks of their configurations that feed the histograms
// (coordinator.Config.ObserveMerge, agent.Config.Observe). Call it before
// daemon.Start, then Watch with the fleet Start returned.
func (s *Server) Instrument(cfg *daemon.Config) {
	if cfg.Coordinator != nil {
		merge := prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fleetsh_coordinator_merge_duration_seconds",
			Help: "Time from an event batch's arrival at the coordinator to its records merged into its job.",
			// 10 µs to 0.65 s: a merge takes microseconds unless a job's
			// lock is contended.
			Buckets: prometheus.ExponentialBuckets(1e-5, 4, 9),
		})
		s.Registry.MustRegister(merge, &collector{s: s, descs: [][]*prometheus.Desc{coordDescs, coordFileDescs}, collect: s.collectCoord})
		c := *cfg.Coordinator
		c.ObserveMerge = func(d time.Duration) { merge.Observe(d.Seconds()) }
		cfg.Coordinator = &c
	}
	if cfg.Agent != nil {
		stages := prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fleetsh_agent_stage_duration_seconds",
			Help: "Duration of the stages of a node's run the drivers measure: stage connect (ssh: transport open) " +
				"and auth (ssh: handshake and authentication), once per hop; spawn (exec, openssh, rsh: local process started).",
			// 1 ms to 24 s: a loopback spawn takes a millisecond, an ssh
			// handshake across a WAN seconds.
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"driver", "stage"})
		s.Registry.MustRegister(stages, &collector{s: s, descs: [][]*prometheus.Desc{agentDescs, agentFileDescs}, collect: collectAgent})
		a := *cfg.Agent
		a.Observe = func(driver string, stage engine.Stage, d time.Duration) {
			stages.WithLabelValues(driver, string(stage)).Observe(d.Seconds())
		}
		cfg.Agent = &a
	}
}

// Watch makes the metrics and /readyz read f, the fleet started with the
// configuration Instrument saw.
func (s *Server) Watch(f *daemon.Fleet) {
	s.live.Store(&live{coord: f.Coordinator(), agent: f.Agent()})
	s.SetReady(f.Ready)
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// collector reports the metrics of one part of the running fleet (the
// coordinator or the agent), read at each scrape.
type collector struct {
	s     *Server
	descs [][]*prometheus.Desc
	// collect sends the part's metrics, none if l does not run it.
	collect func(l *live, out sink)
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, l := range c.descs {
		for _, d := range l {
			ch <- d
		}
	}
}

// Collect implements prometheus.Collector: nothing before Watch.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	if l := c.s.live.Load(); l != nil {
		c.collect(l, sink(ch))
	}
}

// sink is where a collector sends the metrics of one scrape.
type sink chan<- prometheus.Metric

// gauge sends d's value v, for labels.
func (ch sink) gauge(d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

// counter sends d's count v, for labels.
func (ch sink) counter(d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

// The coordinator's metrics read at a scrape.
var (
	coordJobs = desc("fleetsh_coordinator_jobs",
		"Jobs in the coordinator's registry (finished ones are kept an hour), by state: running, done, cancelled.", "state")
	coordNodesEnded = desc("fleetsh_coordinator_nodes_ended_total",
		"Nodes of jobs that reached a final state, by state: exited, command_timeout, connect_failure, auth_failure, "+
			"host_key_refused, gateway_lost, cancelled, no_agent, error.", "state")
	coordNodesFailed = desc("fleetsh_coordinator_nodes_failed_total",
		"Nodes that ended other than exited with status 0.")
	coordShards = desc("fleetsh_coordinator_shards_in_flight",
		"Shards dispatched to live agents whose summary is not reconciled yet.")
	coordBatches = desc("fleetsh_coordinator_event_batches_total",
		"Event batches received from agents, duplicates included.")
	coordBytes = desc("fleetsh_coordinator_event_bytes_total",
		"Bytes of the event batches received from agents.")
	coordRecords = desc("fleetsh_coordinator_event_records_total",
		"Event records (starts, output lines, ends) merged into jobs.")
	coordDups = desc("fleetsh_coordinator_event_duplicates_total",
		"Event batches received twice and dropped.")
	coordGaps = desc("fleetsh_coordinator_event_gaps_total",
		"Event batches that arrived before one they follow (the coordinator asked for the missing one again).")
	coordDropped = desc("fleetsh_coordinator_messages_dropped_total",
		"Messages refused as malformed, oversized or of the wrong type.")
	coordStreams = desc("fleetsh_coordinator_output_streams",
		"Output streams open to submitters and attached readers (csub, csub attach).")
	coordAgents = desc("fleetsh_coordinator_agents",
		"Agents the coordinator knows per gateway group they serve ((local): the nodes under no gateway), by state: live, draining, lost.", "group", "state")
	coordHeartbeat = desc("fleetsh_coordinator_agent_heartbeat_age_seconds",
		"Time since the coordinator last heard each agent (hello or heartbeat).", "agent", "name")
	coordStoreBytes = desc("fleetsh_coordinator_store_bytes",
		"Bytes the coordinator's JetStream streams hold (the job journal, and KV_ the job registry bucket).", "stream")
	coordStoreMsgs = desc("fleetsh_coordinator_store_messages",
		"Messages the coordinator's JetStream streams hold.", "stream")
	coordReconnects = desc("fleetsh_coordinator_nats_reconnects_total",
		"Reconnections of the coordinator's NATS connection.")
	coordDescs = []*prometheus.Desc{coordJobs, coordNodesEnded, coordNodesFailed, coordShards, coordBatches,
		coordBytes, coordRecords, coordDups, coordGaps, coordDropped, coordStreams, coordAgents, coordHeartbeat,
		coordStoreBytes, coordStoreMsgs, coordReconnects}
)

// collectCoord reports the coordinator's metrics.
func (s *Server) collectCoord(l *live, out sink) {
	c := l.coord
	if c == nil {
		return
	}
	load := c.Load()
	for _, st := range []string{coordinator.JobRunning, coordinator.JobDone, coordinator.JobCancelled} {
		out.gauge(coordJobs, float64(load.Jobs[st]), st)
	}
	out.gauge(coordShards, float64(load.Shards))
	out.gauge(coordStreams, float64(load.Streams))
	out.counter(coordReconnects, load.Reconnects)
	by, failed := c.NodesEnded()
	for _, st := range protocol.States {
		out.counter(coordNodesEnded, by[st], stateLabel(st))
	}
	out.counter(coordNodesFailed, failed)
	st := c.Stats()
	out.counter(coordBatches, st.Batches)
	out.counter(coordBytes, st.Bytes)
	out.counter(coordRecords, st.Records)
	out.counter(coordDups, st.Duplicates)
	out.counter(coordGaps, st.Gaps)
	out.counter(coordDropped, c.Dropped())
	agents(c.Agents(), out)
	ctx, cancel := context.WithTimeout(context.Background(), storeWait)
	defer cancel()
	usage, err := c.StoreUsage(ctx)
	if err != nil {
		s.log.Warn("metrics: store usage", "err", err)
	}
	for _, u := range usage {
		out.gauge(coordStoreBytes, float64(u.Bytes), u.Name)
		out.gauge(coordStoreMsgs, float64(u.Messages), u.Name)
	}
	collectCoordFiles(c, out, s.log)
}

// stateLabel is a final state as a label value: its name with '_' for
// blanks (command_timeout, no_agent), easier to write in PromQL.
func stateLabel(st protocol.State) string { return strings.ReplaceAll(string(st), " ", "_") }

// agents reports the agents per group and state, and each agent's
// heartbeat age (the maxAgentSeries heard most recently).
func agents(list []protocol.AgentStatus, out sink) {
	type key struct{ group, state string }
	count := map[key]int{}
	for _, a := range list {
		state := "live"
		switch {
		case a.Lost:
			state = "lost"
		case a.Draining:
			state = "draining"
		}
		for _, g := range a.Served {
			if g == "" {
				g = "(local)"
			}
			count[key{g, state}]++
		}
	}
	for k, n := range count {
		out.gauge(coordAgents, float64(n), k.group, k.state)
	}
	slices.SortFunc(list, func(a, b protocol.AgentStatus) int { return b.LastSeen.Compare(a.LastSeen) })
	now := time.Now()
	for _, a := range list[:min(len(list), maxAgentSeries)] {
		out.gauge(coordHeartbeat, now.Sub(a.LastSeen).Seconds(), a.Agent, strings.ToValidUTF8(a.Name, "?"))
	}
}

// The agent's metrics read at a scrape.
var (
	agentShards = desc("fleetsh_agent_shards_running",
		"Shards the agent holds (running, or waiting for their summary's acknowledgement).")
	agentNodes = desc("fleetsh_agent_nodes_running",
		"Nodes started and not ended in the agent's shards: the fanout in use.")
	agentFanout = desc("fleetsh_agent_fanout_slots",
		"Commands the agent's shards may run at once together (the sum of their fanouts).")
	agentCapacity = desc("fleetsh_agent_fanout_capacity",
		"The agent's fanout (--fanout): the most commands one shard runs at once.")
	agentBatches = desc("fleetsh_agent_event_batches_sent_total",
		"Event batches published to the coordinator, resends included.")
	agentBytes = desc("fleetsh_agent_event_bytes_sent_total",
		"Bytes of the event batches published, resends included.")
	agentResent = desc("fleetsh_agent_event_batches_resent_total",
		"Event batches published again (acknowledgement overdue, retransmit request, NATS reconnection).")
	agentSpilled = desc("fleetsh_agent_spilled_bytes_total",
		"Bytes of unacknowledged event batches written to spill files (--spill-dir) for lack of memory (--max-buffer).")
	agentHeartbeats = desc("fleetsh_agent_heartbeats_sent_total",
		"Heartbeats published.")
	agentReconnects = desc("fleetsh_agent_nats_reconnects_total",
		"Reconnections of the agent's NATS connection.")
	agentRegistered = desc("fleetsh_agent_registered",
		"1 once a coordinator welcomed the agent, else 0.")
	agentDescs = []*prometheus.Desc{agentShards, agentNodes, agentFanout, agentCapacity, agentBatches,
		agentBytes, agentResent, agentSpilled, agentHeartbeats, agentReconnects, agentRegistered}
)

// collectAgent reports the agent's metrics.
func collectAgent(l *live, out sink) {
	if l.agent == nil {
		return
	}
	st := l.agent.Stats()
	out.gauge(agentShards, float64(st.Shards))
	out.gauge(agentNodes, float64(st.NodesRunning))
	out.gauge(agentFanout, float64(st.Fanout))
	out.gauge(agentCapacity, float64(st.Capacity))
	out.counter(agentBatches, st.BatchesSent)
	out.counter(agentBytes, st.BytesSent)
	out.counter(agentResent, st.BatchesResent)
	out.counter(agentSpilled, uint64(max(st.SpilledBytes, 0)))
	out.counter(agentHeartbeats, st.Heartbeats)
	out.counter(agentReconnects, st.Reconnects)
	registered := 0.0
	if st.Registered {
		registered = 1
	}
	out.gauge(agentRegistered, registered)
	collectAgentFiles(st.Files, out)
}
