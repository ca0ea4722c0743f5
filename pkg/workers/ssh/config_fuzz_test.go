package ssh

import (
	"strings"
	"testing"
)

// FuzzConfig: any ssh_config text parses or fails with an error, never a
// panic, and resolving a host with it as the only config file gives a
// target OpenSSH could connect to (a port in range, a lowercase host name)
// or an error. Configs with an Include line are not resolved: Include reads
// whatever files its pattern names on this machine.
func FuzzConfig(f *testing.F) {
	for _, seed := range []struct{ config, host string }{
		{firstValueWinsConfig, "node1"},
		{firstValueWinsConfig, "node2"},
		{matchConfig, "alias"},
		{matchConfig, "plain"},
		{"", "bare"},
		{"Host NODE1\n  Port 99\n", "NODE1"},
		{"Host *\n  User cfguser\n  Port 2222\n  ConnectTimeout 30\n  StrictHostKeyChecking yes\n", "n"},
		{"Match exec true\n  Port 1\nMatch all\n  Port 2\n", "x"},
		{"Match host\n", "x"},
		{"Port abc\n", "x"},
		{"Host x\n  User \"oops\n", "x"},
		{"IdentityFile ~/%z\n", "x"},
		{"HostName = x\nPort\t2222 # comment\nIdentityFile '/a b/c' \"d\"\nUser a#b\n", "x"},
		{`ProxyCommand ssh -W "%h:%p" gw # c` + "\nLocalCommand echo\\ \"hi\"\n", "x"},
		{"Host gw\n  ProxyJump j1,user@j2:2222\nHost *\n  IdentityAgent none\n  UserKnownHostsFile none\n", "gw"},
	} {
		f.Add(seed.config, seed.host)
	}
	f.Fuzz(func(t *testing.T, config, host string) {
		if host == "" || len(host) > 64 || strings.ContainsAny(host, " \t\r\n") {
			return
		}
		cf, err := parseConfig("fuzz", []byte(config))
		if err != nil {
			return
		}
		for _, l := range cf.lines {
			if l.kw == "" || l.kw != strings.ToLower(l.kw) {
				t.Fatalf("line %d: keyword %q", l.line, l.kw)
			}
			if l.kw == "include" {
				return
			}
		}
		tg, err := resolveWith(t, config, host, nil)
		if err != nil {
			return
		}
		if tg.Port < 1 || tg.Port > 65535 {
			t.Errorf("port %d", tg.Port)
		}
		if tg.HostName != strings.ToLower(tg.HostName) {
			t.Errorf("host name %q not lowercased", tg.HostName)
		}
	})
}
