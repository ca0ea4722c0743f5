package protocol

import "encoding/binary"

// header is how every binary message (EventBatch, StdinChunk) begins: its
// magic byte, a flags byte, then the job, shard and attempt it belongs to.
type header struct {
	flags      byte
	job, shard string
	attempt    int
}

// appendHeader appends h, after the magic byte, to buf.
func appendHeader(buf []byte, magic byte, h header) []byte {
	buf = append(buf, magic, h.flags)
	buf = appendString(buf, h.job)
	buf = appendString(buf, h.shard)
	return binary.AppendUvarint(buf, uint64(h.attempt))
}

// header reads a header; ok is false, and nothing more is read, when the
// message does not start with magic.
func (d *decoder) header(magic byte) (h header, ok bool) {
	if d.byte() != magic {
		return header{}, false
	}
	h.flags = d.byte()
	h.job = d.string()
	h.shard = d.string()
	h.attempt = int(d.uvarint(1 << 30))
	return h, true
}
