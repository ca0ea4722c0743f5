// Package client is the submitter side of the fleet protocol, what csub
// (and any Go program) uses to run a job on a fleet: submit a JobSpec to
// the coordinator, then read the job's merged output stream in order.
//
//	c := &client.Client{Conn: nc, User: "alice"}
//	job, err := c.Submit(ctx, protocol.JobSpec{Nodes: "node[1-4]", Command: "uname -r"})
//	for {
//		b, err := job.Next(ctx)
//		if err == io.EOF {
//			break // every node has its final state
//		}
//		...       // b.Events: node indexes into job.Nodes()
//	}
//
// A job submitted with JobSpec.Stdin reads its standard input from
// Job.SendStdin, which streams a reader to every node as it comes.
//
// The output stream is numbered batches over core NATS (at most once), so
// the client does the receiver's share of the protocol: it subscribes
// before it submits (no batch can be published before anyone listens),
// delivers batches in sequence order, drops duplicates, asks for a
// retransmit when it sees a gap and acks cumulatively, which is what lets
// the coordinator send more than its window. When the stream is silent it
// asks the coordinator's job registry whether the job still exists and
// whether its stream is still sent, so a lost final batch is asked for
// again, a stream the coordinator dropped (it restarted, or this reader
// stopped acking) is attached again from the records already read, and a
// coordinator gone for longer than Client.Reconnect ends the stream with
// the nodes it leaves unaccounted for, instead of being waited on
// forever (resume.go). Anything else on the output subject (another type or version,
// a malformed batch, another job's, indexes past the job's nodes) is
// dropped and counted (Job.Dropped), never an error: the true batches
// still make the job's output.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Client submits jobs to the coordinator of one fleet. Its methods may be
// called from several goroutines.
type Client struct {
	// Conn is the NATS connection the fleet's coordinator listens on.
	Conn *nats.Conn
	// Subjects names the fleet's subjects (its prefix).
	Subjects protocol.Subjects
	// User is the submitter's user id (a protocol.ValidID token; ""
	// means DefaultUser). It is a token of the subjects the client
	// publishes on, and on a fleet with credentials the NATS server lets
	// only the holder of that user's credential publish there: the
	// coordinator takes it as the owner of the jobs it submits, whatever
	// a JobSpec's User says.
	User string
	// Fleet names the fleet in error messages (a URL without its
	// password); "" names it by the connection: its server's URL, or
	// "the in-process fleet" for an in-process connection.
	Fleet string
	// MaxNodes is the most nodes Submit and Attach expand for a job
	// (default protocol.DefaultMaxJobNodes): a larger set is refused
	// before it costs memory.
	MaxNodes int
	// StallTimeout is how long a job's output stream may stay silent
	// before Next asks the coordinator about the job (default 5 s).
	StallTimeout time.Duration
	// Reconnect is how long Next keeps trying to get a job's output
	// stream back while the coordinator is unreachable or does not know
	// the job (a restart in progress), with capped backoff, before it
	// gives up with an *IncompleteError. 0 means DefaultReconnect; a
	// negative value gives up at once.
	Reconnect time.Duration
	// RequestTimeout bounds each control request (default 10 s): a
	// request to the job registry (list, status, cancel, attach) always,
	// whatever its context's deadline, and a submit when its context has
	// none. The coordinator answers them at once, so a longer wait only
	// means it is gone, or died holding the request.
	RequestTimeout time.Duration
	// Logger gets the warnings of a job's output stream (a message
	// dropped there); nil is slog.Default().
	Logger *slog.Logger
}

func (c *Client) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.Default()
	}
	return c.Logger
}

func (c *Client) stallTimeout() time.Duration {
	if c.StallTimeout <= 0 {
		return 5 * time.Second
	}
	return c.StallTimeout
}

// DefaultRequestTimeout is a Client's RequestTimeout when it has none.
const DefaultRequestTimeout = 10 * time.Second

func (c *Client) requestTimeout() time.Duration {
	if c.RequestTimeout <= 0 {
		return DefaultRequestTimeout
	}
	return c.RequestTimeout
}

// outputPendingBytes is how much output NATS may buffer for the job's
// subscription before it drops messages: far above what the coordinator's
// window allows (DefaultWindow batches of at most MaxPayload), so a drop
// only happens to a stream that does not follow the protocol.
const outputPendingBytes = 256 << 20

// UnreachableError reports that no coordinator answered on the fleet's
// subjects: none runs, it listens under another subject prefix, or csub
// talks to the wrong NATS.
type UnreachableError struct {
	URL     string // the fleet's NATS server(s) ("" in process)
	Subject string // the subject nobody answered on
	Err     error
}

