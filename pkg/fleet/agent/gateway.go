package agent

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// BuildRelease names the release of this binary from its build info
// (runtime/debug.ReadBuildInfo, no -ldflags needed): the module version
// `go install ...@v1.2.3` records, or the pseudo-version `go build`
// stamps from the git checkout (v0.0.0-20261206211114-e16204b4e2fa,
// "+dirty" with local changes); else the VCS revision when the build
// recorded one but no version (devel-e16204b4e2fa); else "(devel)" ("" without build info,
// as in a test binary).
func BuildRelease() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	return releaseOf(bi)
}

func releaseOf(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		return "devel-" + rev[:min(len(rev), 12)] + dirty
	}
	return bi.Main.Version
}

// procLoadAverage reads the 1-minute load average from /proc/loadavg.
func procLoadAverage() (float64, error) {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	return parseLoadAverage(string(data))
}

// parseLoadAverage reads the first field of /proc/loadavg ("0.52 0.58
// 0.59 1/523 12345").
func parseLoadAverage(s string) (float64, error) {
	f, _, _ := strings.Cut(strings.TrimSpace(s), " ")
	v, err := strconv.ParseFloat(f, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/loadavg: %w", err)
	}
	return v, nil
}

// load is the load average a heartbeat carries: nil when there is none,
// or when it is out of the range the coordinator accepts (which would
// refuse the whole heartbeat, and declare the agent lost).
func (a *Agent) load() *float64 {
	v, err := a.cfg.LoadAverage()
	if err != nil || !(v >= 0 && v <= protocol.MaxLoad) {
		return nil
	}
	return &v
}
