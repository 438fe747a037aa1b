// Package pause waits for a while unless a context ends first: the one
// sleep of Lethe's retries, back-offs and polling loops.
package pause

import (
	"context"
	"time"
)

// For waits d, or less when ctx ends first: then it returns ctx's error.
// A d of zero or less returns at once, with ctx's error if it has ended.
func For(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