func (e *UnreachableError) Error() string {
	if e.URL == inProcess {
		return fmt.Sprintf("the coordinator of the in-process fleet is unreachable (nobody answers on %s: %v): it stopped or is overloaded",
			e.Subject, e.Err)
	}
	return fmt.Sprintf("the fleet coordinator at %s is unreachable (nobody answers on %s: %v): check --fleet (FLEETSH_FLEET) and --prefix (FLEETSH_PREFIX), or start the coordinator",
		e.URL, e.Subject, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// RefusedError is a job the coordinator would not take.
type RefusedError struct {
	Job    string
	Reason string             // the coordinator's SubmitReply.Error
	Code   protocol.ErrorCode // and its code
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("job %s refused by the coordinator: %s", e.Job, e.Reason)
}

// ErrUnknownJob is matched (errors.Is) by the errors about a job the
// coordinator does not know (never submitted, or forgotten after a
// restart): the coordinator says so with protocol.CodeUnknownJob.
var ErrUnknownJob = errors.New("unknown job")

// CoordinatorError is an error the coordinator replied with.
type CoordinatorError struct {
	Code    protocol.ErrorCode
	Message string
}

func (e *CoordinatorError) Error() string { return e.Message }

// Is matches ErrUnknownJob by the error's code.
func (e *CoordinatorError) Is(target error) bool {
	return target == ErrUnknownJob && e.Code == protocol.CodeUnknownJob
}

// replyError is the error a registry reply carries, nil if none.
func replyError(r *protocol.JobsReply) error {
	if r.Error == "" {
		return nil
	}
	return &CoordinatorError{Code: r.Code, Message: r.Error}
}

// inProcess is UnreachableError.URL for the in-process fleet.
const inProcess = ""

// url names the fleet for error messages: Fleet, else the server the
// connection uses, inProcess for an in-process connection
// (nats.InProcessServer), which runs over a net.Pipe and reports a
// made-up default URL. A connection that is down has no URL: it is
// named by the servers it was given.
func (c *Client) url() string {
	switch {
	case c.Fleet != "":
		return c.Fleet
	case c.Conn == nil || c.Conn.ConnectedAddr() == "pipe":
		return inProcess
	}
	if u := c.Conn.ConnectedUrlRedacted(); u != "" {
		return u
	}
	if servers := c.Conn.Servers(); len(servers) > 0 {
		return strings.Join(servers, ",")
	}
	return "an unknown NATS server (connection down)"
}

// checkCount refuses a set over MaxNodes before it is expanded.
func (c *Client) checkCount(set *nodeset.NodeSet) error {
	limit := c.MaxNodes
	if limit <= 0 {
		limit = protocol.DefaultMaxJobNodes
	}
	if n := set.Len(); n > limit {
		return &protocol.TooManyNodesError{Nodes: n, Limit: limit, Who: "the client"}
	}
	return nil
}

// request sends a control-plane request and maps "nobody listens" to an
// *UnreachableError.
func (c *Client) request(ctx context.Context, subject, typ string, req, reply any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.requestTimeout())
		defer cancel()
	}
	err := wire.Request(ctx, c.Conn, subject, typ, req, reply)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, wire.ErrNoCoordinator):
		return &UnreachableError{URL: c.url(), Subject: subject, Err: wire.ErrNoCoordinator}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		if last := c.Conn.LastError(); errors.Is(last, nats.ErrPermissionViolation) && strings.Contains(last.Error(), `"`+subject+`"`) {
			// The server dropped the request: the credential may not use
			// this subject (another user's id).
			return fmt.Errorf("the fleet at %s refused the request on %s (is %q the user id of your credential?): %w",
				c.url(), subject, c.User, last)
		}
		// Somebody subscribed but nobody answered in time: as good as gone.
		return &UnreachableError{URL: c.url(), Subject: subject, Err: errors.New("no answer in time")}
	}
	return err
}

// jobsRequest sends req to the coordinator's job registry, bounded by
// RequestTimeout however long ctx lasts. NATS may hand a request to a
// coordinator that died before the server saw its connection close
// (queue members are picked at random, remote ones as readily as local
// ones), and that request is never answered: the caller asks again and
// reaches the coordinator that took over, instead of waiting out its own
// context on a lost request.
func (c *Client) jobsRequest(ctx context.Context, req protocol.JobsRequest, reply *protocol.JobsReply) error {
	ctx, cancel := context.WithTimeout(ctx, c.requestTimeout())
	defer cancel()
	return c.request(ctx, c.Subjects.Jobs(c.user()), protocol.TypeJobsRequest, req, reply)
}

