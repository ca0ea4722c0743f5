package protocol

import (
	"encoding"
	"testing"
)

// roundTrip encodes v with MarshalBinary and decodes the bytes into a new
// value with UnmarshalBinary, failing the test on either error. It returns
// the encoded bytes too, for tests that go on to corrupt them.
func roundTrip[T any, P interface {
	*T
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}](t testing.TB, v P) (T, []byte) {
	t.Helper()
	data, err := v.MarshalBinary()
	if err != nil {
		t.Fatalf("encode %+v: %v", v, err)
	}
	var got T
	if err := P(&got).UnmarshalBinary(data); err != nil {
		t.Fatalf("decode %x: %v", data, err)
	}
	return got, data
}
