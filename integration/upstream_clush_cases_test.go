package integration

// The command lines of ClusterShell 1.9.1's tests/CLIClushTest.py (see
// upstream_clush_test.go), one entry per clush main() call, named after
// the upstream test method.

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// clushBuilder collects the cases of the upstream test methods.
type clushBuilder struct {
	cases  []upstreamClushCase
	method string
}

func (b *clushBuilder) m(method string) { b.method = "CLIClushTest_A." + method }

// t adds a call without standard input (/dev/null).
func (b *clushBuilder) t(args ...string) *upstreamClushCase {
	b.cases = append(b.cases, upstreamClushCase{method: b.method, args: args})
	return &b.cases[len(b.cases)-1]
}

// in adds a call reading stdin.
func (b *clushBuilder) in(stdin string, args ...string) *upstreamClushCase {
	c := b.t(args...)
	c.stdin = &stdin
	return c
}

const (
	h = upstreamHost
	// duo is str(NodeSet("%s,localhost" % HOSTNAME)).
	duo = "cshost,localhost"
	// evenOdd is the bash command of test_035 and test_036 (with the
	// "%%" clush turns into "%").
	evenOdd  = "bash -c 's=%h; n=${s//[!0-9]/}; if [[ $(expr $n %% 2) == 0 ]]; then echo foo; else echo bar; fi'"
	evenOdd2 = "bash -c 's=%h; n=${s//[!0-9]/}; if [[ $(expr $n %% 2) == 0 ]];then echo bar; else echo foo; fi'"
	// copyContent plays upstream's "%f" % time.time().
	copyContent = "1733472000.123456"
)

// gzipFooBar is the gzip stream of "foo bar\n" test_013 writes to stdin.
var gzipFooBar = string([]byte{0x1f, 0x8b, 0x08, 0x00, 0x86, 0x9a, 0x74, 0x4f, 0x00, 0x03, 0x4b, 0xcb, 0xcf, 0x57,
	0x48, 0x4a, 0x2c, 0xe2, 0x02, 0x00, 0x27, 0xb4, 0xdd, 0x13, 0x08, 0x00, 0x00, 0x00})

