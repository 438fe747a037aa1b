package asl

import (
	"container/heap"
	"context"
	"sort"
	"sync"
	"time"

	"github.com/lethe-erasure/lethe/internal/pause"
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
	return pause.For(ctx, c.scale(d))
}

// FakeClock is virtual time for tests, run as a discrete-event simulator:
// time stands still while any engine work is under way and jumps, as soon as
// all of it is waiting on the clock, to the earliest wake-up, waking exactly
// the waits that fall due then. A 30-day Wait therefore takes microseconds,
// and the outcome does not depend on goroutine scheduling: one Map
// iteration's retry back-off can never move time under another iteration's
// Lambda call.
//
// The rules, which an engine using this clock follows:
//   - Engine work is busy: an execution's goroutines while they process
//     states, and a task's handler (Lambda, integration) while it runs. An
//     instant HTTP call in a handler therefore never sees time pass, and a
//     task's TimeoutSeconds fires only if its handler itself waits on virtual
//     time (or a test calls Advance).
//   - Engine work is idle while it waits on the clock (Wait states, retry
//     intervals, timeouts) or on other engine work (Map iterations, Parallel
//     branches, .sync child executions).
//   - A task waiting for its task token (.waitForTaskToken) is busy: virtual
//     time cannot know when an outside worker will answer, so it holds time
//     still; its HeartbeatSeconds and TimeoutSeconds fire only when a test
//     calls Advance.
//     Unless the clock simulates the outside workers too (SimulateWorkers):
//     then each worker's answer is scheduled on the clock (Go), and a token
//     wait is idle until the token comes or its timeout falls due.
//   - Goroutines outside the engine (a test calling Start, Wait,
//     SendTaskSuccess) are not engine work. Time may therefore move between
//     two Starts of a test; Hold stops it while a test sets up.
//
// Advance moves time by force, whatever is busy. Sleep must be called only by
// engine work (an execution, or a handler that waits on virtual time).
type FakeClock struct {
	mu       sync.Mutex
	now      time.Time
	busy     int
	seq      uint64
	parks    parkHeap           // idle waits with a wake-up time
	ctxParks map[*park]struct{} // idle waits that end with a context
	timers   []*fakeTimer       // After channels
	sleeps   []time.Duration
	// workers: the outside workers run on this clock (SimulateWorkers).
	workers bool
}

// SimulateWorkers makes the clock a simulator of the workers that answer
// task tokens as well: each schedules its answer with Go, so a task
// waiting for its token is idle, like a Wait state, until the answer or
// its TimeoutSeconds comes (its HeartbeatSeconds are not enforced). A
// benchmark thus runs months of callbacks in microseconds.
func (c *FakeClock) SimulateWorkers() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.workers = true
}

func (c *FakeClock) simulatesWorkers() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.workers
}

// Go runs fn as engine work once d of virtual time has passed: how a
// simulated worker (SimulateWorkers) answers a task token when its work is
// done. Time stands still while fn runs.
func (c *FakeClock) Go(d time.Duration, fn func()) {
	c.enter()
	go func() {
		c.newPark(nil, d, true).wait()
		defer c.leave()
		fn()
	}()
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

// NewFakeClock starts virtual time at t.
func NewFakeClock(t time.Time) *FakeClock {
	return &FakeClock{now: t, ctxParks: map[*park]struct{}{}}
}

// Now is the virtual time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After arms a timer on virtual time. Its channel receives when time passes
// the deadline, but the clock never jumps to it on its own: only idle engine
// waits (and Advance) move time.
func (c *FakeClock) After(d time.Duration) <-chan time.Time {
	ch, _ := c.timer(d)
	return ch
}

// workerTimer is timer: virtual time is one time for all.
func (c *FakeClock) workerTimer(d time.Duration) (<-chan time.Time, func()) { return c.timer(d) }

func (c *FakeClock) timer(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch, func() {}
	}
	t := &fakeTimer{at: c.now.Add(d), ch: ch}
	c.timers = append(c.timers, t)
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, o := range c.timers {
			if o == t {
				c.timers = append(c.timers[:i], c.timers[i+1:]...)
				return
			}
		}
	}
}

