package client

import (
	"testing"

	"github.com/google/uuid"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Job ids are UUIDv7: valid subject tokens that sort in the order they
// were made (time first, then uuid's sub-millisecond sequence).
func TestNewIDSortsByTime(t *testing.T) {
	prev := ""
	for range 2000 {
		id := NewID()
		if err := protocol.ValidID(id); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 7 {
			t.Fatalf("%s: not a UUIDv7 (%v)", id, err)
		}
		if id <= prev {
			t.Fatalf("%s made after %s sorts before it", id, prev)
		}
		prev = id
	}
}
