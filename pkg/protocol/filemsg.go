package protocol

import (
	"errors"
	"fmt"
)

// File requests (pkg/fleet/files) move chunks between csub or an agent
// and the coordinator, which alone reaches the JetStream chunk stream:
//
//	csub  ── Files.<user> (files-has/put/get) ───────▶ coordinator   request/reply (files-reply)
//	agent ── AgentFiles.<agent> (files-has/put/get) ─▶ coordinator   request/reply (files-reply)
//
// A request is its type (HeaderType), the job it is for (HeaderJob, ""
// for the upload of a push before its job exists), the chunk
// (HeaderDigest, put and get) and a raw body: the digests asked about (a
// has: 32 bytes each, at most MaxHasDigests) or the chunk's bytes (a put:
// at most MaxFileChunk). The reply's body is raw too: a bitmap (a has),
// the chunk's bytes (a get), nothing (a put). A refusal is a reply with
// HeaderCode (an ErrorCode: CodeNotFound, CodeDenied, CodeBusy,
// CodeUnavailable, CodeBadRequest...) and HeaderError (the reason, for people) and no
// body. Chunk bytes are never base64 or JSON: they cross the bus as they
// are, once.

// Message types of file requests.
const (
	TypeFilesHas   = "files-has"
	TypeFilesPut   = "files-put"
	TypeFilesGet   = "files-get"
	TypeFilesReply = "files-reply"
)

// Headers of file requests and replies.
const (
	HeaderJob    = "Fleet-Job"
	HeaderDigest = "Fleet-Digest"
	HeaderCode   = "Fleet-Code"
	HeaderError  = "Fleet-Error"
)

// Error codes of file replies (with CodeDenied, CodeBusy: too many
// requests in flight, and CodeBadRequest).
const (
	// CodeNotFound: the store does not hold the chunk asked for.
	CodeNotFound ErrorCode = "not_found"
	// CodeUnavailable: the store did not answer (JetStream down or slow):
	// the same request may succeed a moment later.
	CodeUnavailable ErrorCode = "unavailable"
)

// Bounds of file requests: a decoder allocates no more whatever it is
// sent.
const (
	// MaxHasDigests bounds the digests of one has request (32 KiB).
	MaxHasDigests = 1024
	// MaxFileChunk is the most bytes of a chunk (files.ChunkSize).
	MaxFileChunk = 256 << 10
	// MaxFileError bounds the reason a refusal carries.
	MaxFileError = 1024
)

// Chunk is the subject of the chunk d in the coordinator's JetStream
// chunk stream. Only the coordinator publishes there (pkg/fleet/auth
// gives users and agents no such subject); no other subject of the
// fleet has "chunks" as its kind token.
func (s Subjects) Chunk(d Digest) string { return s.p() + ".chunks." + d.String() }

// AllChunks matches every chunk's subject.
func (s Subjects) AllChunks() string { return s.p() + ".chunks.*" }

// FileRequest is a decoded file request.
type FileRequest struct {
	Type    string   // TypeFilesHas, TypeFilesPut or TypeFilesGet
	Job     string   // "" or a ValidID
	Digests []Digest // a has: 1 to MaxHasDigests; a put or get: 1
	Data    []byte   // a put's chunk (aliases the body)
}

// ErrBadFileMessage is wrapped by the errors of the file message decoders.
var ErrBadFileMessage = errors.New("malformed file message")

