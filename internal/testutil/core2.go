package testutil

import (
	"cmp"
	"time"
)

// WatchPeak calls sample now and every interval until the returned
// function is called, which returns the largest sample. A sample that
// reports false (the value could not be read this time) is passed over;
// with none read, the peak is T's zero value.
// Memory tests use it to follow a peak the end state does not show (a
// process's resident set, the heap while a transfer runs).
func WatchPeak[T cmp.Ordered](interval time.Duration, sample func() (T, bool)) (stop func() T) {
	done := make(chan struct{})
	res := make(chan T)
	go func() {
		var peak T
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			if v, ok := sample(); ok {
				peak = max(peak, v)
			}
			select {
			case <-done:
				res <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() T {
		close(done)
		return <-res
	}
}
