package engine

// RemoteStop is what a driver knows of a command it stopped at a command
// timeout or an abort, when the command ran somewhere the context's
// cancellation does not reach by itself (a remote node). A driver returns
// it in the Result's error chain; the engine keeps it as the Err of the
// node's ReasonCommandTimeout NodeError, so that the node's failure says
// whether the command is gone from the node or may still run there.
type RemoteStop struct {
	// Gone is set when the driver confirmed that none of the command's
	// processes runs on the node any more.
	Gone bool
	// Killed is set when it had to kill processes to get there (with
	// Gone); a command that had ended already is Gone without Killed.
	Killed bool
	// Detail says what was killed, or why the command may still run.
	Detail string
}

func (s *RemoteStop) Error() string {
	switch {
	case s.Gone && s.Killed:
		return "killed on the node (" + s.Detail + ")"
	case s.Gone:
		return "no longer running on the node (" + s.Detail + ")"
	}
	return "may still run on the node: " + s.Detail
}