// DefaultUser is the user id of a Client whose User is "".
const DefaultUser = "nobody"

// user returns the client's user id.
func (c *Client) user() string {
	if c.User == "" {
		return DefaultUser
	}
	return c.User
}

// checkUser refuses a user id that cannot be a subject token.
func (c *Client) checkUser() error {
	if err := protocol.ValidID(c.user()); err != nil {
		return fmt.Errorf("fleet user: %w", err)
	}
	return nil
}

// NewID returns a new job id: a time-ordered UUID (version 7, RFC 9562),
// so that ids sort by submission time in `csub jobs`, the registry and
// the audit log, and are what operators expect to grep for. It is a
// protocol.ValidID (36 hex digits and dashes).
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// Submit sends spec to the coordinator and returns the job, whose output
// is then read with Next. It fills spec.ID (random) and spec.User (from
// the client) when they are empty. spec.Nodes must be a node set without
// groups: the records of the output stream address nodes by their index
// in its expansion.
func (c *Client) Submit(ctx context.Context, spec protocol.JobSpec) (*Job, error) {
	if spec.ID == "" {
		spec.ID = NewID()
	}
	if err := protocol.ValidID(spec.ID); err != nil {
		return nil, fmt.Errorf("submit: job %w", err)
	}
	if err := c.checkUser(); err != nil {
		return nil, fmt.Errorf("submit job %s: %w", spec.ID, err)
	}
	// The coordinator sets it from the subject; set here so that the
	// returned Job says the same.
	spec.User = c.user()
	set, err := nodeset.Parse(spec.Nodes)
	if err != nil {
		return nil, fmt.Errorf("submit job %s: nodes: %w", spec.ID, err)
	}
	if set.Len() == 0 {
		return nil, fmt.Errorf("submit job %s: no node to run on", spec.ID)
	}
	if err := c.checkCount(set); err != nil {
		return nil, fmt.Errorf("submit job %s: %w", spec.ID, err)
	}
	// The coordinator refuses the same: say it before sending anything.
	if err := spec.CheckFields(); err != nil {
		return nil, fmt.Errorf("submit job %s: %w", spec.ID, err)
	}
	// The coordinator expands the same string the same way (NodeSet order),
	// so index i means the same node on both sides.
	nodes := set.Nodes()

	// Subscribe first: the coordinator may publish the first batch before
	// its reply to the submit reaches us. The subscription and the request
	// share the connection, so the server sees the SUB before the PUB.
	sub, err := c.Conn.SubscribeSync(c.Subjects.Output(c.user(), spec.ID))
	if err != nil {
		return nil, fmt.Errorf("submit job %s: subscribe to its output: %w", spec.ID, err)
	}
	if err := sub.SetPendingLimits(-1, outputPendingBytes); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("submit job %s: %w", spec.ID, err)
	}
	var reply protocol.SubmitReply
	send := spec
	err = c.sendNodeParts(ctx, &send)
	if err == nil {
		err = c.request(ctx, c.Subjects.Submit(c.user()), protocol.TypeJobSpec, send, &reply)
	}
	if err != nil {
		_ = sub.Unsubscribe()
		var ue *UnreachableError
		var re *RefusedError
		if errors.As(err, &ue) || errors.As(err, &re) {
			return nil, err
		}
		return nil, fmt.Errorf("submit job %s: %w", spec.ID, err)
	}
	if reply.Error != "" {
		_ = sub.Unsubscribe()
		return nil, &RefusedError{Job: spec.ID, Reason: reply.Error, Code: reply.Code}
	}
	if reply.Nodes != 0 && reply.Nodes != len(nodes) {
		// Output would be attributed to the wrong nodes: refuse to go on.
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("submit job %s: the coordinator counts %d nodes in %.64q, this client %d (different fleetsh releases?)",
			spec.ID, reply.Nodes, spec.Nodes, len(nodes))
	}
	return newJob(c, spec, set, nodes, sub), nil
}

// Jobs lists the jobs the coordinator knows.
func (c *Client) Jobs(ctx context.Context) ([]protocol.JobStatus, error) {
	reply, err := c.registry(ctx, protocol.JobsRequest{Kind: protocol.JobsList}, "list jobs")
	if err != nil {
		return nil, err
	}
	return reply.Jobs, nil
}

