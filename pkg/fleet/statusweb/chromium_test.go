package statusweb

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/testreq"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// browser runs Debian's chromium headless on the pages of one server.
type browser struct {
	t    *testing.T
	bin  string
	base string // the server's URL
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a browser")
	}
	return &browser{t: t, bin: testreq.LookPath(t, testreq.Chromium, "chromium"), base: srv.URL}
}

// run loads path with the given chromium flags and returns its standard
// output. The virtual time budget lets the page's script poll a few
// times, on Chromium's own clock, before the DOM is dumped or the
// screenshot taken.
func (b *browser) run(path string, flags ...string) string {
	b.t.Helper()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + b.t.TempDir(), "--virtual-time-budget=5000"}, flags...)
	args = append(args, b.base+path)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a hang catcher
	defer cancel()
	cmd := exec.CommandContext(ctx, b.bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "HOME="+b.t.TempDir())
	// Its own process group: its helpers (zygote, renderer, crashpad)
	// are killed with it, by the group's id.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // what outlived it
	}
	if err != nil {
		b.t.Fatalf("chromium %s: %v\n%s", path, err, stderr.String())
	}
	return stdout.String()
}

// dom returns the DOM of path once its script ran; with a shot name it
// also saves a PNG of the page as that test artifact, in
// $FLEETSH_ARTIFACTS_DIR when set (one browser run for both).
func (b *browser) dom(path, shot string) string {
	b.t.Helper()
	if shot == "" {
		return b.run(path, "--dump-dom")
	}
	dir := os.Getenv("FLEETSH_ARTIFACTS_DIR")
	if dir == "" {
		dir = b.t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	file := filepath.Join(dir, shot)
	_ = os.Remove(file)
	dom := b.run(path, "--dump-dom", "--screenshot="+file, "--window-size=1280,900", "--hide-scrollbars")
	if info, err := os.Stat(file); err != nil || info.Size() == 0 {
		b.t.Fatalf("screenshot %s: %v", file, err)
	}
	b.t.Logf("screenshot of %s: %s", path, file)
	return dom
}

// gatedSource is a real coordinator whose job gated.ID waits for a gate
// file: the second time the page asks for that job (the script's first
// poll, after the server rendered it), it opens the gate and answers once
// the job is done. Chromium's virtual time stands still while the poll is
// pending, so what the DOM shows next is the job done, drawn without a
// reload.
// It counts the full statuses asked of each job.
type gatedSource struct {
	Source
	t     *testing.T
	id    string
	gate  string
	mu    sync.Mutex
	calls map[string]int
	first protocol.JobStatus // what the server rendered
}

func (g *gatedSource) Job(id string) (protocol.JobStatus, bool) {
	g.mu.Lock()
	g.calls[id]++
	n := g.calls[id]
	g.mu.Unlock()
	if id != g.id {
		return g.Source.Job(id)
	}
	st, ok := g.Source.Job(id)
	switch n {
	case 1:
		g.mu.Lock()
		g.first = st
		g.mu.Unlock()
	case 2:
		if err := os.WriteFile(g.gate, nil, 0o644); err != nil {
			g.t.Error(err)
		}
		deadline := time.Now().Add(time.Minute) // a hang catcher
		for ok && !st.Done && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			st, ok = g.Source.Job(id)
		}
	}
	return st, ok
}

// text strips the tags of an HTML fragment and squeezes its spaces.
func text(html string) string {
	s := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(html, " ")
	return strings.Join(strings.Fields(s), " ")
}

// elementText returns the text of the element whose start tag matches
// open (through its closing tag name).
func elementText(t *testing.T, dom, open, tag string) string {
	t.Helper()
	i := strings.Index(dom, open)
	if i < 0 {
		t.Fatalf("no %s in the DOM:\n%s", open, dom)
	}
	rest := dom[i:]
	j := strings.Index(rest, "</"+tag+">")
	if j < 0 {
		t.Fatalf("%s not closed", open)
	}
	return text(rest[:j])
}

