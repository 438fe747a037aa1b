package asl

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock tells the engine what time it is and arms timers (task timeouts,
// heartbeats). Injected so that tests and demos control time.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has elapsed on this clock.
	After(d time.Duration) <-chan time.Time
}

// Sleeper waits: Wait states and the intervals between retries go through it,
// so that tests never sleep for real.
type Sleeper interface {
	// Sleep returns after d has elapsed on the clock, or ctx's error.
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is wall-clock time, optionally accelerated: with Speed N a
// 60-second Wait takes 60/N real seconds and Now advances N times faster than
// the wall clock from the moment the clock was made (a demo's --speed).
type RealClock struct {
	speed float64
	base  time.Time
}

// NewRealClock returns a wall clock running speed times faster than real
// time; speed <= 1 means real time.
func NewRealClock(speed float64) *RealClock {
	if speed < 1 {
		speed = 1
	}
	return &RealClock{speed: speed, base: time.Now()}
}

// Now is the accelerated time.
func (c *RealClock) Now() time.Time {
	if c.speed == 1 {
		return time.Now()
	}
	el := time.Since(c.base)
	return c.base.Add(time.Duration(float64(el) * c.speed))
}

func (c *RealClock) scale(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.speed)
}

// After fires after d of accelerated time.
func (c *RealClock) After(d time.Duration) <-chan time.Time { return time.After(c.scale(d)) }

// Sleep waits d of accelerated time.
func (c *RealClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(c.scale(d))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// FakeClock is virtual time for tests: Sleep advances the clock at once by
// the duration asked for (so a 30-day Wait returns immediately, with Now 30
// days later), and timers armed with After fire when the clock passes their
// deadline, whether through a Sleep or an explicit Advance.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
	sleeps []time.Duration
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

// NewFakeClock starts virtual time at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t} }

// Now is the virtual time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After arms a timer on virtual time.
func (c *FakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	return ch
}

// Sleep advances virtual time by d and returns at once.
func (c *FakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	if d > 0 {
		c.Advance(d)
	}
	return nil
}

// Advance moves virtual time forward, firing the timers that fall due.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	sort.Slice(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			t.ch <- c.now
			continue
		}
		kept = append(kept, t)
	}
	c.timers = kept
}

// Sleeps lists every duration passed to Sleep, in order: what tests assert
// retry back-off on.
func (c *FakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}
