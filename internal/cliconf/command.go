package cliconf

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/fleetsh/fleetsh/internal/clispec"
	"github.com/fleetsh/fleetsh/pkg/fleet/daemon"
	"github.com/fleetsh/fleetsh/pkg/fleet/ops"
)

// Command is the command line of a fleet daemon (cmd/coordinator,
// cmd/agent): the daemon's own flags on FlagSet, and the ones every
// daemon has: --config (a YAML file of the other flags, see Apply),
// --log-level, --info, --cpu-profile, and --http with --http-insecure
// (the operator HTTP listener: metrics and health, pkg/fleet/ops).
type Command struct {
	// FlagSet is where the daemon defines its own flags before Parse.
	FlagSet *flag.FlagSet
	// Info holds the --info key=value pairs (nil when none).
	Info map[string]string
	// Mount, when set and --http listens, is called once the fleet has
	// started, to add handlers to the operator HTTP listener (the
	// coordinator's status page).
	Mount func(*ops.Server, *daemon.Fleet)
	// Spec describes the daemon for its man page: Parse prints it, with
	// the options of FlagSet, when the only argument is clispec.Flag.
	Spec clispec.Spec
	// Stdout receives that description (nil: os.Stdout).
	Stdout io.Writer
	// Complete maps a flag name to what completes its value (a
	// clispec.Complete* constant) in that description.
	Complete map[string]string

	name       string
	stderr     io.Writer
	config     string
	logLevel   string
	cpuProfile string
	http       string
	httpUnsafe bool
}

// NewCommand returns the command line of daemon name, which reports to
// stderr; infoUsage documents its --info flag.
func NewCommand(name string, stderr io.Writer, infoUsage string) *Command {
	c := &Command{name: name, stderr: stderr, FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs := c.FlagSet
	fs.SetOutput(stderr)
	fs.StringVar(&c.config, "config", "", "YAML `file` of settings named like these flags (the command line wins)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.StringVar(&c.cpuProfile, "cpu-profile", "", "write a CPU profile (go tool pprof) of the daemon's whole run to `file`, completed when it stops (SIGTERM, SIGINT)")
	fs.StringVar(&c.http, "http", "", "`host:port` of the operator HTTP listener: /metrics (Prometheus), /healthz, /readyz (\"\" = none; beyond loopback only with --http-insecure)")
	fs.BoolVar(&c.httpUnsafe, "http-insecure", false, "let --http name an address beyond loopback, without credentials (logged at every start)")
	fs.Func("info", infoUsage, func(v string) error {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return fmt.Errorf("want key=value, got %q", v)
		}
		if c.Info == nil {
			c.Info = map[string]string{}
		}
		c.Info[k] = val
		return nil
	})
	return c
}

// Parse parses args, then the --config file, and returns the daemon's
// logger. When the daemon must not go on it returns a nil logger and the
// exit status: 0 after -h, 2 after a bad setting (reported on stderr).
func (c *Command) Parse(args []string) (*slog.Logger, int) {
	fs := c.FlagSet
	if clispec.Serve(args, c.stdout(), c.spec) {
		return nil, 0
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2
	}
	if c.config != "" {
		if err := Apply(fs, c.config); err != nil {
			fmt.Fprintf(c.stderr, "%s: %v\n", c.name, err)
			return nil, 2
		}
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(c.stderr, "%s: unexpected arguments: %q\n", c.name, fs.Args())
		return nil, 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		fmt.Fprintf(c.stderr, "%s: --log-level: %v\n", c.name, err)
		return nil, 2
	}
	return slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level})), 0
}

func (c *Command) stdout() io.Writer {
	if c.Stdout == nil {
		return os.Stdout
	}
	return c.Stdout
}