// DecodeFileRequest decodes a request from its type, HeaderJob and
// HeaderDigest values and body. It allocates at most MaxHasDigests
// digests; a put's Data aliases body. Its errors are *CodedError of
// CodeBadRequest.
func DecodeFileRequest(typ, job, digest string, body []byte) (FileRequest, error) {
	bad := func(format string, args ...any) (FileRequest, error) {
		err := fmt.Errorf("%w: %s: "+format, append([]any{ErrBadFileMessage, Truncate(typ, 32)}, args...)...)
		return FileRequest{}, &CodedError{Code: CodeBadRequest, Err: err}
	}
	r := FileRequest{Type: typ, Job: job}
	if job != "" {
		if err := ValidID(job); err != nil {
			return bad("job: %v", err)
		}
	}
	switch typ {
	case TypeFilesHas:
		if digest != "" {
			return bad("unexpected %s header", HeaderDigest)
		}
		ds, err := DecodeDigests(body)
		if err != nil {
			return bad("%v", err)
		}
		if len(ds) == 0 {
			return bad("no digest")
		}
		r.Digests = ds
	case TypeFilesPut, TypeFilesGet:
		d, err := ParseDigest(digest)
		if err != nil {
			return bad("%s: %v", HeaderDigest, err)
		}
		r.Digests = []Digest{d}
		if typ == TypeFilesGet && len(body) != 0 {
			return bad("%d bytes of body", len(body))
		}
		if len(body) > MaxFileChunk {
			return bad("chunk of %d bytes, over %d", len(body), MaxFileChunk)
		}
		if typ == TypeFilesPut {
			r.Data = body
		}
	default:
		return bad("not a file request")
	}
	return r, nil
}

// EncodeDigests encodes the digests of a has request.
func EncodeDigests(ds []Digest) []byte {
	out := make([]byte, 0, len(ds)*len(Digest{}))
	for _, d := range ds {
		out = append(out, d[:]...)
	}
	return out
}

// DecodeDigests decodes a has request's body: at most MaxHasDigests.
func DecodeDigests(body []byte) ([]Digest, error) {
	const size = len(Digest{})
	if len(body)%size != 0 {
		return nil, fmt.Errorf("%w: %d bytes of digests, not a multiple of %d", ErrBadFileMessage, len(body), size)
	}
	n := len(body) / size
	if n > MaxHasDigests {
		return nil, fmt.Errorf("%w: %d digests, over %d", ErrBadFileMessage, n, MaxHasDigests)
	}
	ds := make([]Digest, n)
	for i := range ds {
		copy(ds[i][:], body[i*size:])
	}
	return ds, nil
}

// EncodeBitmap encodes a has reply: bit i (of byte i/8, least
// significant first) set when the store holds digest i.
func EncodeBitmap(has []bool) []byte {
	out := make([]byte, (len(has)+7)/8)
	for i, h := range has {
		if h {
			out[i/8] |= 1 << (i % 8)
		}
	}
	return out
}

// DecodeBitmap decodes the reply to a has of n digests (n at most
// MaxHasDigests): exactly (n+7)/8 bytes, no bit set past n.
func DecodeBitmap(body []byte, n int) ([]bool, error) {
	if n < 0 || n > MaxHasDigests {
		return nil, fmt.Errorf("%w: bitmap of %d digests", ErrBadFileMessage, n)
	}
	if len(body) != (n+7)/8 {
		return nil, fmt.Errorf("%w: bitmap of %d bytes for %d digests", ErrBadFileMessage, len(body), n)
	}
	has := make([]bool, n)
	for i := range has {
		has[i] = body[i/8]&(1<<(i%8)) != 0
	}
	if n%8 != 0 && body[len(body)-1]>>(n%8) != 0 {
		return nil, fmt.Errorf("%w: bits set past %d digests", ErrBadFileMessage, n)
	}
	return has, nil
}

// FileReplyError returns the refusal a reply carries (its HeaderCode and
// HeaderError values), or nil when it carries none: a *CodedError whose
// reason is cut to MaxFileError bytes.
func FileReplyError(code, reason string) error {
	if code == "" && reason == "" {
		return nil
	}
	if code == "" {
		code = string(CodeBadRequest)
	}
	if reason == "" {
		reason = "refused"
	}
	return &CodedError{Code: ErrorCode(Truncate(code, 64)), Err: errors.New(Truncate(reason, MaxFileError))}
}