// registry sends req to the coordinator's job registry; what names the
// request in the error the reply carries.
func (c *Client) registry(ctx context.Context, req protocol.JobsRequest, what string) (*protocol.JobsReply, error) {
	var reply protocol.JobsReply
	if err := c.jobsRequest(ctx, req, &reply); err != nil {
		return nil, err
	}
	if err := replyError(&reply); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &reply, nil
}

// Agents lists the agents the coordinator knows, live or lost, by id
// (the policy's "agents" action: an admin's request).
func (c *Client) Agents(ctx context.Context) ([]protocol.AgentStatus, error) {
	reply, err := c.registry(ctx, protocol.JobsRequest{Kind: protocol.JobsAgents}, "list agents")
	if err != nil {
		return nil, err
	}
	return reply.Agents, nil
}

// Status returns the coordinator's account of job id.
func (c *Client) Status(ctx context.Context, id string) (*protocol.JobStatus, error) {
	return c.status(ctx, id, false, "")
}

// Brief is Status without the node sets (Nodes, Unfinished, States,
// Codes): what a check that only needs Done and the counts asks, which
// costs the coordinator nothing on a huge job.
func (c *Client) Brief(ctx context.Context, id string) (*protocol.JobStatus, error) {
	return c.status(ctx, id, true, "")
}

// status is Status; brief leaves the node sets out (see JobsRequest),
// and the reply says whether the coordinator serves stream.
func (c *Client) status(ctx context.Context, id string, brief bool, stream string) (*protocol.JobStatus, error) {
	req := protocol.JobsRequest{Kind: protocol.JobsStatus, Job: id, Brief: brief, Stream: stream}
	reply, err := c.registry(ctx, req, "status of job "+id)
	if err != nil {
		return nil, err
	}
	for i := range reply.Jobs {
		if reply.Jobs[i].ID == id {
			return &reply.Jobs[i], nil
		}
	}
	return nil, fmt.Errorf("status of job %s: %w to the coordinator", id, ErrUnknownJob)
}

// Cancel asks the coordinator to cancel job id: its nodes that have not
// ended end as cancelled, and its output stream ends as usual.
func (c *Client) Cancel(ctx context.Context, id string) error {
	_, err := c.registry(ctx, protocol.JobsRequest{Kind: protocol.JobsCancel, Job: id}, "cancel job "+id)
	return err
}

// Attach opens a new output stream of a running or finished job: what it
// printed so far (as much as the coordinator kept: every node's final
// state always), then what follows, read with Next like a submitted job.
// Cancel on the returned Job cancels the job itself.
func (c *Client) Attach(ctx context.Context, id string) (*Job, error) {
	stream := NewID()
	sub, st, err := c.attach(ctx, id, stream, 0)
	if err != nil {
		return nil, err
	}
	if st.Truncated {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("attach to job %s: its node set is too large for one message under the NATS server's max_payload", id)
	}
	set, err := nodeset.Parse(st.Nodes)
	if err == nil {
		err = c.checkCount(set)
	}
	if err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("attach to job %s: nodes %.64q: %w", id, st.Nodes, err)
	}
	spec := protocol.JobSpec{ID: st.ID, User: st.User, Nodes: st.Nodes, Command: st.Command, Copy: st.Copy}
	j := newJob(c, spec, set, set.Nodes(), sub)
	j.stream = stream
	return j, nil
}

// attach subscribes to a new output stream of job id and asks the
// coordinator to send it the job's records from index from on.
func (c *Client) attach(ctx context.Context, id, stream string, from uint64) (*nats.Subscription, *protocol.JobStatus, error) {
	sub, err := c.Conn.SubscribeSync(c.Subjects.Output(c.user(), stream))
	if err != nil {
		return nil, nil, fmt.Errorf("attach to job %s: subscribe: %w", id, err)
	}
	if err := sub.SetPendingLimits(-1, outputPendingBytes); err != nil {
		_ = sub.Unsubscribe()
		return nil, nil, fmt.Errorf("attach to job %s: %w", id, err)
	}
	var reply protocol.JobsReply
	if err := c.jobsRequest(ctx, protocol.JobsRequest{Kind: protocol.JobsAttach, Job: id, Stream: stream, From: from}, &reply); err != nil {
		_ = sub.Unsubscribe()
		return nil, nil, err
	}
	if err := replyError(&reply); err != nil || len(reply.Jobs) != 1 {
		_ = sub.Unsubscribe()
		if err == nil {
			err = fmt.Errorf("the coordinator's reply has %d jobs", len(reply.Jobs))
		}
		return nil, nil, fmt.Errorf("attach to job %s: %w", id, err)
	}
	return sub, &reply.Jobs[0], nil
}
