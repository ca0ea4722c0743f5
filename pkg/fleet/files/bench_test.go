package files

import (
	"context"
	"testing"
)

// BenchmarkPushFetch pushes a 64 MiB file to a MemStore and fetches it
// into a new disk cache; MB/s counts the file's bytes once.
func BenchmarkPushFetch(b *testing.B) {
	src := sharedBig(b)
	ctx := context.Background()
	b.SetBytes(64 << 20)
	for b.Loop() {
		s := &MemStore{}
		ref, _, err := Push(ctx, src, s, PushOptions{})
		if err != nil {
			b.Fatal(err)
		}
		c, err := OpenCache(CacheConfig{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Fetch(ctx, ref, s, FetchOptions{}); err != nil {
			b.Fatal(err)
		}
		_ = c.Close()
	}
}
