package cliconf

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"syscall"

	"github.com/fleetsh/fleetsh/internal/sdnotify"
	"github.com/fleetsh/fleetsh/pkg/fleet/daemon"
)

// systemd tells the service manager that started the daemon (a
// Type=notify unit, deploy/systemd) how it goes: READY=1 once it serves,
// STATUS= lines, STOPPING=1 when it begins to stop, and WATCHDOG=1 while
// its loops are alive. Outside systemd (no $NOTIFY_SOCKET) it does
// nothing.
type systemd struct {
	n        *sdnotify.Notifier
	log      *slog.Logger
	ctx      context.Context // ends at close
	end      func()
	stopDog  func() // ends the current watchdog goroutine
	dogDone  chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// newSystemd reads $NOTIFY_SOCKET and $WATCHDOG_USEC, and pings the
// watchdog at once, without condition, until ready: the start is bounded
// by the unit's TimeoutStartSec=, not by the watchdog. A malformed
// environment is logged and ignored: the daemon still runs, and systemd
// reports the missing READY=1.
func newSystemd(log *slog.Logger) *systemd {
	n, err := sdnotify.FromEnv()
	if err != nil {
		log.Warn("systemd notification disabled", "err", err)
	}
	s := &systemd{n: n, log: log, stopDog: func() {}}
	s.ctx, s.end = context.WithCancel(context.Background())
	s.watch(func(context.Context) error { return nil })
	return s
}

// watch (re)starts the watchdog pings, each after alive returns nil.
func (s *systemd) watch(alive func(context.Context) error) {
	s.stopDog()
	if s.dogDone != nil {
		<-s.dogDone
	}
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan struct{})
	s.stopDog, s.dogDone = cancel, done
	go func() {
		defer close(done)
		s.n.Watchdog(ctx, alive, func(err error) { s.log.Warn("systemd watchdog not pinged", "err", err) })
	}()
}

// send sends lines, logging a failure.
func (s *systemd) send(lines ...string) {
	if err := s.n.Send(lines...); err != nil {
		s.log.Warn("systemd notification", "err", err)
	}
}

// ready says the daemon serves, and from now on pings the watchdog only
// once every part's loop answers (daemon.Fleet.Alive). The coordinator
// is ready once its NATS server or connection is up, it listens on its
// subjects and its local agent registered (daemon.Start). The agent is
// ready once it runs and says Hello: it does not wait for a coordinator,
// which may start later or elsewhere (an agent retries its Hello as
// long as it runs); its STATUS= then says when one welcomed it.
func (s *systemd) ready(f *daemon.Fleet, cfg daemon.Config) {
	if s.n == nil {
		return
	}
	// The watchdog asks the loops first: a ping after READY=1 is theirs.
	s.watch(f.Alive)
	nats := cfg.NATS
	if a := f.Addr(); a != "" {
		nats = a
	}
	if cfg.Coordinator != nil {
		if nats == "" {
			nats = "in process only"
		}
		s.send(sdnotify.Ready, sdnotify.Status("coordinator serving, NATS "+nats))
	} else {
		who := "agent " + cfg.Agent.Name
		s.send(sdnotify.Ready, sdnotify.Status(who+": waiting for a coordinator to welcome it on "+nats))
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			select {
			case <-f.Registered():
				s.send(sdnotify.Status(who + ": registered with a coordinator on " + nats))
			case <-s.ctx.Done():
			}
		}()
	}
}

// signals returns the channel the daemon reads its signals from: sigs,
// with STOPPING=1 sent before a stopping signal (not SIGHUP) is passed on.
func (s *systemd) signals(sigs <-chan os.Signal) <-chan os.Signal {
	if s.n == nil {
		return sigs
	}
	out := make(chan os.Signal, cap(sigs))
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			var sig os.Signal
			select {
			case sig = <-sigs:
			case <-s.ctx.Done():
				return
			}
			if sig != syscall.SIGHUP {
				s.stopping(sig.String())
			}
			select {
			case out <- sig:
			case <-s.ctx.Done():
				return
			}
		}
	}()
	return out
}

// stopping sends STOPPING=1 once, saying why.
func (s *systemd) stopping(why string) {
	s.stopOnce.Do(func() { s.send(sdnotify.Stopping, sdnotify.Status("stopping: "+why)) })
}

// close says STOPPING=1 (if no signal did) and ends the watchdog and
// the other goroutines.
func (s *systemd) close(why string) {
	s.stopping(why)
	s.end()
	<-s.dogDone
	s.wg.Wait()
}
