package agent

import (
	"errors"
	"runtime/debug"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

func TestReleaseOf(t *testing.T) {
	for _, tc := range []struct {
		bi   debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261206211114-e16204b4e2fa+dirty"}}, "v0.0.0-20261206211114-e16204b4e2fa+dirty"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "e16204b4e2fa0c28b4e3570d1b95b8edebb72aea"}, {Key: "vcs.modified", Value: "true"}}}, "devel-e16204b4e2fa+dirty"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "(devel)"},
		{debug.BuildInfo{}, ""},
	} {
		if got := releaseOf(&tc.bi); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.bi.Main, got, tc.want)
		}
	}
}

func TestLoadAverage(t *testing.T) {
	if v, err := parseLoadAverage("0.52 0.58 0.59 1/523 12345\n"); err != nil || v != 0.52 {
		t.Errorf("parse: %v %v", v, err)
	}
	if _, err := parseLoadAverage("garbage"); err == nil {
		t.Error("garbage parsed")
	}
	for _, tc := range []struct {
		v    float64
		err  error
		want bool
	}{{1.5, nil, true}, {0, nil, true}, {-1, nil, false}, {protocol.MaxLoad + 1, nil, false}, {0, errors.New("no /proc"), false}} {
		a := &Agent{cfg: Config{LoadAverage: func() (float64, error) { return tc.v, tc.err }}}
		if got := a.load(); (got != nil) != tc.want || got != nil && *got != tc.v {
			t.Errorf("load %v %v: %v", tc.v, tc.err, got)
		}
	}
}
