package config

import (
	"testing"
	"time"
)

func TestNextPollSeconds(t *testing.T) {
	p := PollPolicy{InitialSeconds: 60, MaxSeconds: 21600, Multiplier: 2}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	far := now.AddDate(0, 1, 0)
	tests := []struct {
		name      string
		p         PollPolicy
		pollCount int
		now       time.Time
		deadline  time.Time
		want      int
	}{
		{"initial", p, 0, now, far, 60},
		{"second", p, 1, now, far, 120},
		{"growth", p, 5, now, far, 1920},
		{"last before cap", p, 8, now, far, 15360},
		{"cap", p, 9, now, far, 21600},
		{"capped long after", p, 500, now, far, 21600},
		{"huge poll count does not overflow", p, 1 << 40, now, far, 21600},
		{"fractional multiplier rounds down", PollPolicy{InitialSeconds: 10, MaxSeconds: 100, Multiplier: 1.5}, 1, now, far, 15},
		{"multiplier 1 is a fixed interval", PollPolicy{InitialSeconds: 30, MaxSeconds: 100, Multiplier: 1}, 1000, now, far, 30},
		{"zero policy takes defaults", PollPolicy{}, 0, now, far, DefaultPollInitialSeconds},
		{"negative poll count is the first", p, -3, now, far, 60},
		{"deadline clamp", p, 9, now, now.Add(5*time.Minute + 700*time.Millisecond), 300},
		{"deadline clamp below initial", p, 0, now, now.Add(42 * time.Second), 42},
		{"under a second left", p, 0, now, now.Add(300 * time.Millisecond), 1},
		{"at the deadline", p, 3, now, now, 1},
		{"past the deadline", p, 3, now, now.Add(-time.Hour), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.NextPollSeconds(tt.pollCount, tt.now, tt.deadline); got != tt.want {
				t.Errorf("%+v.NextPollSeconds(%d) = %d, want %d", tt.p, tt.pollCount, got, tt.want)
			}
		})
	}
}

// TestPollsToDeadline walks a request that stays pending for a month: the
// waits never end past the deadline, and the check count stays small.
func TestPollsToDeadline(t *testing.T) {
	p := PollPolicy{InitialSeconds: 60, MaxSeconds: 21600, Multiplier: 2}
	start := time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC)
	deadline := Deadline{Months: 1}.After(start)
	now, polls := start, 0
	for now.Before(deadline) {
		wait := p.NextPollSeconds(polls, now, deadline)
		polls++
		now = now.Add(time.Duration(wait) * time.Second)
		if now.After(deadline.Add(time.Second)) {
			t.Fatalf("poll %d waits until %s, past the deadline %s", polls, now, deadline)
		}
	}
	if polls > 130 {
		t.Errorf("%d checks in a month, want at most 130", polls)
	}
	t.Logf("%d checks from %s to the deadline %s", polls+1, start, deadline)
}
