package asl

import "sync/atomic"

// spawn runs f on a goroutine of its own, reusing a goroutine that ran an
// earlier f and is now idle when there is one. Executions, branches, Map
// iterations and task handlers each run on such a goroutine: a reused one
// has a stack already grown to the engine's depth (a new one grows it again,
// copying, on every task call) and costs no goroutine creation. Reuse
// changes nothing the clock sees: busy and idle work is counted by the
// callers (scheduler.enter/leave and parks), not by goroutines. f must not
// expect a fresh goroutine (no goroutine-local state exists in Go).
func spawn(f func()) {
	select {
	case idleWork <- f:
	default:
		go worker(f)
	}
}

// maxIdleWorkers bounds the goroutines kept waiting for work; a worker that
// finds that many already waiting ends.
const maxIdleWorkers = 256

var (
	idleWork    = make(chan func())
	idleWorkers atomic.Int32
)

func worker(f func()) {
	for {
		f()
		f = nil
		if idleWorkers.Add(1) > maxIdleWorkers {
			idleWorkers.Add(-1)
			return
		}
		f = <-idleWork
		idleWorkers.Add(-1)
	}
}
