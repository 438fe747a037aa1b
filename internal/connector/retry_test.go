package connector

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBudgetSpent(t *testing.T) {
	b := Budget{Margin: time.Minute}
	if b.Spent(context.Background()) {
		t.Error("a call without a deadline is never out of time")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !b.Spent(ctx) {
		t.Error("30 s left with a one-minute margin: spent")
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if b.Spent(ctx) {
		t.Error("an hour left with a one-minute margin: not spent")
	}
}

func TestRetrier(t *testing.T) {
	throttled := errors.New("throttled")
	refused := errors.New("refused")
	var waits int
	r := Retrier{Attempts: 3, Throttled: func(err error) bool { return err == throttled },
		Sleep: func(context.Context, time.Duration) error { waits++; return nil }}
	calls := 0
	if err := r.Do(context.Background(), func() error { calls++; return throttled }); err != throttled || calls != 3 || waits != 2 {
		t.Errorf("always throttled: %v after %d calls and %d waits, want throttled after 3 and 2", err, calls, waits)
	}
	calls = 0
	if err := r.Do(context.Background(), func() error { calls++; return refused }); err != refused || calls != 1 {
		t.Errorf("refused: %v after %d calls, want it at once", err, calls)
	}
	calls = 0
	if err := r.Do(context.Background(), func() error {
		calls++
		if calls < 2 {
			return throttled
		}
		return nil
	}); err != nil || calls != 2 {
		t.Errorf("throttled once: %v after %d calls, want success after 2", err, calls)
	}
}