// Sleep waits d of virtual time: the caller is idle until the clock reaches
// now+d, which it does as soon as nothing else that is busy needs an earlier
// time. Only engine work may sleep (see FakeClock).
func (c *FakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	if d <= 0 {
		return nil
	}
	if c.newPark(ctx, d, true).wait() == wokeCancel {
		return ctx.Err()
	}
	return nil
}

// Advance moves virtual time forward by force, waking every wait and firing
// every timer that falls due, whatever engine work is busy: how a test
// reaches a heartbeat timeout or a handler that blocks.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.fireDueLocked()
	c.settleLocked()
}

// Hold stops virtual time from moving on its own until release is called,
// as if engine work were busy: a test that starts several executions holds
// the clock so that they all start at the same instant.
func (c *FakeClock) Hold() (release func()) {
	c.enter()
	var once sync.Once
	return func() { once.Do(c.leave) }
}

// Sleeps lists every duration passed to Sleep, in order: what tests assert
// retry back-off on.
func (c *FakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

func (c *FakeClock) enter() {
	c.mu.Lock()
	c.busy++
	c.mu.Unlock()
}

func (c *FakeClock) leave() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy--
	c.settleLocked()
}

// settleLocked runs the simulator when nothing is busy: waits whose context
// ended wake first (a cancelled execution stops before time moves on);
// otherwise time jumps to the earliest wait's deadline.
func (c *FakeClock) settleLocked() {
	if c.busy < 0 {
		panic("asl: FakeClock: more engine work ended than started (Sleep called outside the engine?)")
	}
	if c.busy > 0 {
		return
	}
	woke := false
	for p := range c.ctxParks {
		if p.ctx.Err() != nil {
			c.wakeLocked(p, wokeCancel)
			woke = true
		}
	}
	if woke || len(c.parks) == 0 {
		return
	}
	if at := c.parks[0].at; at.After(c.now) {
		c.now = at
	}
	c.fireDueLocked()
}

// fireDueLocked wakes the waits and fires the timers whose time has come,
// earliest (then first armed) first.
func (c *FakeClock) fireDueLocked() {
	sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			select {
			case t.ch <- c.now:
			default:
			}
			continue
		}
		kept = append(kept, t)
	}
	clear(c.timers[len(kept):])
	c.timers = kept
	for len(c.parks) > 0 && !c.parks[0].at.After(c.now) {
		c.wakeLocked(c.parks[0], wokeTimer)
	}
}

// wakeLocked ends an idle wait; the woken goroutine is busy from this
// moment, before it even runs, so that time cannot move under it.
func (c *FakeClock) wakeLocked(p *park, why wakeCause) {
	if p.cause != 0 {
		return
	}
	p.cause = why
	if p.index >= 0 {
		heap.Remove(&c.parks, p.index)
	}
	delete(c.ctxParks, p)
	c.busy++
	close(p.ch)
}

func (c *FakeClock) newPark(ctx context.Context, d time.Duration, timed bool) *park {
	p := &park{v: c, ctx: ctx, ch: make(chan struct{}), index: -1}
	cancellable := ctx != nil && ctx.Done() != nil
	c.mu.Lock()
	switch {
	case timed && d <= 0:
		c.wakeLocked(p, wokeTimer) // already due
	case timed:
		p.at = c.now.Add(d)
		p.seq = c.seq
		c.seq++
		heap.Push(&c.parks, p)
	}
	if cancellable && p.cause == 0 {
		c.ctxParks[p] = struct{}{}
	}
	c.mu.Unlock()
	if cancellable {
		// Cancellation from outside the engine (a test's crash) wakes the
		// wait even while other work is busy.
		p.stopCtx = context.AfterFunc(ctx, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.wakeLocked(p, wokeCancel)
		})
	}
	return p
}

// scheduler is what the engine needs of time beyond Clock: accounting of
// busy work, and idle waits that any source can end. FakeClock implements it
// as a simulator; realTime, for every other clock, lets time run.
type scheduler interface {
	// enter counts one more piece of busy work (a goroutine about to be
	// started for an execution, a branch or a handler); leave ends one.
	enter()
	leave()
	// newPark prepares an idle wait of the calling busy goroutine, ended by
	// ctx (if not nil), after d (if timed) or by park.signal.
	newPark(ctx context.Context, d time.Duration, timed bool) *park
	// timer is After with a way to disarm it.
	timer(d time.Duration) (<-chan time.Time, func())
	// workerTimer is timer for the wait of a task for its token: the
	// worker that answers lives on the clock's time (a subsystem calling
	// back on Lethe's accelerated time), so a clock whose After is wall
	// time (to bound handlers that take real time) counts it with Sleep.
	workerTimer(d time.Duration) (<-chan time.Time, func())
}

