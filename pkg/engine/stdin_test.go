package engine

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// counter is a reader of n bytes that counts what was read from it.
type counter struct {
	n    int
	read atomic.Int64
}

func (c *counter) Read(p []byte) (int, error) {
	r := int(c.read.Load())
	if r >= c.n {
		return 0, io.EOF
	}
	k := min(len(p), c.n-r)
	for i := range p[:k] {
		p[i] = byte((r + i) % 251)
	}
	c.read.Add(int64(k))
	return k, nil
}

func sumOf(n int) string {
	h := sha256.New()
	io.Copy(h, &counter{n: n})
	return fmt.Sprintf("%x", h.Sum(nil))
}

// A stream many times the window reaches every running node whole.
func TestStdinWindowStreams(t *testing.T) {
	const size = 4 << 20
	task := New()
	d := &funcDriver{run: func(ctx context.Context, j *Job) Result {
		h := sha256.New()
		if _, err := io.Copy(h, j.Stdin); err != nil {
			return Result{ExitCode: 1, Err: err}
		}
		fmt.Fprintf(j.Stdout, "%x\n", h.Sum(nil))
		return Result{}
	}}
	src := &counter{n: size}
	if _, err := task.Shell("x", Options{Nodes: nodeset.MustParse("n[1-3]"), Driver: d, Stdin: src,
		StdinWindow: 64 << 10, StdinStall: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := task.Resume(time.Minute); err != nil {
		t.Fatal(err)
	}
	want := sumOf(size)
	for _, n := range []string{"n1", "n2", "n3"} {
		if got := string(task.NodeBuffer(n)); got != want {
			t.Errorf("%s: %q, want %q", n, got, want)
		}
	}
}

// hashDriver prints the SHA-256 of its node's stdin; nodes in hold wait
// for their channel before they read.
func hashDriver(hold map[string]chan struct{}, readErr map[string]chan error) *funcDriver {
	return &funcDriver{run: func(ctx context.Context, j *Job) Result {
		if ch := hold[j.Node]; ch != nil {
			<-ch
		}
		h := sha256.New()
		_, err := io.Copy(h, j.Stdin)
		if ch := readErr[j.Node]; ch != nil {
			ch <- err
		}
		if err != nil {
			return Result{ExitCode: 1, Err: err}
		}
		fmt.Fprintf(j.Stdout, "%x", h.Sum(nil))
		return Result{}
	}}
}

// The source is read no faster than the slowest node takes it: while a
// node takes nothing, the source stays within a window (and the read
// buffer of the copy) of it.
func TestStdinWindowPacesSource(t *testing.T) {
	const window = 128 << 10
	src := &counter{n: 1 << 20}
	gate := make(chan struct{})
	n1 := make(chan error, 1)
	task := New()
	var n1read atomic.Int64
	d := &funcDriver{run: func(ctx context.Context, j *Job) Result {
		if j.Node == "n2" {
			<-gate
			return hashDriver(nil, nil).run(ctx, j)
		}
		h := sha256.New()
		buf := make([]byte, 4096)
		for {
			n, err := j.Stdin.Read(buf)
			h.Write(buf[:n])
			if n1read.Add(int64(n)) == window {
				n1 <- nil // n1 has all the window holds
			}
			if err != nil {
				break
			}
		}
		fmt.Fprintf(j.Stdout, "%x", h.Sum(nil))
		return Result{}
	}}
	if _, err := task.Shell("x", Options{Nodes: nodeset.MustParse("n[1-2]"), Driver: d, Stdin: src,
		StdinWindow: window, StdinStall: time.Hour}); err != nil {
		t.Fatal(err)
	}
	go func() {
		<-n1
		// n2 has read nothing: the source cannot be more than the window
		// and one read buffer (64 KiB) ahead.
		if r := src.read.Load(); r > window+64<<10 {
			t.Errorf("source read %d bytes while a node took none (window %d)", r, window)
		}
		close(gate)
	}()
	if err := task.Resume(time.Minute); err != nil {
		t.Fatal(err)
	}
	want := sumOf(1 << 20)
	for _, n := range []string{"n1", "n2"} {
		if got := string(task.NodeBuffer(n)); got != want {
			t.Errorf("%s: %q, want %q", n, got, want)
		}
	}
}

// A node the fanout starts after the start of a stream longer than the
// window was dropped fails with ErrStdinGone instead of running on part
// of it; under the window, it gets all of it.
func TestStdinWindowLateNode(t *testing.T) {
	for _, c := range []struct {
		size int
		gone bool
	}{{32 << 10, false}, {256 << 10, true}} {
		task := New()
		task.SetInfo(InfoFanout, 1)
		w, err := task.Shell("x", Options{Nodes: nodeset.MustParse("n[1-2]"), Driver: hashDriver(nil, nil), Stdin: &counter{n: c.size},
			StdinWindow: 64 << 10, StdinStall: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if err := task.Resume(time.Minute); err != nil {
			t.Fatal(err)
		}
		want := sumOf(c.size)
		if got := string(task.NodeBuffer("n1")); got != want {
			t.Errorf("%d bytes: n1 %q, want %q", c.size, got, want)
		}
		err = w.NodeFailure("n2")
		switch {
		case c.gone && (!errors.Is(err, ErrStdinGone) || ReasonOf(err) != ReasonLocal):
			t.Errorf("%d bytes: n2 error %v, want ErrStdinGone", c.size, err)
		case !c.gone && string(task.NodeBuffer("n2")) != want:
			t.Errorf("%d bytes: n2 %q %v, want %q", c.size, task.NodeBuffer("n2"), err, want)
		}
	}
}

// A node that reads none of its stdin is cut off after StdinStall; the
// others get the whole stream.
func TestStdinWindowCutsNonReader(t *testing.T) {
	const size = 1 << 20
	gate := make(chan struct{})
	n2err := make(chan error, 1)
	task := New()
	d := hashDriver(map[string]chan struct{}{"n2": gate}, map[string]chan error{"n2": n2err})
	// n2 tries to read once n1 has ended, which needs n2 cut off first.
	h := &hupSignal{node: "n1", done: gate}
	if _, err := task.Shell("x", Options{Nodes: nodeset.MustParse("n[1-2]"), Driver: d, Handler: h, Stdin: &counter{n: size},
		StdinWindow: 64 << 10, StdinStall: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := task.Resume(time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, want := string(task.NodeBuffer("n1")), sumOf(size); got != want {
		t.Errorf("n1: %q, want %q", got, want)
	}
	if err := <-n2err; !errors.Is(err, errStdinCut) {
		t.Errorf("n2: read error %v, want errStdinCut", err)
	}
}

// hupSignal closes done when node ends.
type hupSignal struct {
	Handler
	node string
	done chan struct{}
}

func (h *hupSignal) OnHup(_ *Worker, node string, _ int, _ error) {
	if node == h.node {
		close(h.done)
	}
}

// A pdsh-like driver (one process for all nodes) cannot take stdin.
func TestStdinGroupDriverRefused(t *testing.T) {
	task := New()
	_, err := task.Shell("x", Options{Nodes: nodeset.MustParse("n1"), Driver: groupDriver{}, Stdin: &counter{n: 1}})
	if err == nil || err.Error() != "writing to stdin is not supported by grp worker" {
		t.Fatalf("err %v", err)
	}
}

type groupDriver struct{}

func (groupDriver) Name() string                                          { return "grp" }
func (groupDriver) Run(context.Context, *Job) Result                      { return Result{} }
func (groupDriver) RunGroup(context.Context, *GroupJob) map[string]Result { return nil }
