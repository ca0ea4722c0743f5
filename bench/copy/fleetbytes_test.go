package copybench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/benchrec"
)

// The fleet row's figures: what NATS carried on each leg of the push,
// and how each agent's shard spent its time.

// bytes is the server's totals ("" key: in and out of /varz; "js": the
// bytes JetStream stores, in In) and its connections, by id.
func (f *fleet) bytes(b *testing.B) map[string]connBytes {
	vz, err := f.srv.Varz(nil)
	if err != nil {
		b.Fatal(err)
	}
	jz, err := f.srv.Jsz(nil)
	if err != nil {
		b.Fatal(err)
	}
	m := map[string]connBytes{"": {In: vz.InBytes, Out: vz.OutBytes}, "js": {In: int64(jz.Store)}}
	for cid, c := range f.conns() {
		m[fmt.Sprint(cid)] = c
	}
	return m
}

// report adds to rec what NATS carried between before and after, leg by
// leg, and prints it:
//   - csub → coordinator: what the run's csub connection sent (In);
//   - coordinator → agents: what each gateway agent's connection
//     received (Out); nats_copies is their sum over the file's size and
//     agents_ratio that sum over one copy per gateway (the target: ≈ 1);
//   - coordinator ↔ JetStream: the coordinator's one connection carries
//     each chunk in from csub and out to each agent, and also into the
//     store (a publish) and back from it (a direct get per agent
//     request). The server counts per connection only, so the store's
//     legs are the coordinator's traffic less the two legs above (the
//     jobs' small messages are in it too); the growth of JetStream's
//     store is printed beside them.
func (f *fleet) report(b *testing.B, before, after map[string]connBytes, rec *benchrec.Record, size int) {
	delta := func(k string) (int64, int64) { return after[k].In - before[k].In, after[k].Out - before[k].Out }
	mb := func(v int64) string { return fmt.Sprintf("%.1f MB", float64(v)/1e6) }
	put := func(k string, v int64) { rec.Extra[k] = float64(v) }
	in, out := delta("")
	put("nats_in_bytes", in)
	put("nats_out_bytes", out)
	stored, _ := delta("js")
	put("jetstream_stored_bytes", stored)

	var csubSent int64
	for k, c := range after {
		if _, old := before[k]; !old && k != "" && k != "js" && strings.Contains(c.Name, "csub") {
			csubSent += c.In
		}
	}
	put("csub_sent_bytes", csubSent)

	var agents int64
	var parts []string
	for _, gw := range gateways {
		ain, aout := delta(fmt.Sprint(f.agents[gw]))
		agents += aout
		put(gw+"_received_bytes", aout)
		put(gw+"_sent_bytes", ain)
		parts = append(parts, fmt.Sprintf("%s received %s (sent %s)", gw, mb(aout), mb(ain)))
	}
	cin, cout := delta(fmt.Sprint(f.coord))
	put("coordinator_in_bytes", cin)
	put("coordinator_out_bytes", cout)
	toStore, fromStore := cin-agents, cout-csubSent
	put("coordinator_to_jetstream_bytes", toStore)
	put("jetstream_to_coordinator_bytes", fromStore)

	put("nats_bytes", agents)
	rec.Extra["nats_copies"] = float64(agents) / float64(size)
	ratio := float64(agents) / float64(size*len(gateways))
	rec.Extra["agents_ratio"] = ratio
	copies := func(v int64) string { return fmt.Sprintf("%.2f copies", float64(v)/float64(size)) }
	fmt.Printf("%-28s NATS (/varz) in %s, out %s\n", "", mb(in), mb(out))
	fmt.Printf("%-28s csub → coordinator: csub sent %s (%s)\n", "", mb(csubSent), copies(csubSent))
	fmt.Printf("%-28s coordinator ↔ JetStream: ≈ %s in (%s), ≈ %s back (%s); store grew %s (coordinator in %s, out %s)\n", "",
		mb(toStore), copies(toStore), mb(fromStore), copies(fromStore), mb(stored), mb(cin), mb(cout))
	fmt.Printf("%-28s coordinator → agents: %s; %s, ratio to one copy per gateway %.3f\n", "",
		strings.Join(parts, ", "), copies(agents), ratio)
}

// logSizes returns the sizes of the agents' logs (by gateway) and of
// the coordinator's, where phases starts reading.
func (f *fleet) logSizes(b *testing.B) map[string]int64 {
	m := map[string]int64{}
	for _, name := range append([]string{"coordinator"}, gateways...) {
		st, err := os.Stat(f.logPath(name))
		if err != nil {
			b.Fatal(err)
		}
		m[name] = st.Size()
	}
	return m
}

