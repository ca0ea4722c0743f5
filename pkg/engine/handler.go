package engine

// EventHandler receives a worker's events, ClusterShell's EventHandler in
// Go. All methods are called on the task's loop goroutine, one at a time,
// so a handler needs no locking of its own state. Embed Handler to
// implement only the events you need.
type EventHandler interface {
	// OnStart is called once per worker, when its first job starts.
	OnStart(w *Worker)
	// OnPickup is called when the command starts on node (fanout
	// admitted it).
	OnPickup(w *Worker, node string)
	// OnRead is called for each line of output, without its line ending.
	// line is only valid during the call.
	OnRead(w *Worker, node string, stream Stream, line []byte)
	// OnWritten is called after n bytes of the worker's stdin went to
	// node.
	OnWritten(w *Worker, node string, stream Stream, n int)
	// OnHup is called when the command ends on node with exit status rc.
	// err is nil for a normal exit; otherwise a *NodeError names why the
	// node failed (rc is then 255 for connection failures, as OpenSSH
	// reports them).
	OnHup(w *Worker, node string, rc int, err error)
	// OnTimeout is called when node exceeded the command timeout; the
	// node gets no OnHup and no exit status.
	OnTimeout(w *Worker, node string)
	// OnClose is called once per worker when every node has finished or
	// timed out; timedout tells whether any node timed out.
	OnClose(w *Worker, timedout bool)
	// OnTimer is called when a timer fires.
	OnTimer(t *Timer)
}

// Handler is an EventHandler that does nothing: embed it and override the
// events you need.
type Handler struct{}

// OnStart does nothing.
func (Handler) OnStart(*Worker) {}

// OnPickup does nothing.
func (Handler) OnPickup(*Worker, string) {}

// OnRead does nothing.
func (Handler) OnRead(*Worker, string, Stream, []byte) {}

// OnWritten does nothing.
func (Handler) OnWritten(*Worker, string, Stream, int) {}

// OnHup does nothing.
func (Handler) OnHup(*Worker, string, int, error) {}

// OnTimeout does nothing.
func (Handler) OnTimeout(*Worker, string) {}

// OnClose does nothing.
func (Handler) OnClose(*Worker, bool) {}

// OnTimer does nothing.
func (Handler) OnTimer(*Timer) {}

var _ EventHandler = Handler{}
