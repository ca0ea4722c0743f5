package protocol

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestFileRequestRoundTrip(t *testing.T) {
	ds := []Digest{SumDigest([]byte("a")), SumDigest([]byte("b")), SumDigest(nil)}
	r, err := DecodeFileRequest(TypeFilesHas, "job-1", "", EncodeDigests(ds))
	if err != nil || r.Job != "job-1" || !slices.Equal(r.Digests, ds) {
		t.Fatalf("has: %+v, %v", r, err)
	}
	data := []byte("chunk bytes")
	d := SumDigest(data)
	r, err = DecodeFileRequest(TypeFilesPut, "", d.String(), data)
	if err != nil || r.Digests[0] != d || !bytes.Equal(r.Data, data) {
		t.Fatalf("put: %+v, %v", r, err)
	}
	r, err = DecodeFileRequest(TypeFilesGet, "j", d.String(), nil)
	if err != nil || r.Digests[0] != d || r.Data != nil {
		t.Fatalf("get: %+v, %v", r, err)
	}
}

func TestFileRequestRefusals(t *testing.T) {
	d := SumDigest(nil).String()
	for _, c := range []struct {
		name, typ, job, digest string
		body                   []byte
	}{
		{"unknown type", "files-delete", "", d, nil},
		{"bad job", TypeFilesGet, "a.b", d, nil},
		{"no digest", TypeFilesGet, "", "", nil},
		{"short digest", TypeFilesPut, "", d[:10], nil},
		{"get with body", TypeFilesGet, "", d, []byte("x")},
		{"put too large", TypeFilesPut, "", d, make([]byte, MaxFileChunk+1)},
		{"has empty", TypeFilesHas, "", "", nil},
		{"has ragged", TypeFilesHas, "", "", make([]byte, 33)},
		{"has too many", TypeFilesHas, "", "", make([]byte, 32*(MaxHasDigests+1))},
		{"has with digest header", TypeFilesHas, "", d, make([]byte, 32)},
	} {
		_, err := DecodeFileRequest(c.typ, c.job, c.digest, c.body)
		if !errors.Is(err, ErrBadFileMessage) || CodeOf(err) != CodeBadRequest {
			t.Errorf("%s: %v (code %s), want a bad request", c.name, err, CodeOf(err))
		}
	}
}

func TestBitmap(t *testing.T) {
	for n := range 20 {
		has := make([]bool, n)
		for i := range has {
			has[i] = i%3 == 0 || i == n-1
		}
		got, err := DecodeBitmap(EncodeBitmap(has), n)
		if err != nil || !slices.Equal(got, has) {
			t.Fatalf("n=%d: %v, %v", n, got, err)
		}
	}
	if _, err := DecodeBitmap([]byte{0xff}, 3); err == nil {
		t.Error("bits past n accepted")
	}
	if _, err := DecodeBitmap([]byte{0, 0}, 3); err == nil {
		t.Error("a bitmap too long accepted")
	}
	if _, err := DecodeBitmap(make([]byte, 129), MaxHasDigests+1); err == nil {
		t.Error("a count over MaxHasDigests accepted")
	}
}

func TestFileReplyError(t *testing.T) {
	if FileReplyError("", "") != nil {
		t.Error("a reply without code is an error")
	}
	err := FileReplyError(string(CodeNotFound), strings.Repeat("x", 5000))
	if CodeOf(err) != CodeNotFound || len(err.Error()) > MaxFileError+32 {
		t.Errorf("%s: %d bytes", CodeOf(err), len(err.Error()))
	}
	if CodeOf(FileReplyError("", "why")) != CodeBadRequest {
		t.Error("a reason without code is not a bad request")
	}
}

// TestChunkSubjectsApart: no other subject of the fleet has the chunk
// stream's kind token, so the stream captures only chunks and users or
// agents allowed a subject of the fleet are never allowed a chunk's.
func TestChunkSubjectsApart(t *testing.T) {
	s := Subjects{Prefix: "p"}
	kind := func(subject string) string { return strings.Split(subject, ".")[1] }
	want := kind(s.Chunk(Digest{}))
	if kind(s.AllChunks()) != want {
		t.Fatalf("AllChunks %s", s.AllChunks())
	}
	v := reflect.ValueOf(s)
	checked := 0
	for i := range v.NumMethod() {
		m, name := v.Method(i), v.Type().Method(i).Name
		mt := m.Type()
		if name == "Chunk" || name == "AllChunks" || mt.NumOut() != 1 || mt.Out(0).Kind() != reflect.String {
			continue
		}
		args := make([]reflect.Value, mt.NumIn())
		ok := true
		for j := range args {
			if mt.In(j).Kind() != reflect.String {
				ok = false
				break
			}
			args[j] = reflect.ValueOf("id")
		}
		if !ok {
			continue
		}
		subject := m.Call(args)[0].String()
		if !strings.HasPrefix(subject, "p.") {
			continue // Sender and the like
		}
		checked++
		if kind(subject) == want {
			t.Errorf("%s() = %s: the chunk stream's kind token %q", name, subject, want)
		}
	}
	if checked < 20 {
		t.Errorf("only %d subjects checked", checked)
	}
}

func FuzzFileRequest(f *testing.F) {
	d := SumDigest(nil).String()
	f.Add(TypeFilesHas, "j", "", EncodeDigests([]Digest{{1}, {2}}))
	f.Add(TypeFilesPut, "", d, []byte("data"))
	f.Add(TypeFilesGet, "job", d, []byte(nil))
	f.Fuzz(func(t *testing.T, typ, job, digest string, body []byte) {
		r, err := DecodeFileRequest(typ, job, digest, body)
		if err != nil {
			if CodeOf(err) != CodeBadRequest {
				t.Fatalf("code %s", CodeOf(err))
			}
			return
		}
		if len(r.Digests) == 0 || len(r.Digests) > MaxHasDigests || len(r.Data) > MaxFileChunk {
			t.Fatalf("accepted %d digests, %d bytes", len(r.Digests), len(r.Data))
		}
		if typ == TypeFilesHas && !bytes.Equal(EncodeDigests(r.Digests), body) {
			t.Fatal("has digests do not round-trip")
		}
	})
}

func FuzzBitmap(f *testing.F) {
	f.Add([]byte{0x05}, 3)
	f.Add(make([]byte, 128), MaxHasDigests)
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		has, err := DecodeBitmap(body, n)
		if err != nil {
			return
		}
		if len(has) != n || !bytes.Equal(EncodeBitmap(has), body) {
			t.Fatalf("bitmap of %d does not round-trip", n)
		}
	})
}
