// Package asl is Lethe's interpreter for the Amazon States Language
// (JSONPath query language), so that the very state machine files deployed to
// AWS Step Functions run on one laptop and in tests.
//
// A definition is parsed and validated once into an immutable *Machine; an
// *Engine runs any number of executions of any number of machines at the same
// time, each with its own state, history and billed-transition count. The
// package knows nothing of erasure, regions or the AWS SDK: Lambda handlers,
// topics, tables and child state machines are plugged into the Engine from
// outside (see Integration, Publisher, ItemStore and Engine.RegisterMachine).
//
// Durability: the engine saves a checkpoint of an execution (its position in
// every branch and iteration, timers, retry counters, task results, and the
// history events recorded since the previous save) into Checkpoints after
// each transition and each task result; a save costs what changed, not the
// whole history. Engine.Resume continues unfinished executions in a new process: a
// Task whose result was saved is never invoked again; a Task in flight when
// the process died is invoked again (at least once, as AWS's own service
// integrations are); a waitForTaskToken or .sync task that had been
// submitted waits again for its token or child execution without sending
// again; a Wait waits only for what is left.
//
// Time is injected (Clock, Sleeper) so that tests run a 30-day Wait in
// microseconds and demos can run faster than real time. FakeClock is a
// discrete-event simulator: the engine tells it which of its work is busy
// (states being processed, task handlers running) and which is idle (waiting
// on the clock, on branches or on child executions), and virtual time jumps
// to the next wake-up only when nothing is busy, so that results never
// depend on goroutine scheduling (see FakeClock for the rules).
//
// The reference is the Amazon States Language specification
// (https://states-language.net/spec.html, cited below as "spec §...") and the
// Step Functions developer guide where AWS behaviour is more specific.
package asl