// The page in headless Chromium: the job's nodes per final state, its
// progress updated by the script without a reload, the agents per group;
// screenshots of both pages go to the test artifacts.
func TestChromium(t *testing.T) {
	f := startFleet(t)
	f.runMixed(t)
	gate := filepath.Join(t.TempDir(), "gate")
	// live: n1 and n2 end at once, n3 and n4 when the gate opens, n4
	// with status 1: a failure the page shows only once it polled.
	liveJob := protocol.JobSpec{ID: "live", Nodes: "n[1-4]", Worker: "exec",
		Command: `case %h in n[12]) exit 0;; esac; while [ ! -e ` + gate + ` ]; do sleep 0.05; done; [ %h != n4 ]`}
	waitLive := f.submit(t, liveJob)
	waitEnded(t, f.co, "live", 2)
	src := &gatedSource{Source: f.co, t: t, id: "live", gate: gate, calls: map[string]int{}}
	srv := serve(t, src)
	b := newBrowser(t, srv)

	dom := b.dom("/job/live", "")
	waitLive()
	if ended(src.first) != 2 || src.first.Done || src.first.Failed != 0 {
		t.Fatalf("the server rendered %+v, not the job half done", src.first)
	}
	if got := elementText(t, dom, `<div class="bar">`, "div"); got != "4 of 4 nodes ended ( 100 %)" && got != "4 of 4 nodes ended (100%)" {
		t.Errorf("progress after the poll: %q", got)
	}
	for _, want := range []string{`<progress id="bar" max="4" value="4"></progress>`,
		`<span id="job-state"><span class="done">done</span> <span class="badge st-failed" title="nodes that ended other than exited with status 0">1 failed</span></span>`,
		// Drawn by the script: no line breaks between the cells.
		`<tr class="rc-fail"><td><span class="badge rc-fail" title="a failure: exit status other than 0">rc=1 failed</span></td><td class="num">1</td><td><span class="set">n4</span></td></tr>`} {
		if !strings.Contains(dom, want) {
			t.Errorf("live job DOM lacks %q:\n%s", want, dom)
		}
	}
	if got := elementText(t, dom, `<tbody id="states">`, "tbody"); got != "exited 4 n[1-4]" {
		t.Errorf("live job states: %q", got)
	}
	if got := elementText(t, dom, `<tbody id="codes">`, "tbody"); got != "rc=0 ok 3 n[1-3] rc=1 failed 1 n4" {
		t.Errorf("live job exit codes: %q", got)
	}
	if !regexp.MustCompile(`data-polls="[1-9]`).MatchString(dom) || !strings.Contains(dom, `class="live ok"`) {
		t.Errorf("the script did not poll:\n%s", dom)
	}

	dom = b.dom("/job/mixed", "status-page-job.png")
	if got, want := elementText(t, dom, `<tbody id="states">`, "tbody"),
		"exited 15 a[1-6],b[1-6],n[1,3-4] cancelled 1 n2 no agent 2 c[1-2]"; got != want {
		t.Errorf("mixed job states:\n got %q\nwant %q", got, want)
	}
	if got := elementText(t, dom, `<tbody id="codes">`, "tbody"); got != "rc=0 ok 13 a[1-2,4-6],b[1,3-6],n[1,3-4] rc=3 failed 2 a3,b2" {
		t.Errorf("mixed job exit codes: %q", got)
	}
	if got := elementText(t, dom, `<div class="bar">`, "div"); !strings.HasPrefix(got, "18 of 18 nodes ended") {
		t.Errorf("mixed job progress: %q", got)
	}
	if got := elementText(t, dom, `<span class="live ok" id="live"`, "span"); got != "job ended: final figures" {
		t.Errorf("mixed job live indicator: %q", got)
	}

	// rolling runs while the index is shown: b[1-3] end at once, b[4-6]
	// when the test ends.
	hold := filepath.Join(t.TempDir(), "hold")
	waitRolling := f.submit(t, protocol.JobSpec{ID: "rolling", Nodes: "b[1-6]", Worker: "exec",
		Command: `case %h in b[1-3]) exit 0;; esac; while [ ! -e ` + hold + ` ]; do sleep 0.05; done`})
	t.Cleanup(func() {
		if err := os.WriteFile(hold, nil, 0o644); err != nil {
			t.Error(err)
		}
		waitRolling()
	})
	waitEnded(t, f.co, "rolling", 3)

	dom = b.dom("/", "status-page.png")
	if got := elementText(t, dom, `<tbody id="jobs">`, "tbody"); !regexp.MustCompile(
		`^rolling operator \S+ \S+ UTC 6 running 3/6 exited 3 .*live operator \S+ \S+ UTC 4 done 4/4 1 failed exited 4 .*mixed operator \S+ \S+ UTC 18 done 18/18 5 failed exited 15 cancelled 1 no agent 2 case %h in`).MatchString(got) {
		t.Errorf("jobs table: %q", got)
	}
	var groups []string
	for _, m := range regexp.MustCompile(`<h2>([^<]*)<span class="count">(\d+)</span></h2>`).FindAllStringSubmatch(dom, -1) {
		groups = append(groups, strings.TrimSpace(m[1])+" "+m[2])
	}
	if got, want := strings.Join(groups, "; "), "local (nodes under no gateway) 1; gateway group gw1 1; gateway group gw2 2"; got != want {
		t.Errorf("agent groups: %q, want %q", got, want)
	}
	if got := elementText(t, dom, `<div id="agents">`, "div"); !regexp.MustCompile(
		`gw2-1 gw2 \d+\.\d s ago \d 8 live \S+ gw2-2 gw2 \d+\.\d s ago \d 8 live \S+$`).MatchString(got) {
		t.Errorf("agents: %q", got)
	}
	if !regexp.MustCompile(`data-polls="[1-9]`).MatchString(dom) {
		t.Errorf("the index did not poll:\n%s", dom)
	}

	// A running job's page: its progress from brief statuses every
	// second, its node sets folded by the coordinator only at the
	// render and the first poll (its nodes do not end meanwhile).
	dom = b.dom("/job/rolling", "")
	if got := elementText(t, dom, `<tbody id="states">`, "tbody"); got != "exited 3 b[1-3] unfinished 3 b[4-6]" {
		t.Errorf("rolling job states: %q", got)
	}
	if got := elementText(t, dom, `<tbody id="codes">`, "tbody"); got != "rc=0 ok 3 b[1-3]" || strings.Contains(dom, "st-failed") {
		t.Errorf("rolling job exit codes: %q", got)
	}
	if got := elementText(t, dom, `<div class="bar">`, "div"); !strings.HasPrefix(got, "3 of 6 nodes ended ( 50 %)") {
		t.Errorf("rolling job progress: %q", got)
	}
	polls := regexp.MustCompile(`data-polls="(\d+)"`).FindStringSubmatch(dom)
	src.mu.Lock()
	full := src.calls["rolling"]
	src.mu.Unlock()
	if polls == nil || polls[1] < "3" || len(polls[1]) > 1 || full != 2 {
		t.Errorf("rolling job: %v polls, %d full statuses", polls, full)
	}
}

// When a poll fails (here the job is gone by the script's first poll),
// the page says it is not updating rather than passing stale figures for
// live ones; a hostile value stays text in the DOM the script drew.
func TestChromiumSaysWhenNotUpdating(t *testing.T) {
	src := &vanishing{fixedSource: fixedSource{jobs: []protocol.JobStatus{hostileJob}}}
	b := newBrowser(t, serve(t, src))
	dom := b.dom("/job/j-1", "")
	if got := elementText(t, dom, `<span class="live err" id="live"`, "span"); got != "not updating: 404 Not Found" {
		t.Errorf("live indicator: %q\n%s", got, dom)
	}
	if strings.Contains(dom, "<i onmouseover") {
		t.Errorf("hostile user rendered as HTML:\n%s", dom)
	}
}

// vanishing forgets its jobs after the first look at one.
type vanishing struct {
	fixedSource
	mu   sync.Mutex
	seen bool
}

func (v *vanishing) Job(id string) (protocol.JobStatus, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen {
		return protocol.JobStatus{}, false
	}
	v.seen = true
	return v.fixedSource.Job(id)
}

func (v *vanishing) Jobs() []protocol.JobStatus {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen {
		return nil
	}
	return v.fixedSource.Jobs()
}
