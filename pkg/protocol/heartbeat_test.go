package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// A heartbeat's load average is optional (agents before it send none),
// and bounded: a peer's figure is shown to operators and summed.
func TestHeartbeatLoad(t *testing.T) {
	var old Heartbeat
	if err := Unmarshal([]byte(`{"agent":"a","name":"gw","capacity":4,"running":2}`), &old); err != nil {
		t.Fatal(err)
	}
	if old.Load != nil || old.CheckFields() != nil {
		t.Errorf("an old agent's heartbeat: load %v, %v", old.Load, old.CheckFields())
	}
	zero := 0.0
	data, err := Marshal(Heartbeat{Hello: Hello{Agent: "a"}, Load: &zero})
	if err != nil || !strings.Contains(string(data), `"load":0`) {
		t.Errorf("an idle gateway's load is sent: %s %v", data, err)
	}
	for _, bad := range []string{`-0.5`, `1048577`, `1e300`} {
		var hb Heartbeat
		if err := Unmarshal([]byte(`{"agent":"a","load":`+bad+`}`), &hb); err != nil {
			t.Fatal(err)
		}
		var le *LoadError
		if err := hb.CheckFields(); !errors.As(err, &le) || !strings.Contains(err.Error(), "field load:") {
			t.Errorf("load %s: %v", bad, err)
		}
	}
	for _, bad := range []string{`NaN`, `"1.0"`, `1e400`} {
		var hb Heartbeat
		if err := Unmarshal([]byte(`{"agent":"a","load":`+bad+`}`), &hb); err == nil {
			t.Errorf("load %s decoded: %v", bad, *hb.Load)
		}
	}
	hb := Heartbeat{Running: -1}
	if err := hb.CheckFields(); err == nil || !strings.Contains(err.Error(), "field running: -1 nodes, negative") {
		t.Errorf("negative running: %v", err)
	}
}

// FuzzHeartbeat: whatever a peer sends, a heartbeat that passes
// CheckFields has its figures in range.
func FuzzHeartbeat(f *testing.F) {
	f.Add([]byte(`{"agent":"a","name":"gw","capacity":4,"running":2,"load":0.52,"shards":["j/s/1"]}`))
	f.Add([]byte(`{"agent":"a","load":-1}`))
	f.Add([]byte(`{"load":1e308}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var hb Heartbeat
		if json.Unmarshal(data, &hb) != nil || hb.CheckFields() != nil {
			return
		}
		if hb.Load != nil && !(*hb.Load >= 0 && *hb.Load <= MaxLoad) {
			t.Fatalf("load %v passed", *hb.Load)
		}
		if hb.Running < 0 || len(hb.Shards) > MaxHeartbeatShards || len(hb.Groups) > MaxGroups {
			t.Fatalf("figures out of range passed: %+v", hb)
		}
	})
}
