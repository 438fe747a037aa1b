package local

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestClockRunsFastAndContinuesAfterARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clock.json")
	c, err := OpenClock(path, 3600)
	if err != nil {
		t.Fatal(err)
	}
	start := c.Now()
	if err := c.Sleep(context.Background(), time.Hour); err != nil { // 1 s of wall time
		t.Fatal(err)
	}
	if el := c.Now().Sub(start); el < time.Hour || el > 2*time.Hour {
		t.Errorf("an hour's Sleep moved the clock %s", el)
	}
	// After bounds work that takes wall time (task timeouts): unscaled.
	wall := time.Now()
	<-c.After(200 * time.Millisecond)
	if el := time.Since(wall); el < 200*time.Millisecond {
		t.Errorf("After(200ms) fired after %s of wall time", el)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	stopped := c.Now()

	again, err := OpenClock(path, 3600)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	// The restarted clock goes on from where the first stood (no jump back
	// to the wall clock), and not from where it would be had it kept running.
	if now := again.Now(); now.Before(stopped.Add(-time.Minute)) || now.After(stopped.Add(10*time.Minute)) {
		t.Errorf("restarted at %s; the first clock stopped at %s", now, stopped)
	}
	if again.Now().Before(time.Now()) {
		t.Error("the clock is behind the wall clock")
	}
}

func TestClockSleepCancelled(t *testing.T) {
	c, err := OpenClock(filepath.Join(t.TempDir(), "clock.json"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); err == nil {
		t.Error("Sleep with a cancelled context returned nil")
	}
}
