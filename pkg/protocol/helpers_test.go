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

// fuzzReencode fuzzes P's binary decoding: whatever UnmarshalBinary
// accepts encodes again, and that encoding decodes again, into a value
// that same (when not nil) finds equal to the first.
func fuzzReencode[T any, P interface {
	*T
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}](f *testing.F, same func(a, b P) bool) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var v T
		if P(&v).UnmarshalBinary(data) != nil {
			return
		}
		again, err := P(&v).MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", v, err)
		}
		var back T
		if err := P(&back).UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded %+v does not decode: %v", v, err)
		}
		if same != nil && !same(&v, &back) {
			t.Fatalf("round trip: %+v came back as %+v", v, back)
		}
	})
}
