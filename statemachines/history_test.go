package statemachines

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/registry"
)

// maxHistoryEvents is Step Functions' hard limit on one execution's history.
const maxHistoryEvents = 25000

type stateDef struct {
	Type  string `json:"Type"`
	Next  string `json:"Next"`
	Retry []struct {
		MaxAttempts *int `json:"MaxAttempts"`
	} `json:"Retry"`
}

// eventsOf is an upper bound on the history events one pass through a state
// records, every retrier of it exhausted: Entered and Exited, and for a Task
// Scheduled, Started and Succeeded/Failed per attempt (AWS's own event
// sequence for a Lambda task).
func eventsOf(s stateDef) int {
	switch s.Type {
	case "Task":
		attempts := 1
		for _, r := range s.Retry {
			n := 3 // ASL's default MaxAttempts
			if r.MaxAttempts != nil {
				n = *r.MaxAttempts
			}
			attempts += n
		}
		return 2 + 3*attempts
	case "Fail", "Succeed":
		return 1
	default:
		return 2
	}
}

// loopEvents is the most history events one round of a loop records, and
// what every state outside it records at most once.
func loopEvents(t *testing.T, machine string, loop []string) (perRound, once int) {
	t.Helper()
	def, err := Definition(machine)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		States map[string]stateDef `json:"States"`
	}
	if err := json.Unmarshal([]byte(def), &m); err != nil {
		t.Fatal(err)
	}
	for i, n := range loop {
		s, ok := m.States[n]
		if !ok {
			t.Fatalf("%s has no state %s; update this test", machine, n)
		}
		// Each loop state leads to the next (a Choice by one of its rules).
		if next := loop[(i+1)%len(loop)]; s.Type != "Choice" && s.Next != next {
			t.Fatalf("%s: %s leads to %q, not %s: the loop changed; update this test", machine, n, s.Next, next)
		}
	}
	once = 2 // ExecutionStarted and ExecutionSucceeded/Failed
	inLoop := map[string]bool{}
	for _, n := range loop {
		if !inLoop[n] {
			perRound += eventsOf(m.States[n])
		}
		inLoop[n] = true
	}
	for n, s := range m.States {
		if !inLoop[n] {
			once += eventsOf(s) // every other state at most once: an upper bound
		}
	}
	return perRound, once
}

// TestWorstCaseHistoryFitsStepFunctionsLimit computes, from the deletion
// machines' definitions and the retry and poll policies, the most history
// events one deletion execution can record: a subsystem unavailable at
// every call until Lethe gives up, or an async one that is first
// unavailable at submission, then pending, then unavailable at its checks,
// each loop as long as its policy allows until a deadline extended to three
// months. It checks this stays under Step Functions' 25,000.
func TestWorstCaseHistoryFitsStepFunctionsLimit(t *testing.T) {
	syncRound, syncOnce := loopEvents(t, registry.MachineSyncDeletion, []string{"Route", "DeleteUserData", "CheckUserDeleted", "WaitBeforeRetry"})
	submitRound, asyncOnce := loopEvents(t, registry.MachineAsyncDeletion, []string{"DeleteUserData", "IsSubmitted", "WaitBeforeResubmitting"})
	checkRound, _ := loopEvents(t, registry.MachineAsyncDeletion, []string{"CheckUserDeleted", "IsUserDeleted", "WaitForUserDeletion"})
	n := config.MaxChecksPerErasure
	if worst := syncOnce + n*syncRound; worst >= maxHistoryEvents {
		t.Errorf("sync: a valid retry policy may call %d times, %d history events: over Step Functions' limit", n, worst)
	}
	// Checks while pending and while unavailable share one loop: a check
	// that answers unavailable after pending ones waits the retry policy's
	// back-off, but the pending checks' count only grows, so the loop runs
	// at most the poll policy's rounds plus the retry policy's.
	if worst := asyncOnce + n*submitRound + 2*n*checkRound; worst >= maxHistoryEvents {
		t.Errorf("async: valid policies may call %d+%d+%d times, %d history events: over Step Functions' limit", n, n, n, worst)
	}
	cfg, err := config.Load(filepath.Join("..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	received := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	deadline := received.Add(config.LongestDeadline)
	for _, r := range cfg.Regions {
		for _, s := range r.Subsystems {
			retries := s.RetryPolicy().Rounds(received, deadline, n)
			worst := syncOnce + retries*syncRound
			if s.Mode == config.ModeAsync {
				polls := s.Poll.Checks(received, deadline, n)
				worst = asyncOnce + retries*submitRound + (polls+retries)*checkRound
				if fixed := (config.PollPolicy{InitialSeconds: 3600, MaxSeconds: 3600, Multiplier: 1}).Checks(received, deadline, 10000); polls*4 > fixed {
					t.Errorf("%s/%s: %d checks is not well below fixed hourly polling's %d", r.Name, s.Name, polls, fixed)
				}
			}
			t.Logf("%s/%s (%s): %d retries until the give-up point of a three-month deadline, at most %d history events (limit %d)",
				r.Name, s.Name, s.Mode, retries, worst, maxHistoryEvents)
			if worst >= maxHistoryEvents {
				t.Errorf("%s/%s: worst case %d history events, over Step Functions' limit", r.Name, s.Name, worst)
			}
		}
	}
}
