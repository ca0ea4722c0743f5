// Package metricstest scrapes a daemon's operator HTTP listener
// (pkg/fleet/ops) in tests: its /metrics parsed with Prometheus's own
// text parser, and the status of /healthz and /readyz.
package metricstest

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// client bounds each request: a daemon under test answers in
// milliseconds; this only catches a hang.
var client = &http.Client{Timeout: time.Minute}

// Metrics are the metric families of one scrape, by name.
type Metrics map[string]*dto.MetricFamily

// Scrape gets http://addr/metrics and parses it, failing the test if
// that fails.
func Scrape(t testing.TB, addr string) Metrics {
	t.Helper()
	code, body := Get(t, addr, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET %s/metrics: %d %s", addr, code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s/metrics: %v\n%s", addr, err, body)
	}
	return fams
}

// Get gets http://addr+path and returns its status and body.
func Get(t testing.TB, addr, path string) (int, string) {
	t.Helper()
	resp, err := client.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s%s: %v", addr, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		t.Fatalf("GET %s%s: %v", addr, path, err)
	}
	return resp.StatusCode, string(body)
}

// find returns the metric of family name whose labels include the
// name=value pairs of labels.
func (m Metrics) find(name string, labels ...string) (*dto.Metric, error) {
	f := m[name]
	if f == nil {
		return nil, fmt.Errorf("no metric %s", name)
	}
	for _, mt := range f.Metric {
		if has(mt, labels) {
			return mt, nil
		}
	}
	return nil, fmt.Errorf("no %s with labels %v", name, labels)
}

func has(mt *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		if !slices.ContainsFunc(mt.Label, func(l *dto.LabelPair) bool {
			return l.GetName() == labels[i] && l.GetValue() == labels[i+1]
		}) {
			return false
		}
	}
	return true
}

// Value returns the value of a counter or gauge: family name, the first
// series whose labels include labels (name, value, name, value...).
func (m Metrics) Value(name string, labels ...string) (float64, error) {
	mt, err := m.find(name, labels...)
	if err != nil {
		return 0, err
	}
	switch {
	case mt.Counter != nil:
		return mt.Counter.GetValue(), nil
	case mt.Gauge != nil:
		return mt.Gauge.GetValue(), nil
	case mt.Untyped != nil:
		return mt.Untyped.GetValue(), nil
	}
	return 0, fmt.Errorf("%s%v is no counter or gauge", name, labels)
}

// Count returns the sample count of a histogram series.
func (m Metrics) Count(name string, labels ...string) (uint64, error) {
	mt, err := m.find(name, labels...)
	if err != nil {
		return 0, err
	}
	if mt.Histogram == nil {
		return 0, fmt.Errorf("%s%v is no histogram", name, labels)
	}
	return mt.Histogram.GetSampleCount(), nil
}

// Want is an expected value: the series of Name with Labels.
type Want struct {
	Name   string
	Labels []string
	Value  float64
}

// Check reports every value of want that m does not hold, as errors of
// t.
func (m Metrics) Check(t testing.TB, want ...Want) {
	t.Helper()
	for _, w := range want {
		v, err := m.Value(w.Name, w.Labels...)
		switch {
		case err != nil:
			t.Error(err)
		case v != w.Value:
			t.Errorf("%s%v = %v, want %v", w.Name, w.Labels, v, w.Value)
		}
	}
}

// Help reports, as errors of t, the families whose name starts with
// prefix and that have no HELP text.
func (m Metrics) Help(t testing.TB, prefix string) {
	t.Helper()
	n := 0
	for name, f := range m {
		if strings.HasPrefix(name, prefix) {
			n++
			if f.GetHelp() == "" {
				t.Errorf("%s has no HELP", name)
			}
		}
	}
	if n == 0 {
		t.Errorf("no metric named %s*", prefix)
	}
}

// Positive reports, as errors of t, the counters or gauges of names
// (their first series) that are missing or not above 0.
func (m Metrics) Positive(t testing.TB, names ...string) {
	t.Helper()
	for _, name := range names {
		if v, err := m.Value(name); err != nil || v <= 0 {
			t.Errorf("%s = %v, %v: want > 0", name, v, err)
		}
	}
}

// OneJob is what a coordinator that ran one job, to its end, on one live
// agent serving the nodes under no gateway reports: exited nodes that
// exited, timedOut that timed out, failed that ended other than exited
// with status 0, no node in error.
func OneJob(exited, timedOut, failed float64) []Want {
	return []Want{
		{Name: "fleetsh_coordinator_nodes_ended_total", Labels: []string{"state", "exited"}, Value: exited},
		{Name: "fleetsh_coordinator_nodes_ended_total", Labels: []string{"state", "command_timeout"}, Value: timedOut},
		{Name: "fleetsh_coordinator_nodes_ended_total", Labels: []string{"state", "error"}, Value: 0},
		{Name: "fleetsh_coordinator_nodes_ended_total", Labels: []string{"state", "gateway_lost"}, Value: 0},
		{Name: "fleetsh_coordinator_nodes_failed_total", Value: failed},
		{Name: "fleetsh_coordinator_jobs", Labels: []string{"state", "done"}, Value: 1},
		{Name: "fleetsh_coordinator_jobs", Labels: []string{"state", "running"}, Value: 0},
		{Name: "fleetsh_coordinator_agents", Labels: []string{"group", "(local)", "state", "live"}, Value: 1},
	}
}
