package integration

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// diffDefaultSeed seeds the differential tests' random choices unless
// FLEETSH_DIFF_SEED says otherwise, so that a CI failure replays as it is.
const diffDefaultSeed = 20261206

// diffSeed is the seed of a differential test's random choices:
// FLEETSH_DIFF_SEED=N picks N, FLEETSH_DIFF_SEED=random one from the clock
// (to explore), else diffDefaultSeed. The caller logs it with how to
// replay the run.
func diffSeed(t *testing.T) uint64 {
	t.Helper()
	switch s := os.Getenv("FLEETSH_DIFF_SEED"); s {
	case "":
		return diffDefaultSeed
	case "random":
		return uint64(time.Now().UnixNano())
	default:
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("FLEETSH_DIFF_SEED=%q: %v", s, err)
		}
		return v
	}
}

// diffRand is the random source of a differential test seeded with seed.
func diffRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}
