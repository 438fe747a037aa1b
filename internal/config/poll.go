package config

import (
	"math"
	"time"
)

// MaxChecksPerErasure bounds the calls of each loop of one subsystem's
// erasure before the longest deadline: status checks under the poll policy,
// and retries of an unavailable subsystem under the retry policy. Each
// round adds a handful of events to the deletion execution's history, which
// Step Functions caps at 25,000; statemachines' worst-case test turns this
// bound into events.
const MaxChecksPerErasure = 400

// LongestDeadline is the longest time a request may run: one month, and
// two more when the deadline is extended (GDPR Art. 12(3)).
const LongestDeadline = 92 * 24 * time.Hour

// NextPollSeconds is the back-off between two status checks of an async
// erasure. pollCount is the number of checks made before the one that just
// answered pending (0 after the first check), so the waits are
// InitialSeconds, InitialSeconds*Multiplier, ... capped at MaxSeconds; a
// wait never ends past the deadline (it is at most the whole seconds left
// until then), and is at least 1 second. Zero fields take the defaults.
func (p PollPolicy) NextPollSeconds(pollCount int, now, deadline time.Time) int {
	if p.InitialSeconds < 1 {
		p.InitialSeconds = DefaultPollInitialSeconds
	}
	if p.MaxSeconds < 1 {
		p.MaxSeconds = DefaultPollMaxSeconds
	}
	if p.Multiplier < 1 {
		p.Multiplier = DefaultPollMultiplier
	}
	// math.Pow saturates at +Inf for any pollCount, which the cap absorbs.
	wait := min(float64(p.InitialSeconds)*math.Pow(p.Multiplier, float64(max(pollCount, 0))), float64(p.MaxSeconds))
	secs := int(wait)
	if left := int(deadline.Sub(now) / time.Second); left < secs {
		secs = left
	}
	return max(secs, 1)
}

// Checks counts the status checks of an erasure submitted at start that
// stays pending: one right after the submission, then one after each
// back-off wait, the last at or after the deadline. It stops counting past
// limit, so a policy that would poll every second for a month costs little
// to reject.
func (p PollPolicy) Checks(start, deadline time.Time, limit int) int {
	now, checks := start, 0
	for checks <= limit {
		checks++
		if !now.Before(deadline) {
			return checks
		}
		now = now.Add(time.Duration(p.NextPollSeconds(checks-1, now, deadline)) * time.Second)
	}
	return checks
}
