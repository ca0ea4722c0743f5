package protocol

import "errors"

// ErrorCode says, for programs, what kind of error a reply carries; the
// reply's Error field says it for people. A reply with an Error has a
// Code; codes are stable on the wire (a JSON string), and a receiver
// that does not know a code treats it as a plain refusal.
type ErrorCode string

// Error codes.
const (
	// CodeBadRequest: the request is malformed or names something
	// invalid (an id, a node set, a request kind); sent again it fails
	// again.
	CodeBadRequest ErrorCode = "bad_request"
	// CodeVersion: the request's protocol version is not spoken here
	// (*VersionError).
	CodeVersion ErrorCode = "version"
	// CodeUnknownJob: no job of that id is in the coordinator's registry
	// (never submitted, forgotten after KeepJobs or a restart).
	CodeUnknownJob ErrorCode = "unknown_job"
	// CodeJobExists: a job of that id exists already.
	CodeJobExists ErrorCode = "job_exists"
	// CodeTooManyNodes: the job is over a node limit (*TooManyNodesError).
	CodeTooManyNodes ErrorCode = "too_many_nodes"
	// CodeUnknownShard: a shard summary for a shard attempt the
	// coordinator does not hold for that agent (or gave up on).
	CodeUnknownShard ErrorCode = "unknown_shard"
	// CodeBusy: a limit of the moment (an agent draining, too many parts
	// held): the same request may succeed later or elsewhere.
	CodeBusy ErrorCode = "busy"
	// CodeRefused: the request is well formed but this side will not
	// serve it (an agent outside the topology, a worker it does not
	// have).
	CodeRefused ErrorCode = "refused"
	// CodeDenied: the fleet's authorization policy does not allow the
	// request (pkg/fleet/policy); the Error is the one-line reason.
	CodeDenied ErrorCode = "denied"
)

// CodedError is an error with its wire code.
type CodedError struct {
	Code ErrorCode
	Err  error
}

func (e *CodedError) Error() string { return e.Err.Error() }
func (e *CodedError) Unwrap() error { return e.Err }

// CodeOf returns the code of err for a reply: a *CodedError's in its
// chain, CodeVersion for a *VersionError, CodeTooManyNodes for a
// *TooManyNodesError, else CodeBadRequest.
func CodeOf(err error) ErrorCode {
	var ce *CodedError
	var ve *VersionError
	var tm *TooManyNodesError
	switch {
	case errors.As(err, &ce):
		return ce.Code
	case errors.As(err, &ve):
		return CodeVersion
	case errors.As(err, &tm):
		return CodeTooManyNodes
	}
	return CodeBadRequest
}

// Failure returns the Error and Code fields of a reply that carries err.
func Failure(err error) (string, ErrorCode) { return err.Error(), CodeOf(err) }
