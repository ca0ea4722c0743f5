package clispec

import (
	"bytes"
	"flag"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/optparse"
)

func TestFromFlagSet(t *testing.T) {
	fs := flag.NewFlagSet("d", flag.ContinueOnError)
	fs.String("config", "", "YAML `file` of settings")
	fs.String("prefix", "fleet", "subject prefix")
	fs.Bool("local", false, "serve local nodes")
	fs.Bool("local-agent", true, "run a local agent")
	fs.Duration("heartbeat", time.Second, "heartbeat interval")
	fs.Int("fanout", 0, "fanout")
	got := FromFlagSet(fs, map[string]string{"config": CompleteFile})
	want := []Option{
		{Flags: []string{"--config"}, Value: "file", Help: "YAML file of settings", Complete: CompleteFile},
		{Flags: []string{"--fanout"}, Value: "int", Help: "fanout"},
		{Flags: []string{"--heartbeat"}, Value: "duration", Help: "heartbeat interval (default 1s)"},
		{Flags: []string{"--local"}, Help: "serve local nodes"},
		{Flags: []string{"--local-agent"}, Help: "run a local agent (default true; --local-agent=false turns it off)"},
		{Flags: []string{"--prefix"}, Value: "string", Help: `subject prefix (default "fleet")`},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestFromOptparse(t *testing.T) {
	p := optparse.New(optparse.Config{Usage: "%prog [options]", Prog: "x", Stdout: io.Discard, Stderr: io.Discard})
	p.AddOption(optparse.Option{Flags: []string{"-s", "--source"}, Help: "source (default: %default)", Default: "a"})
	g := p.AddGroup("Output", "")
	g.AddOption(optparse.Option{Flags: []string{"--color"}, Choices: []string{"never", "always"}, Help: "colors"})
	g.AddOption(optparse.Option{Flags: []string{"-E"}, Help: optparse.SuppressHelp})
	got := FromOptparse(p, map[string]string{"-s": CompleteSources})
	want := []Group{
		{Options: []Option{
			{Flags: []string{"-h", "--help"}, Help: "show this help message and exit"},
			{Flags: []string{"-s", "--source"}, Value: "SOURCE", Help: "source (default: a)", Complete: CompleteSources},
		}},
		{Title: "Output", Options: []Option{{Flags: []string{"--color"}, Value: "COLOR", Help: "colors", Choices: []string{"never", "always"}}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestServe(t *testing.T) {
	spec := Spec{Name: "x", Summary: "does x", Synopsis: []string{"[options]"}}
	var out bytes.Buffer
	if Serve([]string{Flag, "more"}, &out, func() Spec { return spec }) || out.Len() > 0 {
		t.Fatal("served with another argument")
	}
	if !Serve([]string{Flag}, &out, func() Spec { return spec }) {
		t.Fatal("not served")
	}
	got, err := Decode(out.Bytes())
	if err != nil || !reflect.DeepEqual(got, spec) {
		t.Errorf("round trip: %+v, %v", got, err)
	}
}

// FuzzDecode checks Decode refuses what is not a Spec without panicking.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"Name":"x","Groups":[{"Title":"t","Options":[{"Flags":["-a"]}]}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Decode(data)
	})
}