func upstreamClushCases(user string) []upstreamClushCase {
	b := &clushBuilder{}
	b.m("test_000_display")
	b.t("-w", h, "true")
	b.t("-w", h, "echo", "ok")
	b.t("-w", h, "echo", "ok", "ok")
	b.t("-N", "-w", h, "echo", "ok", "ok")
	b.t("-w", "badhost,"+h, "-x", "badhost", "echo", "ok")
	b.t("-qw", h, "echo", "ok")
	b.t("-vw", h, "echo", "ok")
	b.t("-qvw", h, "echo", "ok")
	b.t("-Sw", h, "echo", "ok")
	b.t("-Sqw", h, "echo", "ok")
	b.t("-Svw", h, "echo", "ok")
	b.t("--nostdin", "-w", h, "echo", "ok")
	b.t("-w", h, "--color=always", "echo", "ok")
	b.t("-w", h, "--color=never", "echo", "ok")
	b.t("-N", "-R", "exec", "-w", "foo[1-2]", "-b", "echo", "test")

	b.m("test_002_fanout")
	b.t("-f", "10", "-w", h, "true")
	b.t("-f", "1", "-w", h, "true")
	b.t("-f", "1", "-w", h, "echo", "ok")

	b.m("test_004_ssh_options")
	b.t("-o", "-oStrictHostKeyChecking=no", "-w", h, "echo", "ok")
	b.t("-o", "-oStrictHostKeyChecking=no -oForwardX11=no", "-w", h, "echo", "ok")
	b.t("-o", "-oStrictHostKeyChecking=no", "-o", "-oForwardX11=no", "-w", h, "echo", "ok")
	b.t("-o-oStrictHostKeyChecking=no", "-o-oForwardX11=no", "-w", h, "echo", "ok")
	b.t("-u", "30", "-w", h, "echo", "ok")
	b.t("-t", "30", "-u", "30", "-w", h, "echo", "ok")

	b.m("test_006_output_gathering")
	for _, o := range []string{"-bL", "-qbL", "-BL", "-qBL", "-BLS", "-qBLS", "-vb"} {
		b.t("-w", h, o, "echo", "ok")
	}

	src := map[string]string{"f": copyContent, "f2": ""}
	b.m("test_008_file_copy")
	b.t("-w", h, "-c", "$T/f", "--dest", "$T/f2").files = src
	b.t("--user", user, "-w", h, "--copy", "$T/f", "--dest", "$T/f2").files = src
	b.t("--user", user, "-w", h, "--rcopy", "$T/f", "--dest", "$T").files = src

	b.m("test_010_diff")
	b.t("-w", h, "--diff", "echo", "ok")
	b.t("-w", duo, "--diff", "echo", "ok")
	b.m("test_012_diff_null")
	b.t("-R", "exec", "-w", duo, "--diff", `echo %h | egrep -q "^localhost$" || echo ok`)

	b.m("test_013_stdin")
	b.in("ok", "-w", h, "sleep 1 && cat")
	b.in("ok\nok", "-w", h, "cat")
	b.in(gzipFooBar, "-w", h, "gzip -d")

	b.m("test_015_stderr")
	b.t("-w", h, "echo err 1>&2")
	b.t("-b", "-w", h, "-q", "echo err 1>&2")
	b.t("-B", "-w", h, "-q", "echo err 1>&2")

	b.m("test_017_retcodes")
	b.t("-w", h, "/bin/false")
	b.t("-w", h, "-b", "/bin/false")
	b.t("-S", "-w", h, "/bin/false")
	b.t("--maxrc", "-w", h, "/bin/false")
	b.t("-O", "maxrc=yes", "-w", h, "/bin/false")
	b.t("--maxrc", "-O", "maxrc=no", "-w", h, "/bin/false")
	b.t("-O", "maxrc=no", "--maxrc", "-w", h, "/bin/false")
	for _, rc := range []string{"1", "2", "127", "128", "255"} {
		b.t("-S", "-w", h, "exit "+rc)
	}
	b.t("-v", "-w", h, "/bin/false")
	b.t("-w", duo, "-b", "/bin/false")
	b.t("-w", duo, "-b", "-q", "/bin/false")
	b.t("-w", duo, "-S", "-b", "/bin/false")
	b.t("-w", duo, "-S", "-b", "-q", "/bin/false")

	b.m("test_019_timeout")
	b.t("-w", h, "-u", "1", "sleep 3")
	b.t("-w", h, "-u", "1", "-b", "sleep 3")

	b.m("test_025_worker")
	b.t("-w", h, "--worker=ssh", "echo ok")
	b.t("-w", h, "-R", "ssh", "echo ok")

	glob := map[string]string{h: ""}
	b.m("test_027_warn_shell_globbing_nodes")
	b.t("-w", h, "echo", "ok").files = glob
	b.m("test_028_warn_shell_globbing_exclude")
	c := b.t("-S", "-w", "badhost,"+h, "-x", h, "echo", "ok")
	c.files, c.extra = glob, regexp.MustCompile(`^csub: badhost: connect failure`)

	hosts := map[string]string{"hf": h, "hf2": h}
	b.m("test_029_hostfile")
	b.t("--hostfile", "$T/hf", "echo", "ok").files = hosts
	b.t("--hostfile", "$T/hf", "--hostfile", "$T/hf2", "echo", "ok").files = hosts
	b.t("--hostfile", "/I/do/NOT/exist", "echo", "ok")

	b.m("test_030_config_options")
	b.t("--option", "color=never", "-w", h, "echo", "ok")
	b.t("--option", "color=always", "-w", h, "echo", "ok")
	b.t("--option=color=never", "-w", h, "echo", "ok")
	b.t("--option=color=always", "-w", h, "echo", "ok")
	b.t("-O", "fd_max=220", "--option", "color=never", "-w", h, "echo", "ok")
	b.t("-O", "fd_max=220", "--option", "color=always", "-w", h, "echo", "ok")
	b.t("--option", "color=never", "-O", "fd_max=220", "-w", h, "echo", "ok")
	b.t("--option", "color=always", "-O", "fd_max=220", "-w", h, "echo", "ok")
	b.t("--option", "color=never", "-O", "fd_max=220", "-O", "color=always", "-w", h, "echo", "ok")
	b.t("--option", "color=always", "-O", "fd_max=220", "-O", "color=never", "-w", h, "echo", "ok")

	b.m("test_031_progress")
	b.t("-w", h, "--progress", "sleep", "2")
	b.t("-w", h, "-b", "--progress", "sleep", "2")
	b.t("-w", h, "--progress", "-q", "sleep", "2")
	b.t("-w", h, "-b", "--progress", "-q", "sleep", "2")
	b.in(strings.Repeat("A", 16), "-w", h, "-b", "--progress", "-q", "sleep", "2")
	b.t("-w", h, "--progress", "echo foo >&2; echo bar; sleep 2")

	b.m("test_032_worker_pdsh")
	b.t("-w", h, "--worker=pdsh", "--nostdin", "echo ok")

	b.m("test_034_pick")
	both := map[string]string{"localhost": h}
	b.t("-w", duo, "--pick", "1", "echo foo").rename = both
	b.t("-w", duo, "--pick", "2", "echo foo")

	b.m("test_035_sorted_line_mode")
	b.t("-w", h, "-L", "echo", "ok")
	b.t("-w", "cs[01-03]", "--worker=exec", "-L", evenOdd)
	b.m("test_036_sorted_gather")
	b.t("-w", "cs[01-03]", "--worker=exec", "-b", evenOdd)
	b.t("-w", "cs[01-04]", "--worker=exec", "-b", evenOdd2)

	b.m("test_037_nostdin")
	b.in("dummy", "-n", "-w", h, "cat")
	b.in("dummy", "--nostdin", "-w", h, "cat")

	b.m("test_039_conf_option")
	b.in("", "-b", "-R", "exec", "-w", "foo[1-10]", "echo ok")
	b.in("", "--conf", "$T/custom.conf", "-b", "-R", "exec", "-w", "foo[1-10]", "echo ok").files =
		map[string]string{"custom.conf": "\n[Main]\nnode_count: no\n"}

	b.m("test_040_stdin_eof")
	b.t("-w", h, "cat")
	b.t("-w", h, "--nostdin", "cat")

	dirs := map[string]string{"od/": "", "ed/": ""}
	b.m("test_041_outdir_errdir")
	b.t("-w", h, "--outdir", "$T/od", "echo", "ok").files = dirs
	b.t("-w", h, "--errdir", "$T/ed", "echo", "ok", ">&2").files = dirs
	b.t("-w", h, "--outdir", "$T/od", "--errdir", "$T/ed", "echo", "ok", ";", "echo", "err", ">&2").files = dirs

	b.m("test_042_command_prefix")
	b.t("-O", "command_prefix=echo", "-w", h, "foobar")
	b.t("-O", "command_prefix=echo", "--nostdin", "-w", h, "foobar")

	b.method = "CLIClushTest_C_GroupsConf.test_200_groupsconf_option"
	b.t("-R", "exec", "-w", "@foo", "-bL", "echo ok")
	b.t("--groupsconf", "$CONF/custom-groups.conf", "-R", "exec", "-w", "@foo", "-bL", "echo ok")

	b.method = "CLIClushTest_D_StdinFIFO.test_300_fifo_stdin"
	b.t("-w", h, "-v", "cat").fifo = true
	b.method = "CLIClushTest_D_StdinFIFO.test_301_fifo_stdin"
	b.t("-w", h, "-v", "echo ok").fifo = true
	return b.cases
}

