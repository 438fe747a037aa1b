package local

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/lethe-erasure/lethe/internal/asl"
)

// Clock is Lethe's clock under `lethe local`: wall time run Speed times
// faster, which, unlike asl.RealClock, continues across restarts from where
// the last process left it. Executions checkpoint their timers as points in
// this time and requests carry deadlines in it; a clock that restarted from
// the wall clock would put a restarted process hours of accelerated time
// in the past, so that a resumed Wait would last as long again, and one
// that kept running while the process was down would make deadlines pass
// during a coffee break. The clock therefore stands still while no process
// runs: its reading is saved to a file every second and on Close, and the
// next process starts from the later of that reading and the wall clock.
type Clock struct {
	speed     float64
	sleeper   *asl.RealClock // Sleep: asl's accelerated wall clock at speed
	wallBase  time.Time
	clockBase time.Time

	path string
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

var (
	_ asl.Clock   = (*Clock)(nil)
	_ asl.Sleeper = (*Clock)(nil)
)

// clockFile is the clock's reading in the data directory.
type clockFile struct {
	Now   time.Time `json:"now"`
	Speed float64   `json:"speed"`
}

// clockSaveEvery is how often the reading is saved: a process killed with
// SIGKILL loses at most this much wall time of the clock (Speed times it
// of Lethe's time), which a restarted execution then waits again.
const clockSaveEvery = time.Second

// OpenClock starts the clock of a data directory at speed (<= 1 is real
// time), saving its reading to path.
func OpenClock(path string, speed float64) (*Clock, error) {
	if speed < 1 {
		speed = 1
	}
	wall := time.Now()
	start := wall
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var f clockFile
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("clock %s: %w", path, err)
		}
		if f.Now.After(start) {
			start = f.Now
		}
	case !os.IsNotExist(err):
		return nil, fmt.Errorf("clock: %w", err)
	}
	c := &Clock{speed: speed, sleeper: asl.NewRealClock(speed), wallBase: wall, clockBase: start, path: path,
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := c.save(); err != nil {
		return nil, err
	}
	go c.saveLoop()
	return c, nil
}

// Speed is how many seconds of Lethe's time pass per wall second.
func (c *Clock) Speed() float64 { return c.speed }

// Now is Lethe's time.
func (c *Clock) Now() time.Time {
	el := time.Since(c.wallBase)
	return c.clockBase.Add(time.Duration(float64(el) * c.speed))
}

// After fires after d of wall time, not of Lethe's time. The engine arms
// it for a task's TimeoutSeconds (and HeartbeatSeconds, and an execution's
// TimeoutSeconds), which bound work that takes real time: a handler's HTTP
// call to a subsystem is not accelerated. Scaled, the Erasure machines'
// 90 s task timeout would be 300 ms at 300x, shorter than the subsystem's
// own 10 s HTTP timeout (which lives in the handler, on the wall clock):
// a slow answer would time the task out and the machine would submit the
// erasure again. Unscaled, the timeouts keep the order they have on AWS.
// Waits and retry intervals, which Lethe's clock does accelerate, go
// through Sleep; so does a task's wait for its token (a subsystem calling
// back, which lives on Lethe's time): its timeout is the sparse fallback
// check, a day of Lethe's time, not of the wall's.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	time.AfterFunc(d, func() { ch <- c.Now() })
	return ch
}

// Sleep waits d of Lethe's time, or until ctx ends: d divided by the
// speed in wall time, as asl.RealClock sleeps (Lethe's time runs at the
// same speed; only its starting point differs).
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	return c.sleeper.Sleep(ctx, d)
}

func (c *Clock) saveLoop() {
	defer close(c.done)
	t := time.NewTicker(clockSaveEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = c.save() // the next tick or Close tries again
		case <-c.stop:
			return
		}
	}
}

// save writes the reading atomically (a temporary file renamed over the
// old one), so that a crash leaves the old reading or the new one.
func (c *Clock) save() error {
	b, _ := json.Marshal(clockFile{Now: c.Now(), Speed: c.speed})
	tmp := c.path + ".tmp"
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("clock: %w", err)
	}
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("clock: %w", err)
	}
	if err := os.Rename(tmp, c.path); err != nil {
		return fmt.Errorf("clock: %w", err)
	}
	return nil
}

// Close stops the saving and saves the last reading.
func (c *Clock) Close() error {
	c.once.Do(func() { close(c.stop) })
	<-c.done
	return c.save()
}
