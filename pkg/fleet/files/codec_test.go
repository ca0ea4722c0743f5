package files

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sample is a manifest with every type and field set.
func sample() *Manifest {
	t0 := time.Unix(1700000000, 123456789)
	return &Manifest{Entries: []Entry{
		{Path: "app", Type: TypeDir, Mode: 0o755 | fs.ModeSetgid, ModTime: t0, AccessTime: t0.Add(time.Second)},
		{Path: "app/empty", Type: TypeFile, Mode: 0o600, ModTime: t0, AccessTime: t0, Digest: Sum(nil)},
		{Path: "app/big", Type: TypeFile, Mode: 0o755 | fs.ModeSetuid, ModTime: t0, AccessTime: t0, Size: ChunkSize + 1,
			Digest: Sum([]byte("x")), Chunks: []Digest{Sum([]byte("a")), Sum([]byte("b"))}},
		{Path: "app/sub", Type: TypeDir, Mode: 0o777 | fs.ModeSticky, ModTime: time.Unix(-5, 0), AccessTime: time.Unix(0, 1)},
		{Path: "app/sub/link", Type: TypeSymlink, Mode: 0o777, ModTime: t0, AccessTime: t0, Target: "../big"},
	}}
}

func TestManifestRoundTrip(t *testing.T) {
	m := sample()
	enc := m.Encode()
	got, err := DecodeManifest(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("decoded %+v\nwant %+v", got, m)
	}
	if !bytes.Equal(got.Encode(), enc) {
		t.Fatal("encoding is not stable")
	}
}

// withEntry appends e to m and returns m's encoding.
func withEntry(m *Manifest, e Entry) []byte {
	m.Entries = append(m.Entries, e)
	return m.Encode()
}

func TestDecodeManifestRefuses(t *testing.T) {
	dir := func(p string) Entry { return Entry{Path: p, Type: TypeDir, Mode: 0o755} }
	file := func(p string) Entry { return Entry{Path: p, Type: TypeFile, Mode: 0o644, Digest: Sum(nil)} }
	root := func() *Manifest { return &Manifest{Entries: []Entry{dir("r")}} }
	bigFile := file("r/big")
	bigFile.Size = 2 * ChunkSize
	bigFile.Chunks = []Digest{{}}
	hugeFile := file("r/huge")
	hugeFile.Size = MaxFileSize + 1
	badMode := file("r/mode")
	badMode.Mode |= fs.ModeDevice
	encBadMode := withEntry(root(), badMode)
	// The device bit is dropped by Encode: write raw mode bits instead.
	encRawMode := append([]byte(nil), encBadMode...)
	modeAt := bytes.LastIndex(encRawMode, []byte("r/mode")) + len("r/mode") + 1
	encRawMode = append(append(append([]byte(nil), encRawMode[:modeAt]...), binary.AppendUvarint(nil, 0o10644)...), encRawMode[modeAt+2:]...)
	unknown := withEntry(root(), Entry{Path: "r/x", Type: 9})
	cases := map[string]struct {
		data []byte
		want string
	}{
		"empty":            {nil, "bad magic"},
		"magic":            {[]byte("NOPE\x01\x01"), "bad magic"},
		"version":          {[]byte("FSMF\x02\x01"), "version 2"},
		"no entries":       {[]byte("FSMF\x01\x00"), "0 entries"},
		"huge count":       {[]byte("FSMF\x01\xff\xff\xff\xff\x0f"), "entries for"},
		"absolute child":   {withEntry(root(), file("/r/x")), "absolute"},
		"absolute":         {(&Manifest{Entries: []Entry{dir("/r")}}).Encode(), "absolute"},
		"root slash":       {(&Manifest{Entries: []Entry{dir("a/b")}}).Encode(), "has a '/'"},
		"dotdot root":      {(&Manifest{Entries: []Entry{dir("..")}}).Encode(), "bad element"},
		"dot root":         {(&Manifest{Entries: []Entry{dir(".")}}).Encode(), "bad element"},
		"empty root":       {(&Manifest{Entries: []Entry{dir("")}}).Encode(), "bad element"},
		"dotdot":           {withEntry(root(), file("r/../x")), "its parent"},
		"dotdot last":      {withEntry(root(), dir("r/..")), "bad element"},
		"empty element":    {withEntry(root(), file("r//x")), "its parent"},
		"trailing slash":   {withEntry(root(), file("r/")), "bad element"},
		"dot element":      {withEntry(root(), file("r/./x")), "its parent"},
		"second root":      {withEntry(root(), file("x")), "second root"},
		"duplicate":        {(&Manifest{Entries: []Entry{dir("r"), dir("r/a"), file("r/a")}}).Encode(), "listed twice"},
		"child first":      {withEntry(root(), file("r/a/b")), "its parent"},
		"parent is a file": {(&Manifest{Entries: []Entry{dir("r"), file("r/f"), file("r/f/x")}}).Encode(), "its parent"},
		"parent is a link": {(&Manifest{Entries: []Entry{dir("r"), {Path: "r/l", Type: TypeSymlink, Target: "/"}, file("r/l/x")}}).Encode(), "its parent"},
		"nul":              {withEntry(root(), file("r/a\x00b")), "NUL"},
		"chunks":           {withEntry(root(), bigFile), "1 chunks for"},
		"too big":          {withEntry(root(), hugeFile), "over"},
		"unknown type":     {unknown, "unknown type"},
		"mode bits":        {encRawMode, "outside 07777"},
		"empty target":     {withEntry(root(), Entry{Path: "r/l", Type: TypeSymlink}), "target of 0 bytes"},
		"long path":        {withEntry(root(), file("r/"+strings.Repeat("x", maxPathLen))), "path of"},
		"trailing bytes":   {append(root().Encode(), 0), "after the last entry"},
		"truncated":        {withEntry(root(), bigFile)[:40], "offset 40"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeManifest(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

func FuzzDecodeManifest(f *testing.F) {
	f.Add(sample().Encode())
	f.Add((&Manifest{Entries: []Entry{{Path: "f", Type: TypeFile, Digest: Sum(nil)}}}).Encode())
	f.Add((&Manifest{Entries: []Entry{{Path: "l", Type: TypeSymlink, Target: "/etc/passwd"}}}).Encode())
	f.Add([]byte("FSMF\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeManifest(data)
		if err != nil {
			return
		}
		enc := m.Encode()
		m2, err := DecodeManifest(enc)
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("decode(encode(m)) != m:\n%+v\n%+v", m, m2)
		}
		if !bytes.Equal(m2.Encode(), enc) {
			t.Fatal("encoding not stable")
		}
	})
}