// logPath is the log of the coordinator ("coordinator") or of a
// gateway's agent.
func (f *fleet) logPath(name string) string {
	if name != "coordinator" {
		name = "agent-" + name
	}
	return filepath.Join(f.dir, name+".log")
}

// newLog is what name logged since from.
func (f *fleet) newLog(b *testing.B, name string, from map[string]int64) []byte {
	data, err := os.ReadFile(f.logPath(name))
	if err != nil {
		b.Fatal(err)
	}
	return data[min(from[name], int64(len(data))):]
}

// phases reads what each agent logged since from (its log's sizes) and
// adds to rec, per gateway, when its shard was accepted (seconds after
// start, csub's start: the upload and the dispatch), how long the tree's
// fetch took ("shard accepted" to "tree fetched") and how long the copy
// to the nodes took ("tree fetched" to "shard ended"); and how many
// times the coordinator declared an agent lost meanwhile (a lost agent's
// shard is given up: its nodes' copies are cut short).
func (f *fleet) phases(b *testing.B, from map[string]int64, start time.Time, rec *benchrec.Record) {
	if lost := bytes.Count(f.newLog(b, "coordinator", from), []byte(`msg="agent lost`)); lost > 0 {
		rec.Extra["agents_lost"] = float64(lost)
		fmt.Printf("%-28s the coordinator declared an agent lost %d times (see its log)\n", "", lost)
	}
	for _, gw := range gateways {
		var accepted, fetched, ended time.Time
		sc := bufio.NewScanner(bytes.NewReader(f.newLog(b, gw, from)))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			t, ok := logTime(line)
			switch {
			case !ok:
			case strings.Contains(line, `msg="shard accepted"`) && accepted.IsZero():
				accepted = t
			case strings.Contains(line, `msg="tree fetched"`):
				fetched = t
			case strings.Contains(line, `msg="shard ended"`):
				ended = t
			}
		}
		if accepted.IsZero() || fetched.IsZero() || ended.IsZero() {
			b.Errorf("%s: the agent's log lacks shard accepted (%v), tree fetched (%v) or shard ended (%v)",
				gw, !accepted.IsZero(), !fetched.IsZero(), !ended.IsZero())
			continue
		}
		acc, fetch, fan := accepted.Sub(start).Seconds(), fetched.Sub(accepted).Seconds(), ended.Sub(fetched).Seconds()
		rec.Extra[gw+"_accepted_s"], rec.Extra[gw+"_fetch_s"], rec.Extra[gw+"_fanout_s"] = acc, fetch, fan
		fmt.Printf("%-28s %s: shard accepted at %.1f s, tree fetched in %.1f s, copied to its nodes in %.1f s\n", "",
			gw, acc, fetch, fan)
	}
}

// logTime is the time of an agent's log line (log/slog's text handler:
// time=RFC 3339 with milliseconds).
func logTime(line string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(line, "time=")
	if !ok {
		return time.Time{}, false
	}
	v, _, _ := strings.Cut(rest, " ")
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

// clockTicks is Linux's USER_HZ, the unit of /proc/PID/stat's times (100
// on every architecture Go runs on; reading sysconf would need cgo).
const clockTicks = 100

// cpu returns the CPU time (user and system) the coordinator and each
// gateway's agent used so far, by the names of f.pids. An agent's copies
// to its nodes run in it (x/crypto/ssh), so its CPU is what the direct
// tools' ssh and scp processes cost them.
func (f *fleet) cpu(b *testing.B) map[string]time.Duration {
	m := map[string]time.Duration{}
	for name, pid := range f.pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			b.Fatalf("%s's CPU: %v", name, err)
		}
		// The fields after the command's name (which may hold spaces)
		// start at the third, the state: utime and stime are the 14th
		// and 15th.
		i := bytes.LastIndexByte(data, ')')
		fields := strings.Fields(string(data[i+1:]))
		if i < 0 || len(fields) < 13 {
			b.Fatalf("%s's CPU: /proc/%d/stat: %q", name, pid, data)
		}
		var ticks int64
		for _, v := range fields[11:13] {
			t, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatalf("%s's CPU: /proc/%d/stat: %q", name, pid, data)
			}
			ticks += t
		}
		m[name] = time.Duration(ticks) * time.Second / clockTicks
	}
	return m
}
