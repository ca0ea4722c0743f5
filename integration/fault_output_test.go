package integration

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// The output scenarios of the fault suite (docs/RELIABILITY.md): a node
// flooding its output, binary bytes, a line of megabytes without newline.
// csub runs as a process against a fleet of real processes; its standard
// output and error go to one pipe, as on a terminal, so that the order of
// its lines and messages is what a user sees.

// csubRun is what one csub process gave.
type csubRun struct {
	status int
	took   time.Duration
	maxRSS int64    // peak RSS of csub, in KiB (getrusage)
	msgs   []string // csub's own lines ("csub: ..."), in order
}

// runCsubLines runs csub against f with args, its standard output and
// error merged, and hands every line it prints (without its newline) to
// line as it comes, except csub's own messages, which it collects.
func runCsubLines(t *testing.T, f *testFleet, line func([]byte), args ...string) csubRun {
	t.Helper()
	cmd := exec.Command(filepath.Join(binaries(t), "csub"), args...)
	cmd.Env = append(os.Environ(), f.csubEnv()...)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	// Liveness only: a csub that hangs is killed, and the test fails on
	// what it printed; each test asserts its row's bound on run.took.
	hang := time.AfterFunc(5*time.Minute, func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	defer hang.Stop()
	var run csubRun
	rd := bufio.NewReaderSize(pr, 1<<20)
	for {
		b, err := rd.ReadBytes('\n')
		if len(b) > 0 {
			b = bytes.TrimSuffix(b, []byte{'\n'})
			if bytes.HasPrefix(b, []byte("csub: ")) {
				run.msgs = append(run.msgs, string(b))
			} else {
				line(b)
			}
		}
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
	}
	pr.Close()
	err = cmd.Wait()
	run.took = time.Since(began)
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		run.status = ee.ExitCode()
	default:
		t.Fatal(err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		run.maxRSS = ru.Maxrss
	}
	return run
}

// summaryLine reads csub's --summary line: nodes per final state, and how
// many had their output cut.
var summaryLine = regexp.MustCompile(`^csub: (\d+) nodes in \S+: (.*?)(?:; output cut on (\d+) \(--max-output\))?$`)

var summaryState = regexp.MustCompile(`(\d+) ([a-z ]+?)(?: \([^)]*\))?(?:, |$)`)

// summaryCounts finds the --summary line in msgs and returns its counts
// per final state and of nodes cut.
func summaryCounts(t *testing.T, msgs []string) (map[protocol.State]int, int) {
	t.Helper()
	for _, m := range msgs {
		sm := summaryLine.FindStringSubmatch(m)
		if sm == nil {
			continue
		}
		counts := map[protocol.State]int{}
		for _, st := range summaryState.FindAllStringSubmatch(sm[2], -1) {
			n, _ := strconv.Atoi(st[1])
			counts[protocol.State(st[2])] = n
		}
		cut, _ := strconv.Atoi(sm[3])
		return counts, cut
	}
	t.Fatalf("no --summary line in csub's messages %q", msgs)
	return nil, 0
}

// checkCounts asserts exact per-state counts and cuts.
func checkCounts(t *testing.T, what string, msgs []string, want map[protocol.State]int, wantCut int) {
	t.Helper()
	got, cut := summaryCounts(t, msgs)
	if fmt.Sprint(got) != fmt.Sprint(want) || cut != wantCut {
		t.Errorf("%s: states %v, %d cut; want %v, %d cut", what, got, cut, want, wantCut)
	}
}

// nodeLines splits csub's labelled lines ("node: line") per node.
type nodeLines map[string][][]byte

func (nl nodeLines) add(t *testing.T) func([]byte) {
	return func(b []byte) {
		node, rest, ok := bytes.Cut(b, []byte(": "))
		if !ok {
			t.Errorf("unlabelled line %.100q", b)
			return
		}
		nl[string(node)] = append(nl[string(node)], bytes.Clone(rest))
	}
}

// clushLines is what csub prints of a node's output, line by line: the
// output split at '\n', a '\r' before it dropped (clush's CRLF rule),
// the last line without newline as it is.
func clushLines(out []byte) [][]byte {
	var lines [][]byte
	for len(out) > 0 {
		line, rest, more := bytes.Cut(out, []byte{'\n'})
		if more {
			line = bytes.TrimSuffix(line, []byte{'\r'})
		}
		lines = append(lines, line)
		out = rest
	}
	return lines
}

// vmHWM reads a process's peak RSS (KiB) from /proc.
func vmHWM(t *testing.T, p *proc) int64 {
	t.Helper()
	kb, err := readVmHWM(p.cmd.Process.Pid)
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	return kb
}

// hugeLine is what the flooding node prints, again and again.
const hugeLine = "fleetsh flood 0123456789 abcdefghijklmnopqrstuvwxyz\n"

// TestFaultOutputHuge: a node prints far more than its cap (CI: 512 MiB
// under a 32 MiB cap; full: 1 GiB under 256 MiB). The bytes up to the cap
// reach csub's output unchanged (checked by length and SHA-256, never held
// whole), then one marker line; the command ran to its end (it is drained,
// not killed) and its exit code is kept; the other nodes are untouched.
func TestFaultOutputHuge(t *testing.T) {
	skipShort(t)
	bound := scenarioBound(t)
	// CI prints 512 MiB: enough that the peak RSS of a process holding
	// the flood could not pass for its ordinary working set (the
	// coordinator's is about 110 MiB here, its replay of the job
	// included).
	printed, limit := int64(512<<20), int64(32<<20)
	if faultFull() {
		printed, limit = 1<<30, 256<<20
	}
	// The agents' ceiling (64 MiB by default) must not lower the job's
	// cap at full size.
	f := startFleet(t, "", "--max-output", "1G")
	// node[701-704] are gw3's: its agent, a process of its own, runs them
	// (-R exec runs each node's command on the agent's machine).
	// node701 reaches its "exit 3" only once head has written every byte:
	// its exit code shows that its output was drained to the end, not
	// that the command was stopped.
	cmd := fmt.Sprintf(`case %%h in node701) yes '%s' | head -c %d; exit 3;; esac; echo small %%h`,
		strings.TrimSuffix(hugeLine, "\n"), printed)
	hashes := map[string]hash.Hash{}
	sizes := map[string]int64{}
	var after []string // nodes whose lines came after their cut marker
	cutSeen := false
	run := runCsubLines(t, f, func(b []byte) {
		node, rest, ok := bytes.Cut(b, []byte(": "))
		if !ok {
			t.Errorf("unlabelled line %.100q", b)
			return
		}
		n := string(node)
		if n == "node701" && cutSeen {
			after = append(after, n)
		}
		if hashes[n] == nil {
			hashes[n] = sha256.New()
		}
		hashes[n].Write(rest)
		hashes[n].Write([]byte{'\n'})
		sizes[n] += int64(len(rest)) + 1
		if n != "node701" && sizes[n] > 1000 {
			t.Fatalf("%s printed more than its line", n)
		}
	}, "-R", "exec", "-w", "node[701-704]", "-S", "--summary", "--max-output", strconv.FormatInt(limit, 10), cmd)
	// Peak RSS before the daemons stop (the test's end kills them).
	coordRSS, agentRSS := vmHWM(t, f.coord), vmHWM(t, f.agents["gw3"])
	t.Logf("node701 printed %d MiB, cap %d MiB: csub took %v; peak RSS csub %d MiB, coordinator %d MiB, agent gw3 %d MiB",
		printed>>20, limit>>20, run.took.Round(time.Millisecond), run.maxRSS>>10, coordRSS>>10, agentRSS>>10)

	// What csub shows of node701: the first limit bytes of its output,
	// the line the cap fell in ending there.
	want := sha256.New()
	line := []byte(hugeLine)
	for left := limit; left > 0; left -= int64(len(line)) {
		want.Write(line[:min(left, int64(len(line)))])
	}
	wantSize := limit
	if limit%int64(len(line)) != 0 {
		want.Write([]byte{'\n'}) // csub ends the cut line
		wantSize++
	}
	if sizes["node701"] != wantSize || hashes["node701"] == nil || !bytes.Equal(hashes["node701"].Sum(nil), want.Sum(nil)) {
		t.Errorf("node701: %d bytes shown, want %d (the first %d of its output, unchanged)", sizes["node701"], wantSize, limit)
	}
	for _, n := range []string{"node702", "node703", "node704"} {
		if sizes[n] != int64(len("small "+n+"\n")) || !bytes.Equal(hashes[n].Sum(nil), sha256Of("small "+n+"\n")) {
			t.Errorf("%s: %d bytes shown, want its one line", n, sizes[n])
		}
	}
	marker := fmt.Sprintf("csub: node701: output cut at %d MiB (--max-output)", limit>>20)
	wantMsgs := []string{marker, "csub: node701: exited with exit code 3"}
	if len(run.msgs) != 3 || run.msgs[0] != wantMsgs[0] || run.msgs[1] != wantMsgs[1] {
		t.Errorf("csub's messages %q, want %q then the summary", run.msgs, wantMsgs)
	}
	if len(after) > 0 {
		t.Errorf("%d lines of node701 after its marker", len(after))
	}
	checkCounts(t, "huge", run.msgs, map[protocol.State]int{protocol.StateExited: 4}, 1)
	if run.status != 3 {
		t.Errorf("csub -S exit status %d, want node701's 3", run.status)
	}
	if run.took > bound {
		t.Errorf("csub took %v, over the bound of %v", run.took, bound)
	}
	// Nothing held the flood: every process stays far below what the
	// node printed (the cap travels, in bounded windows).
	for name, kib := range map[string]int64{"csub": run.maxRSS, "coordinator": coordRSS, "agent gw3": agentRSS} {
		if kib<<10 > printed/2 {
			t.Errorf("%s peaked at %d MiB of RSS for %d MiB printed", name, kib>>10, printed>>20)
		}
	}
}

func sha256Of(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// binaryOutput is output no text tool expects: every byte value, NUL,
// lone '\r', CRLF endings, lone UTF-8 continuation bytes, truncated and
// overlong sequences, encoded surrogates, 0xfe and 0xff, and a last line
// without newline that ends with '\r'.
func binaryOutput() []byte {
	var b bytes.Buffer
	for i := range 256 {
		b.WriteByte(byte(i))
	}
	b.WriteString("\nNUL\x00in the middle\x00\nlone CR\rin a line\nCRLF line\r\n\r\n\n")
	b.WriteString("\x80\x81\xbf lone continuation bytes\n\xc3 truncated \xe2\x82 sequences\n\xc0\xaf overlong \xed\xa0\x80 surrogate \xfe\xff\n")
	r := rand.New(rand.NewPCG(13, 4))
	for range 64 << 10 {
		b.WriteByte(byte(r.UintN(256)))
	}
	b.WriteString("\nlast line without newline\r")
	return b.Bytes()
}

// TestFaultOutputBinary: binary output, invalid UTF-8 included, reaches
// csub's output byte for byte through SSH, the agents and the coordinator
// (lines as clush splits them), with -b gathering too; --json carries
// such lines in base64, unchanged.
func TestFaultOutputBinary(t *testing.T) {
	skipShort(t)
	bound := scenarioBound(t)
	f := startFleet(t, "")
	out := binaryOutput()
	file := filepath.Join(t.TempDir(), "binary")
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	// node[1-4] through the gw[1-2] agents, local[1-2] through the
	// coordinator's own agent, all over SSH.
	const nodes = "node[1-4],local[1-2]"
	names := nodeset.MustParse(nodes).Nodes()
	want := clushLines(out)

	got := nodeLines{}
	run := runCsubLines(t, f, got.add(t), "-w", nodes, "--summary", "cat "+file)
	checkCounts(t, "plain", run.msgs, map[protocol.State]int{protocol.StateExited: len(names)}, 0)
	for _, n := range names {
		if !equalLines(got[n], want) {
			t.Errorf("%s: %d lines differ from the %d it printed", n, len(got[n]), len(want))
		}
	}
	if run.status != 0 || run.took > bound {
		t.Errorf("plain: exit status %d, took %v (bound %v)", run.status, run.took, bound)
	}

	// -b: one block for every node, the same bytes (-q: without clush's
	// progress counter, which -b shows on a slow run, and node count).
	var gathered bytes.Buffer
	run = runCsubLines(t, f, func(b []byte) { gathered.Write(b); gathered.WriteByte('\n') }, "-w", nodes, "-b", "-q", "cat "+file)
	wantB := "---------------\n" + nodeset.MustParse(nodes).String() + "\n---------------\n" + string(bytes.Join(want, []byte{'\n'})) + "\n"
	if gathered.String() != wantB || len(run.msgs) != 0 || run.status != 0 || run.took > bound {
		t.Errorf("-b: %d bytes shown, want %d (equal: %v); messages %q, status %d, took %v",
			gathered.Len(), len(wantB), gathered.String() == wantB, run.msgs, run.status, run.took)
	}

	// --json: binary lines in base64, every node's result exited.
	lines, results := nodeLines{}, map[string]int{}
	run = runCsubLines(t, f, func(b []byte) {
		var obj struct {
			Type, Node, State, Line string
			LineBase64              string `json:"line_base64"`
			Cut                     int64  `json:"output_cut_at"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			t.Errorf("not JSON: %.100q", b)
			return
		}
		switch obj.Type {
		case "line":
			text := []byte(obj.Line)
			if obj.LineBase64 != "" {
				var err error
				if text, err = base64.StdEncoding.DecodeString(obj.LineBase64); err != nil {
					t.Error(err)
				}
			}
			lines[obj.Node] = append(lines[obj.Node], text)
		case "result":
			results[obj.State]++
			if obj.Cut != 0 {
				t.Errorf("%s: output_cut_at %d", obj.Node, obj.Cut)
			}
		}
	}, "-w", nodes, "--json", "cat "+file)
	for _, n := range names {
		if !equalLines(lines[n], want) {
			t.Errorf("--json %s: %d lines differ from the %d it printed", n, len(lines[n]), len(want))
		}
	}
	if results[string(protocol.StateExited)] != len(names) || len(results) != 1 || run.status != 0 {
		t.Errorf("--json results %v, status %d", results, run.status)
	}
}

func equalLines(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestFaultOutputLongLine: a line of 10 MB without newline, after two
// short ones, arrives whole and unchanged on csub's output under a cap
// above it (--max-output 16M), live and gathered (-b); under the default
// cap (1 MiB) it is cut there, with the marker.
func TestFaultOutputLongLine(t *testing.T) {
	skipShort(t)
	bound := scenarioBound(t)
	f := startFleet(t, "")
	long := make([]byte, 10_000_000)
	r := rand.New(rand.NewPCG(10, 13))
	for i := range long {
		long[i] = byte(r.UintN(255)) + 1 // no NUL ...
		if long[i] == '\n' {
			long[i] = 'n' // ... and no newline
		}
	}
	file := filepath.Join(t.TempDir(), "long")
	if err := os.WriteFile(file, long, 0o644); err != nil {
		t.Fatal(err)
	}
	const nodes = "node[1-2],local1"
	names := nodeset.MustParse(nodes).Nodes()
	cmd := "printf 'first\\nsecond\\n'; cat " + file
	want := [][]byte{[]byte("first"), []byte("second"), long}

	got := nodeLines{}
	run := runCsubLines(t, f, got.add(t), "-w", nodes, "--summary", "--max-output", "16M", cmd)
	checkCounts(t, "16M", run.msgs, map[protocol.State]int{protocol.StateExited: len(names)}, 0)
	for _, n := range names {
		if !equalLines(got[n], want) {
			t.Errorf("%s: %d lines (last %d bytes), want first, second and the 10 MB line unchanged", n, len(got[n]), lastLen(got[n]))
		}
	}
	if run.status != 0 || run.took > bound {
		t.Errorf("16M: exit status %d, took %v (bound %v)", run.status, run.took, bound)
	}

	var gathered bytes.Buffer
	run = runCsubLines(t, f, func(b []byte) { gathered.Write(b); gathered.WriteByte('\n') }, "-w", nodes, "-b", "-q", "--max-output", "16M", cmd)
	wantB := "---------------\n" + nodeset.MustParse(nodes).String() + "\n---------------\nfirst\nsecond\n" + string(long) + "\n"
	if gathered.String() != wantB || len(run.msgs) != 0 || run.status != 0 || run.took > bound {
		t.Errorf("-b: %d bytes shown, want %d (equal: %v, starts %.80q); messages %q, status %d, took %v",
			gathered.Len(), len(wantB), gathered.String() == wantB, gathered.Bytes(), run.msgs, run.status, run.took)
	}

	// The default cap: the long line is cut at 1 MiB of the node's output.
	got = nodeLines{}
	run = runCsubLines(t, f, got.add(t), "-w", nodes, "--summary", cmd)
	checkCounts(t, "default cap", run.msgs, map[protocol.State]int{protocol.StateExited: len(names)}, len(names))
	cutAt := protocol.DefaultMaxOutput - int64(len("first\nsecond\n"))
	for _, n := range names {
		if !equalLines(got[n], [][]byte{want[0], want[1], long[:cutAt]}) {
			t.Errorf("default cap, %s: %d lines (last %d bytes), want the long line's first %d bytes", n, len(got[n]), lastLen(got[n]), cutAt)
		}
	}
	markers := 0
	for _, m := range run.msgs {
		if strings.HasSuffix(m, ": output cut at 1 MiB (--max-output)") {
			markers++
		}
	}
	if markers != len(names) || run.took > bound {
		t.Errorf("default cap: %d markers in %q, took %v", markers, run.msgs, run.took)
	}
}

func lastLen(lines [][]byte) int {
	if len(lines) == 0 {
		return 0
	}
	return len(lines[len(lines)-1])
}
