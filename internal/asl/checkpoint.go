package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Checkpoints is where an Engine persists its executions so that they
// survive the process: the engine saves after every transition, task result
// and timer, and marks the execution finished when it ends. The local
// runtime supplies a durable store; tests use an in-memory one.
//
// A save costs what changed, not the whole history: the state (positions,
// timers, retry counters, task results; no history) replaces the previous
// one, and only the events recorded since the last successful save are sent,
// to be appended. A store may write the events and then the state without a
// transaction: the state records how long the history was, and events beyond
// that are ignored on load.
type Checkpoints interface {
	// Save records one checkpoint of an execution. Checkpoints of one
	// execution are saved in order. Events from cp.FirstEvent on replace
	// whatever the store holds for those ids (a save that failed is sent
	// again with the next one). The store may keep the slices it is given.
	Save(ctx context.Context, executionArn string, cp Checkpoint) error
	// Load returns the last state saved and the whole history saved so far
	// (FirstEvent 1), or an error wrapping ErrNoCheckpoint.
	Load(ctx context.Context, executionArn string) (Checkpoint, error)
	// Unfinished lists the executions whose last checkpoint was not
	// finished: the ones Engine.Resume continues.
	Unfinished(ctx context.Context) ([]string, error)
}

// Checkpoint is one save of an execution, or on Load everything saved.
type Checkpoint struct {
	// State is the execution's state without its history, JSON.
	State []byte
	// FirstEvent is the id of Events[0] (ids count from 1).
	FirstEvent int64
	// Events are history events, each JSON as GetExecutionHistory shows it.
	Events [][]byte
	// Finished says that the execution has ended: nothing resumes it.
	Finished bool
}

// ErrNoCheckpoint says that a store holds nothing for an execution.
var ErrNoCheckpoint = errors.New("no checkpoint for this execution")

// snapshot is the state of a checkpoint: everything needed to continue an
// execution in another process except the history, of which it records the
// length.
type snapshot struct {
	Version       int       `json:"version"`
	ExecutionArn  string    `json:"executionArn"`
	Name          string    `json:"name"`
	MachineArn    string    `json:"stateMachineArn"`
	Input         any       `json:"input"`
	Start         time.Time `json:"startDate"`
	Stop          time.Time `json:"stopDate,omitzero"`
	Status        string    `json:"status"`
	Output        any       `json:"output,omitempty"`
	Failure       *Failure  `json:"failure,omitempty"`
	Transitions   int       `json:"billedTransitions"`
	Root          *thread   `json:"root"`
	HistoryLength int       `json:"historyLength"`

	History []Event `json:"-"` // filled from the events on load
}

const snapshotVersion = 2

// checkpointLocked saves the execution; the caller holds x.mu. A store
// error is remembered and reported by Wait: the execution goes on, as a
// failed write must not fail the user's workflow, but the caller learns
// that durability was lost. The events not yet saved go with the next save.
func (x *Execution) checkpointLocked(finished bool) {
	if x.e.store == nil {
		return
	}
	status := x.status
	if !finished {
		status = StatusRunning
	}
	s := snapshot{
		Version: snapshotVersion, ExecutionArn: x.arn, Name: x.name, MachineArn: x.machineArn,
		Input: x.input, Start: x.start, Stop: x.stop, Status: status, Output: x.output, Failure: x.failure,
		Transitions: x.transitions, Root: x.root, HistoryLength: len(x.history),
	}
	cp := Checkpoint{FirstEvent: int64(x.saved + 1), Finished: finished}
	var err error
	for i := range x.history[x.saved:] {
		var b []byte
		if b, err = json.Marshal(x.history[x.saved+i].public()); err != nil {
			break
		}
		cp.Events = append(cp.Events, b)
	}
	if err == nil {
		cp.State, err = json.Marshal(s)
	}
	if err == nil {
		err = x.e.store.Save(context.Background(), x.arn, cp)
	}
	if err != nil {
		if x.persistErr == nil {
			x.persistErr = fmt.Errorf("checkpoint execution %s: %w", x.arn, err)
		}
		return
	}
	x.saved = len(x.history)
}

// loadSnapshot reads an execution's checkpoint back, history included.
func loadSnapshot(ctx context.Context, store Checkpoints, arn string) (*snapshot, error) {
	cp, err := store.Load(ctx, arn)
	if err != nil {
		return nil, err
	}
	return decodeSnapshot(cp)
}

func decodeSnapshot(cp Checkpoint) (*snapshot, error) {
	var s snapshot
	if err := unmarshalNumber(cp.State, &s); err != nil {
		return nil, fmt.Errorf("decode checkpoint: %w", err)
	}
	if s.Version != snapshotVersion {
		return nil, fmt.Errorf("checkpoint version %d is not supported (want %d)", s.Version, snapshotVersion)
	}
	if s.Root == nil {
		return nil, errors.New("checkpoint has no execution state")
	}
	first := max(cp.FirstEvent, 1)
	if first != 1 || len(cp.Events) < s.HistoryLength {
		return nil, fmt.Errorf("checkpoint has events %d to %d of a history of %d", first, first+int64(len(cp.Events))-1, s.HistoryLength)
	}
	s.History = make([]Event, s.HistoryLength)
	for i := range s.History {
		if err := json.Unmarshal(cp.Events[i], &s.History[i]); err != nil {
			return nil, fmt.Errorf("decode checkpoint event %d: %w", i+1, err)
		}
		if s.History[i].ID != int64(i+1) {
			return nil, fmt.Errorf("checkpoint event %d has id %d", i+1, s.History[i].ID)
		}
	}
	return &s, nil
}
