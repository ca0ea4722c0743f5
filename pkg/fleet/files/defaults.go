package files

import "time"

// Defaults of CacheConfig: an agent's cache keeps at most 10 GiB, and
// drops what no copy used for an hour.
const (
	DefaultCacheBytes = 10 << 30
	DefaultCacheAge   = time.Hour
)
