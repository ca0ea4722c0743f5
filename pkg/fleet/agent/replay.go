package agent

import (
	"container/heap"
	"time"
)

// maxReplayKeys bounds the agent's replay cache. Every entry was signed by
// the coordinator and lives at most protocol.MaxShardTTL (a minute by
// default): only a coordinator dispatching over a thousand shards a
// second to this one agent could fill it.
const maxReplayKeys = 1 << 16

// replayCache remembers the signed shards an agent received until they
// expire: the same grant sent again (a captured message replayed) is
// refused, however long ago its shard ended. Not safe for concurrent use.
type replayCache struct {
	max   int
	until map[string]time.Time
	order expiryHeap
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, until: make(map[string]time.Time)}
}

// addResult says what add did.
type addResult int

const (
	added addResult = iota
	replayed
	full
)

// add records key, valid until until, unless it is there already
// (replayed) or the cache holds max unexpired keys (full: refusing is
// safe, forgetting one before it expires would not be).
func (r *replayCache) add(key string, until, now time.Time) addResult {
	for len(r.order) > 0 && !r.order[0].until.After(now) {
		e := heap.Pop(&r.order).(expiry)
		delete(r.until, e.key)
	}
	if _, ok := r.until[key]; ok {
		return replayed
	}
	if len(r.until) >= r.max {
		return full
	}
	r.until[key] = until
	heap.Push(&r.order, expiry{key, until})
	return added
}

type expiry struct {
	key   string
	until time.Time
}

// expiryHeap orders entries soonest expiry first.
type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
