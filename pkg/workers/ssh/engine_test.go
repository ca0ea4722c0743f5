package ssh

import (
	"fmt"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// TestEngineFanoutWithSSH checks, on the server side, that the engine never
// has more sessions open than its fanout.
func TestEngineFanoutWithSSH(t *testing.T) {
	names := sshtest.NodeNames("node", 40)
	srv, env := sshtest.StartNodes(t, sshtest.Config{}, names...)
	task := engine.New()
	task.SetInfo(engine.InfoFanout, 5)
	_, err := task.Run("sleep 0.05; echo ok", engine.Options{
		Nodes:  nodeset.MustParse("node[1-40]"),
		Driver: testDriver(t, env),
	})
	if err != nil {
		t.Fatal(err)
	}
	st := srv.Stats()
	if st.MaxSessions > 5 {
		t.Errorf("%d sessions open at once with fanout 5", st.MaxSessions)
	}
	if st.MaxSessions < 2 {
		t.Errorf("never more than %d session at once: fanout unused", st.MaxSessions)
	}
	var groups []string
	for out, ns := range task.IterBuffers() {
		groups = append(groups, fmt.Sprintf("%s=%s", ns, out))
	}
	if len(groups) != 1 || groups[0] != "node[1-40]=ok" {
		t.Errorf("output %q", groups)
	}
}

// BenchmarkEngineSSH2000 runs `true` on 2 000 nodes through the engine and
// the native driver against one in-process server (both on these 2 cores),
// at fanout 64 and 256:
//
//	go test -run '^$' -bench EngineSSH2000 -benchtime 1x ./pkg/workers/ssh
func BenchmarkEngineSSH2000(b *testing.B) {
	names := sshtest.NodeNames("node", 2000)
	_, env := sshtest.StartNodes(b, sshtest.Config{}, names...)
	nodes := nodeset.MustParse("node[1-2000]")
	for _, fanout := range []int{64, 256} {
		b.Run(fmt.Sprintf("fanout%d", fanout), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				task := engine.New()
				task.SetInfo(engine.InfoFanout, fanout)
				task.SetInfo(engine.InfoConnectTimeout, time.Minute)
				if _, err := task.Run("true", engine.Options{Nodes: nodes, Driver: testDriver(b, env)}); err != nil {
					b.Fatal(err)
				}
				if rc, ok := task.MaxRetcode(); !ok || rc != 0 {
					for rc, ns := range task.IterRetcodes() {
						b.Logf("exit %d: %s", rc, ns)
					}
					b.Fatalf("max rc %d", rc)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/2000, "ns/node")
		})
	}
}
