package local

import (
	"context"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

func TestClosedExecutionsAreForgottenAfterRetention(t *testing.T) {
	saved := pruneEvery
	t.Cleanup(func() { pruneEvery = saved }) // after the runtime's Close (cleanups run last first)
	pruneEvery = 10 * time.Millisecond
	clock := asl.NewFakeClock(t0)
	rt := start(t, loadConfig(t), t.TempDir(), clock, 0)
	id := file(t, rt, "eu", "alice")
	if r := wait(t, rt, id); r.Status != erasure.StatusCompleted {
		t.Fatalf("request %s", r.Status)
	}
	reg := mustRegion(t, rt, "eu")
	arn := ExecutionArn(reg.Engine, reg.Wired.Main, id)
	ctx := context.Background()
	time.Sleep(50 * time.Millisecond) // sweeps within the retention forget nothing
	if ok, err := reg.Checkpoints.Exists(ctx, arn); err != nil || !ok {
		t.Fatalf("the execution was forgotten within its retention: %v, %v", ok, err)
	}
	clock.Advance(ExecutionRetention + time.Hour)
	waitFor(t, func() bool {
		ok, err := reg.Checkpoints.Exists(ctx, arn)
		return err == nil && !ok
	}, "the execution to be forgotten 90 days after it closed")
	if r := wait(t, rt, id); r.Status != erasure.StatusCompleted {
		t.Errorf("the request itself changed: %s", r.Status)
	}
}
