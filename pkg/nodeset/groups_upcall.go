package nodeset

import (
	"bytes"
	"fmt"
	"os/exec"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// upcallSource is ClusterShell's UpcallGroupSource: groups come from shell
// commands ("upcalls") whose output is cached for cacheTime seconds.
type upcallSource struct {
	name      string
	upcalls   map[string]string // "map", "all", "list", "reverse"; "" = none
	cfgdir    string            // $CFGDIR and the commands' working directory
	cacheTime float64
	env       *gcEnv

	// mapCache and revCache are keyed by group and node; misc holds the
	// single "list" and "all" results.
	mapCache, revCache, misc map[string]upcallResult
}

type upcallResult struct {
	out    string
	expiry float64 // Unix seconds, as time.time()
}

func (s *upcallSource) clearCache() {
	s.mapCache = map[string]upcallResult{}
	s.revCache = map[string]upcallResult{}
	s.misc = map[string]upcallResult{}
}

func (s *upcallSource) resolvMap(group string) (string, error) {
	return s.cached("map", s.mapCache, group, map[string]string{"GROUP": group})
}

func (s *upcallSource) resolvAll() (string, error) {
	return s.cached("all", s.misc, "all", map[string]string{})
}

func (s *upcallSource) resolvList() ([]string, error) {
	out, err := s.cached("list", s.misc, "list", map[string]string{})
	if err != nil {
		return nil, err
	}
	return []string{out}, nil
}

func (s *upcallSource) hasReverse() bool { return s.upcalls["reverse"] != "" }

func (s *upcallSource) resolvReverse(node string) (string, error) {
	return s.cached("reverse", s.revCache, node, map[string]string{"NODE": node})
}

// cached is UpcallGroupSource._upcall_cache: an entry is reused until its
// expiry, taken before the command ran; failures are not cached, so a
// failing command is retried on the next query.
func (s *upcallSource) cached(upcall string, cache map[string]upcallResult, key string, vars map[string]string) (string, error) {
	if s.upcalls[upcall] == "" {
		return "", &NoUpcallError{Source: s.name, Upcall: upcall}
	}
	now := s.env.seconds()
	if e, ok := cache[key]; ok {
		if !(e.expiry < now) {
			return e.out, nil
		}
		delete(cache, key)
	}
	expiry := now + s.cacheTime
	vars["CFGDIR"] = s.cfgdir
	vars["SOURCE"] = s.name
	out, err := s.run(upcall, vars)
	if err != nil {
		return "", err
	}
	cache[key] = upcallResult{out: out, expiry: expiry}
	return out, nil
}

// run is UpcallGroupSource._upcall_read: the command template is expanded
// (only the variables given; any other "$x" is left to the shell), run by
// /bin/sh in the source's config directory, and its stripped stdout
// returned. Its stderr goes to the Resolver's stderr. Stdin is /dev/null:
// ClusterShell 1.9 let upcalls inherit it, which 1.10 stopped because a
// command could swallow input meant for clush.
func (s *upcallSource) run(upcall string, vars map[string]string) (string, error) {
	cmdline := gcTemplate(s.upcalls[upcall], vars)
	if s.env.debug != nil {
		fmt.Fprintf(s.env.debug, "DEBUG:ClusterShell.NodeUtils:EXEC '%s'\n", cmdline)
	}
	cmd := exec.Command("/bin/sh", "-c", cmdline)
	cmd.Dir = s.cfgdir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = s.env.errWriter()
	if err := cmd.Run(); err != nil {
		return "", &QueryFailedError{Source: s.name, Command: cmdline, Err: err}
	}
	res := pyfmt.Strip(out.String())
	if s.env.debug != nil {
		fmt.Fprintf(s.env.debug, "DEBUG:ClusterShell.NodeUtils:READ '%s'\n", res)
	}
	return res, nil
}
