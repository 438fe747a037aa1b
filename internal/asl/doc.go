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
// Time is injected (Clock, Sleeper) so that tests run a 30-day Wait in
// microseconds and demos can run faster than real time; execution state is
// checkpointed into a Checkpoints store after every transition so that a
// process that dies can resume its executions.
//
// The reference is the Amazon States Language specification
// (https://states-language.net/spec.html, cited below as "spec §...") and the
// Step Functions developer guide where AWS behaviour is more specific.
package asl
