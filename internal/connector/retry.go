package connector

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is the wait before retry number attempt (from 1) of a throttled
// call: full jitter over 50 ms doubling, capped at 2 s.
func Backoff(attempt int) time.Duration {
	d := min(50*time.Millisecond<<min(attempt, 6), 2*time.Second)
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// Sleep waits d, or less when ctx ends first (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Retrier retries a store's throttled calls with Backoff.
type Retrier struct {
	// Attempts bounds the calls, the first included.
	Attempts int
	// Throttled says whether an error is worth another call.
	Throttled func(error) bool
	// Sleep waits between calls (Sleep; tests replace it).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Do calls fn until it succeeds, fails otherwise than by throttling, or the
// attempts run out; it returns fn's last error (or ctx's while waiting).
func (r Retrier) Do(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 0; attempt < max(r.Attempts, 1); attempt++ {
		if attempt > 0 {
			if serr := r.Sleep(ctx, Backoff(attempt)); serr != nil {
				return serr
			}
		}
		if err = fn(); err == nil || !r.Throttled(err) {
			return err
		}
	}
	return err
}
