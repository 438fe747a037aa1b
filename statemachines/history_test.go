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

// TestWorstCaseHistoryFitsStepFunctionsLimit computes, from the async
// machine's definition and each configured subsystem's poll policy, the most
// history events one AsyncDeletion execution can record when the subsystem
// stays pending until the deadline, and checks it stays under 25,000.
func TestWorstCaseHistoryFitsStepFunctionsLimit(t *testing.T) {
	def, err := Definition(registry.MachineAsyncDeletion)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		States map[string]stateDef `json:"States"`
	}
	if err := json.Unmarshal([]byte(def), &m); err != nil {
		t.Fatal(err)
	}
	// The poll loop: CheckUserDeleted -> IsUserDeleted -> (Default) WaitForUserDeletion -> CheckUserDeleted.
	loop := []string{"CheckUserDeleted", "IsUserDeleted", "WaitForUserDeletion"}
	if m.States["WaitForUserDeletion"].Next != "CheckUserDeleted" || m.States["CheckUserDeleted"].Next != "IsUserDeleted" {
		t.Fatal("the poll loop is not CheckUserDeleted -> IsUserDeleted -> WaitForUserDeletion -> CheckUserDeleted any more; update this test")
	}
	perPoll, once := 0, 2 // ExecutionStarted and ExecutionSucceeded/Failed
	inLoop := map[string]bool{}
	for _, n := range loop {
		inLoop[n] = true
		perPoll += eventsOf(m.States[n])
	}
	for n, s := range m.States {
		if !inLoop[n] {
			once += eventsOf(s) // every other state at most once: an upper bound
		}
	}

	if worst := once + config.MaxChecksPerErasure*perPoll; worst >= maxHistoryEvents {
		t.Errorf("a valid poll policy may check %d times, %d history events: over Step Functions' limit", config.MaxChecksPerErasure, worst)
	}
	cfg, err := config.Load(filepath.Join("..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	received := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC) // 31 days to the deadline, the longest month
	deadline := cfg.Deadline.After(received)
	for _, r := range cfg.Regions {
		for _, s := range r.Subsystems {
			if s.Mode != config.ModeAsync {
				continue
			}
			polls := s.Poll.Checks(received, deadline, config.MaxChecksPerErasure)
			worst := once + polls*perPoll
			t.Logf("%s/%s: %d checks until the deadline, at most %d history events (limit %d)", r.Name, s.Name, polls, worst, maxHistoryEvents)
			if worst >= maxHistoryEvents {
				t.Errorf("%s/%s: worst case %d history events, over Step Functions' limit", r.Name, s.Name, worst)
			}
			if fixed := (config.PollPolicy{InitialSeconds: 3600, MaxSeconds: 3600, Multiplier: 1}).Checks(received, deadline, 10000); polls*4 > fixed {
				t.Errorf("%s/%s: %d checks is not well below fixed hourly polling's %d", r.Name, s.Name, polls, fixed)
			}
		}
	}
}
