package csub

// Subcommand describes one of csub's subcommands (jobs.go runs them):
// its help, which its man page (spec.go) repeats.
//
// The "status" helper of this release declares the same type and
// function in jobs.go, with its agents and status subcommands and
// `csub NAME --help`: merged, that declaration replaces this file.
type Subcommand struct {
	Name     string // the word that selects it: "jobs"
	Synopsis string // its command line
	Summary  string // what it does, in a sentence
	// Options are the options it reads beyond the fleet's (--fleet,
	// --fleet-creds, --fleet-ca, --prefix, --conf), each with its help.
	Options [][2]string
	// Exit says what its exit status means.
	Exit string
}

// Subcommands lists csub's subcommands, as subcommand (jobs.go) runs
// them.
func Subcommands() []Subcommand {
	return []Subcommand{
		{Name: "jobs", Synopsis: "csub [options] jobs [options]",
			Summary: "List the coordinator's jobs, oldest first: id, user, submitted, nodes, nodes done, status, command.",
			Options: [][2]string{{"--json", `one JSON object per job ("type":"job"), a line each`}},
			Exit:    "0 listed; 1 no fleet, or the coordinator did not answer; 2 usage error."},
		{Name: "attach", Synopsis: "csub [options] attach [options] JOB",
			Summary: "Replay what job JOB printed so far, then follow it to its end, rendered as if it had been submitted " +
				"with the output options given; Ctrl-C detaches and leaves the job running.",
			Options: [][2]string{{"-b, -B, -L, -N, -q, -S, -v, --json, --summary", "render the job as csub's output options do"},
				{"--fleet-reconnect DURATION", "how long to keep trying when the coordinator cannot be reached"}},
			Exit: "the job's, by csub's rules for a job it ran; 1 no fleet or no such job; 2 usage error; 130 detached."},
	}
}
