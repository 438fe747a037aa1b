package local

import (
	"time"
)

// Retention of closed executions: Step Functions forgets a closed Standard
// execution 90 days after it closes, and so does lethe local, on its own
// clock. Without it the data file would keep the history of every
// execution ever run (tens of kilobytes an erasure); a request's outcome
// lives on the request, which is kept.
const (
	ExecutionRetention = 90 * 24 * time.Hour
	// pruneBatch bounds one sweep's transaction so that it never holds up
	// the executions' checkpoints for long.
	pruneBatch = 500
)

// pruneEvery is the wall time between two sweeps (a variable for tests).
var pruneEvery = 5 * time.Second

// pruneExecutions forgets, until the runtime stops, the region's executions
// closed more than ExecutionRetention ago on Lethe's clock.
func (rt *Runtime) pruneExecutions(reg *Region) {
	defer rt.wg.Done()
	tick := time.NewTicker(pruneEvery)
	defer tick.Stop()
	for {
		select {
		case <-rt.ctx.Done():
			return
		case <-tick.C:
		}
		before := rt.clock.Now().Add(-ExecutionRetention)
		for {
			n, err := reg.Checkpoints.Prune(rt.ctx, before, pruneBatch)
			if err != nil {
				if rt.ctx.Err() == nil {
					rt.log.Warn("pruning closed executions failed", "region", reg.Config.Name, "error", err.Error())
				}
				break
			}
			if n < pruneBatch || rt.ctx.Err() != nil {
				break
			}
		}
	}
}

// watchDeadlines runs a region's deadline watch at once and then every
// hour of Lethe's clock, until the runtime stops.
func (rt *Runtime) watchDeadlines(reg *Region) {
	defer rt.wg.Done()
	for {
		if _, err := reg.Watch.Run(rt.ctx); err != nil && rt.ctx.Err() == nil {
			rt.log.Warn("deadline watch failed", "region", reg.Config.Name, "error", err.Error())
		}
		if rt.own.Sleep(rt.ctx, time.Hour) != nil {
			return
		}
	}
}
