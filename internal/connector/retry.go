package connector

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/lethe-erasure/lethe/internal/pause"
)

// Backoff is the wait before retry number attempt (from 1) of a throttled
// call: full jitter over 50 ms doubling, capped at 2 s.
func Backoff(attempt int) time.Duration {
	d := min(50*time.Millisecond<<min(attempt, 6), 2*time.Second)
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// Retrier retries a store's throttled calls with Backoff.
type Retrier struct {
	// Attempts bounds the calls, the first included.
	Attempts int
	// Throttled says whether an error is worth another call.
	Throttled func(error) bool
	// Sleep waits between calls: pause.For when nil (tests replace it).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Wait waits the back-off before retry number attempt (from 1).
func (r Retrier) Wait(ctx context.Context, attempt int) error {
	if r.Sleep == nil {
		return pause.For(ctx, Backoff(attempt))
	}
	return r.Sleep(ctx, Backoff(attempt))
}

// Do calls fn until it succeeds, fails otherwise than by throttling, or the
// attempts run out; it returns fn's last error (or ctx's while waiting).
func (r Retrier) Do(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 0; attempt < max(r.Attempts, 1); attempt++ {
		if attempt > 0 {
			if serr := r.Wait(ctx, attempt); serr != nil {
				return serr
			}
		}
		if err = fn(); err == nil || !r.Throttled(err) {
			return err
		}
	}
	return err
}

// DefaultMargin is what a connector leaves of its call's time: enough to
// record the answer before a Lambda's deadline.
const DefaultMargin = 5 * time.Second

// Budget is how a connector shares out one call's time.
type Budget struct {
	// Margin is what Erase leaves of its context's deadline when it stops
	// with More.
	Margin time.Duration
}

// Spent reports whether a call on ctx must stop now: less than Margin is
// left of its deadline. Callers ask only once they have deleted something,
// so that every call gets on, and while work remains, so that More is true.
func (b Budget) Spent(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < b.Margin
}
