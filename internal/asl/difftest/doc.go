// Package difftest compares Lethe's ASL interpreter (internal/asl) with an
// independent engine, the npm package aws-local-stepfunctions, so that a
// behaviour both engines share is unlikely to be a misreading of the States
// Language, and a behaviour where they part is looked up and recorded.
//
// The package holds only tests: a corpus of definitions and inputs under
// testdata/cases (every state type, input and output processing, Retry and
// Catch, a selection of intrinsic functions and Lethe's own state machine
// files), run through both engines with the same stub tasks; the list of
// known differences in testdata/known_differences.json, each with the
// reason and the AWS source that shows Lethe's side to be right; and the
// throughput comparison of statemachines/erasure.asl.json that `make bench`
// prints. runner.mjs is the Node side: one process serves a whole run.
package difftest