// spec is Spec with the options of FlagSet (the common ones with
// the daemon's: package flag sorts them by name).
func (c *Command) spec() clispec.Spec {
	s := c.Spec
	s.Name = c.name
	complete := map[string]string{"config": clispec.CompleteFile, "cpu-profile": clispec.CompleteFile}
	for k, v := range c.Complete {
		complete[k] = v
	}
	s.Groups = append([]clispec.Group{{Options: clispec.FromFlagSet(c.FlagSet, complete)}}, s.Groups...)
	return s
}

// Main runs a daemon's command, run, on the process's arguments, stderr
// and signals (SIGTERM and SIGINT stop it, SIGHUP reopens the audit log:
// daemon.Fleet.Serve), and exits with its status.
func Main(run func(args []string, stderr io.Writer, sigs <-chan os.Signal) int) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	os.Exit(run(os.Args[1:], os.Stderr, sigs))
}

// Serve is the package's Serve, profiling the daemon's CPU into the
// --cpu-profile file when one was given: the profile covers the whole
// run and is complete once Serve returns (a daemon killed with SIGKILL
// leaves it truncated). A file that cannot be created is a bad setting
// (2).
func (c *Command) Serve(log *slog.Logger, cfg daemon.Config, sigs <-chan os.Signal, drain bool, timeout time.Duration) int {
	var started func(*daemon.Fleet)
	if c.http != "" {
		srv := ops.New(log)
		// Before the fleet starts: /healthz answers, and /readyz says
		// "starting", while the coordinator loads its store or the agent
		// waits for NATS.
		srv.Instrument(&cfg)
		if err := srv.Listen(c.http, c.httpUnsafe); err != nil {
			fmt.Fprintf(c.stderr, "%s: %v\n", c.name, err)
			if errors.Is(err, ops.ErrNotLoopback) || errors.Is(err, ops.ErrAddress) {
				return 2 // a bad setting
			}
			return 1
		}
		defer srv.Close()
		started = func(f *daemon.Fleet) {
			srv.Watch(f)
			if c.Mount != nil {
				c.Mount(srv, f)
			}
		}
	}
	if c.cpuProfile == "" {
		return serve(log, cfg, sigs, drain, timeout, started)
	}
	f, err := os.Create(c.cpuProfile)
	if err != nil {
		log.Error("cpu profile", "err", err)
		return 2
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Error("cpu profile", "err", err)
		_ = f.Close()
		return 2
	}
	code := serve(log, cfg, sigs, drain, timeout, started)
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		log.Error("cpu profile", "err", err)
		return max(code, 1)
	}
	log.Info("cpu profile written", "file", c.cpuProfile)
	return code
}

// Serve starts the fleet parts cfg names, logging to log, serves until a
// signal on sigs (daemon.Fleet.Serve: with drain, the agent drains for
// at most timeout) and returns the daemon's exit status: 2 for a setting the parts
// refused, 1 when they could not start, stopped by themselves or did not
// drain in time, else 0. Started by systemd (a Type=notify unit) it
// notifies READY=1 once the parts serve, STOPPING=1 at the stopping
// signal, and pings the watchdog while their loops are alive (notify.go).
func Serve(log *slog.Logger, cfg daemon.Config, sigs <-chan os.Signal, drain bool, timeout time.Duration) int {
	return serve(log, cfg, sigs, drain, timeout, nil)
}

// serve is Serve, calling started (when not nil) with the fleet once it
// has started.
func serve(log *slog.Logger, cfg daemon.Config, sigs <-chan os.Signal, drain bool, timeout time.Duration, started func(*daemon.Fleet)) int {
	cfg.Logger = log
	sd := newSystemd(log) // notify.go
	f, err := daemon.Start(context.Background(), cfg)
	if err != nil {
		sd.close("cannot start")
		log.Error("cannot start", "err", err)
		var ce *daemon.ConfigError
		if errors.As(err, &ce) {
			return 2
		}
		return 1
	}
	if started != nil {
		started(f)
	}
	sd.ready(f, cfg)
	err = f.Serve(sd.signals(sigs), drain, timeout)
	sd.close("stopped by itself")
	if err != nil {
		log.Error("stopped", "err", err)
		return 1
	}
	return 0
}
