// Package engine runs commands and file copies on many nodes at once and
// gathers their results: ClusterShell's Task, Worker and EventHandler model
// in Go. It is what csub's agents run on every gateway, and what a Go
// program uses to drive a cluster directly, without a fleet.
//
// # The model
//
// A [Task] schedules workers and timers and runs them with [Task.Resume]
// (or [Task.Run], which schedules one command and resumes). A [Worker] is
// one command ([Task.Shell]) or copy ([Task.Copy], [Task.Rcopy]) on a node
// set (pkg/nodeset), or a local command under a key; [Options] give its
// nodes, handler, command timeout, fanout, driver and standard input. A
// [Driver] is the transport that runs one node's job: exec (local, "%h" is
// the node name), ssh (native, golang.org/x/crypto/ssh), openssh, rsh and
// pdsh live in pkg/workers and its subpackages; importing pkg/workers
// registers them by name for [Task.SetDefault] and [NewDriver].
//
// An [EventHandler] receives each worker's events: start, pickup (the
// command starts on a node), each line read, bytes written to stdin, hup
// (exit status, or a [NodeError] naming why the node failed: connection
// refused, authentication, host key...), timeout and close; [Handler] is an
// empty implementation to embed. [Timer] fires handlers on the same loop.
//
// Results are kept as ClusterShell keeps them: per node ([Task.NodeBuffer],
// [Task.NodeError], [Task.NodeRetcode]) and gathered, identical outputs
// stored once in a [MsgTree], iterated by distinct output with the folded
// node set that printed it ([Task.IterBuffers], [Task.IterErrors],
// [Task.IterRetcodes]), plus [Task.MaxRetcode], [Task.NumTimeout] and
// [Task.KeysTimeout]. They describe the last run and are cleared when
// Resume starts.
//
// # Concurrency
//
// While a task runs, one goroutine (its loop) delivers every event, so
// handlers run one at a time and need no locks for their own state. Driver
// I/O runs in goroutines of its own that post to the loop. Shell, Copy,
// Timer, Abort, SetInfo and the Worker control methods (Write, SetWriteEOF,
// Abort) are safe from any goroutine, handlers included; result getters
// are meant for handlers and for after the run. [Task.ResumeContext]
// stops the run when its context is cancelled. A Driver's Run is called
// from many goroutines at once and must be safe for concurrent use.
//
// # Limits
//
//   - Fanout (info key "fanout", default 64) bounds the jobs running at
//     once; a worker may have its own ([Options.Fanout]).
//   - connect_timeout (default 10 s) bounds connection set-up in the
//     drivers that connect; command_timeout (default none) or
//     [Options.Timeout] bounds each node's command, counted from its start.
//   - [Options.MaxOutput] bounds what each node may print, standard output
//     and error together: past it the rest is read and dropped (the command
//     runs on, its exit status kept) and an [OutputCutter] handler is told.
//     Under a cap a line is held whole up to the cap; without one a line
//     longer than 1 MiB is delivered in 1 MiB pieces, so a node that never
//     writes a newline is not held in memory whole.
//   - At most 8 MiB of output is in flight between the drivers and the
//     loop: a handler slower than the nodes slows their reading down
//     (backpressure) instead of growing memory.
//   - Gathered results grow with the distinct output, not with the number
//     of nodes: a million nodes that print the same line store it once.
//
// # ClusterShell equivalents
//
//	task_self(), Task()                 Default(), New()
//	task.shell(cmd, nodes=..., handler=...)  Task.Shell(cmd, Options{Nodes: ..., Handler: ...})
//	task.copy / task.rcopy              Task.Copy / Task.Rcopy
//	task.timer(fire, handler, interval) Task.Timer(fire, interval, handler, autoclose)
//	task.resume(timeout), task.run()    Task.Resume(timeout), Task.Run(cmd, opts)
//	task.abort(), task.join()           Task.Abort(), Task.Join()
//	task.set_info / set_default         Task.SetInfo / Task.SetDefault
//	task.iter_buffers(), node_buffer()  Task.IterBuffers(), Task.NodeBuffer()
//	task.max_retcode(), num_timeout()   Task.MaxRetcode(), Task.NumTimeout()
//	EventHandler.ev_read(worker, node, sname, msg)  EventHandler.OnRead(w, node, stream, line)
//	EventHandler.ev_hup(worker, node, rc)           EventHandler.OnHup(w, node, rc, err)
//	worker.write(), set_write_eof()     Worker.Write(), Worker.SetWriteEOF()
//
// Where Go allows more: control methods are safe from any goroutine,
// [context.Context] cancels a run, results iterate with iter.Seq2, and a
// node's failure reason is a typed error ([ReasonOf]) rather than exit
// status 255 alone.
package engine