var (
	_ scheduler = (*FakeClock)(nil)
	_ scheduler = realTime{}
)

// realTime is the scheduler of clocks whose time runs by itself.
type realTime struct{ clock Clock }

func (realTime) enter() {}
func (realTime) leave() {}

func (r realTime) workerTimer(d time.Duration) (<-chan time.Time, func()) {
	sl, ok := r.clock.(Sleeper)
	if _, real := r.clock.(*RealClock); real || !ok {
		return r.timer(d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan time.Time, 1)
	go func() {
		if sl.Sleep(ctx, d) == nil {
			ch <- r.clock.Now()
		}
	}()
	return ch, cancel
}

func (r realTime) timer(d time.Duration) (<-chan time.Time, func()) {
	if rc, ok := r.clock.(*RealClock); ok {
		t := time.NewTimer(rc.scale(d))
		return t.C, func() { t.Stop() }
	}
	return r.clock.After(d), func() {}
}

func (r realTime) newPark(ctx context.Context, d time.Duration, timed bool) *park {
	p := &park{ch: make(chan struct{}), index: -1}
	if timed {
		if rc, ok := r.clock.(*RealClock); ok {
			t := time.AfterFunc(rc.scale(d), func() { p.fireReal(wokeTimer) })
			p.stopTimer = func() { t.Stop() }
		} else {
			c := r.clock.After(d)
			go func() {
				select {
				case <-c:
					p.fireReal(wokeTimer)
				case <-p.ch:
				}
			}()
		}
	}
	if ctx != nil && ctx.Done() != nil {
		p.stopCtx = context.AfterFunc(ctx, func() { p.fireReal(wokeCancel) })
	}
	return p
}

type wakeCause int

const (
	wokeSignal wakeCause = iota + 1 // park.signal: the awaited work is done
	wokeTimer                       // the wait's time came
	wokeCancel                      // the wait's context ended
)

// park is one idle wait of engine work. Whoever ends it hands the waiting
// goroutine a unit of busy work, so that on virtual time nothing moves
// between the wake-up and the moment the woken goroutine runs.
type park struct {
	v     *FakeClock // nil on real time
	ctx   context.Context
	ch    chan struct{}
	cause wakeCause // under v.mu, or mu on real time

	mu        sync.Mutex
	stopTimer func()
	stopCtx   func() bool

	// virtual deadline, in v.parks
	at    time.Time
	seq   uint64
	index int
}

func (p *park) fireReal(why wakeCause) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cause == 0 {
		p.cause = why
		close(p.ch)
	}
}

// signal ends the wait because the work it waits for is done. With
// transfer, the calling goroutine, busy, ends and gives its unit of work to
// the woken one (a branch that finishes waking its parent); without, the
// caller goes on and the clock counts the woken goroutine anew.
func (p *park) signal(transfer bool) {
	if p.v == nil {
		p.fireReal(wokeSignal)
		return
	}
	c := p.v
	c.mu.Lock()
	defer c.mu.Unlock()
	if transfer {
		c.busy--
	}
	c.wakeLocked(p, wokeSignal) // no-op if already woken
	c.settleLocked()
}

// wait makes the calling busy goroutine idle until the park is ended, and
// busy again when it returns; it says what ended it.
func (p *park) wait() wakeCause {
	if c := p.v; c != nil {
		c.mu.Lock()
		c.busy--
		c.settleLocked()
		c.mu.Unlock()
	}
	<-p.ch
	if p.stopCtx != nil {
		p.stopCtx()
	}
	if p.stopTimer != nil {
		p.stopTimer()
	}
	if c := p.v; c != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		return p.cause
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cause
}

// parkHeap orders timed waits by deadline, then by the order they were made.
type parkHeap []*park

func (h parkHeap) Len() int { return len(h) }
func (h parkHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h parkHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *parkHeap) Push(x any) {
	p := x.(*park)
	p.index = len(*h)
	*h = append(*h, p)
}
func (h *parkHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	p.index = -1
	*h = old[:len(old)-1]
	return p
}