// issue10ClushCases are the upstream cases that failed before issue 10
// (the branch that fixed each is in the commit history).
func issue10ClushCases() []upstreamClushCase {
	b := &clushBuilder{}

	b.m("test_008_file_copy")
	// Issue 10 item 1: a copy onto its own path emptied the file (over
	// the native ssh driver's SFTP).
	b.t("-w", h, "-c", "$T/f").files = map[string]string{"f": copyContent}

	b.m("test_021_file_copy_timeout")
	// A 10 ms command timeout that expires during the ssh connection is
	// the timeout alone, without OpenSSH's "Connection timed out" line.
	c := b.t("-w", h, "-u", "0.01", "-c", "$T/f")
	c.files, c.noFiles = map[string]string{"f": copyContent}, true

	b.m("test_025_worker")
	// Issue 10 item 5: the workers' debug lines (EXECCLIENT, node output).
	b.t("-w", h, "--worker=exec", "-d", "echo ok")
	b.t("-w", h, "-R", "exec", "-d", "echo ok")

	b.m("test_026_keyboard_interrupt")
	// Issue 10 item 5: "Keyboard interrupt." on SIGINT without a terminal.
	b.t("-w", h, "--worker=exec", "-q", "--nostdin", "-b", "echo start; sleep 10").interrupt = true

	b.m("test_031_progress")
	// Issue 10 item 5: the counter on short runs and the stdin write
	// rate; item 3: stdin streamed as it comes.
	b.t("-w", h, "--progress", "echo", "ok")
	b.in(strings.Repeat("A", 8), "-w", h, "--progress", "sleep", "2")
	b.in(strings.Repeat("A", 14), "-w", duo, "--progress", "sleep", "2")
	b.in(strings.Repeat("A", 16), "-w", h, "-b", "--progress", "sleep", "2")

	b.m("test_032_worker_pdsh")
	// Issue 10 item 3: -R pdsh refuses standard input.
	b.in("bar", "-w", h, "-R", "pdsh", "cat")

	b.m("test_038_rlimits")
	// -O fd_max sets the open files limit (issue 10 item 5). Past it,
	// clush aborts the whole run ("ERROR: [Errno 24] Too many open
	// files", status 1); csub runs every node it can and ends the others
	// in state error with the reason, status 255 (docs/csub.md).
	for _, fdMax := range []string{"fd_max=100", "fd_max=101"} {
		b.t("-N", "-R", "exec", "-w", "foo[1-1000]", "-b", "-f", "1000", "-O", fdMax, "echo ok").intended = fdExhausted
	}
	return b.cases
}

// fdExhaustedLine is csub's line for nodes that could not start for want
// of file descriptors (Go's fork/exec reports some as EBADF then).
var fdExhaustedLine = regexp.MustCompile(`^csub: foo[][0-9,-]*: error: local error: .*(too many open files|bad file descriptor)$`)

// fdExhausted checks csub's run of test_038: ok from the nodes that ran,
// the others named with their reason, exit status 255.
func fdExhausted(got csubDiffRun) error {
	if got.status != 255 {
		return fmt.Errorf("exit status %d, want 255 (nodes in state error)", got.status)
	}
	if strings.Trim(strings.ReplaceAll(got.stdout, "ok\n", ""), "\n") != "" {
		return errors.New("stdout holds more than the nodes' ok")
	}
	lines := strings.Split(strings.TrimSuffix(got.stderr, "\n"), "\n")
	for _, l := range lines {
		if !fdExhaustedLine.MatchString(l) {
			return fmt.Errorf("stderr line %q is not a node failing for want of file descriptors", l)
		}
	}
	return nil
}
