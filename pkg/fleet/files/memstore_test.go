package files

import (
	"context"
	"errors"
	"testing"
)

func TestMemStore(t *testing.T) {
	ctx := context.Background()
	var s MemStore // the zero value is usable
	data := []byte("chunk")
	d := Sum(data)
	var me *MismatchError
	if err := s.Put(ctx, Sum([]byte("other")), data); !errors.As(err, &me) {
		t.Fatalf("put under another digest: %v", err)
	}
	if _, err := s.Get(ctx, d, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	for range 2 {
		if err := s.Put(ctx, d, data); err != nil {
			t.Fatal(err)
		}
	}
	has, err := s.Has(ctx, []Digest{d, {}})
	if err != nil || !has[0] || has[1] {
		t.Fatalf("has %v %v", has, err)
	}
	got, err := s.Get(ctx, d, make([]byte, 0, 64))
	if err != nil || string(got) != "chunk" {
		t.Fatalf("get %q %v", got, err)
	}
	if st := s.Stats(); st.Puts != 3 || st.Stored != 1 || st.Gets != 2 || st.Has != 2 || st.Chunks != 1 || st.Bytes != 5 {
		t.Fatalf("stats %+v", st)
	}
	s.Delete(d)
	if st := s.Stats(); st.Chunks != 0 || st.Bytes != 0 {
		t.Fatalf("after delete %+v", st)
	}
}
