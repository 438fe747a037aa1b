package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Checkpoints is where an Engine persists its executions so that they
// survive the process: the engine saves a snapshot after every transition,
// task result and timer, and marks it finished when the execution ends. The
// local runtime supplies a durable store; tests use an in-memory one.
//
// Save must be atomic per execution (a reader sees the old or the new
// snapshot, never a mix); snapshots of one execution are saved in order.
type Checkpoints interface {
	Save(ctx context.Context, executionArn string, snapshot []byte, finished bool) error
	// Load returns the last snapshot saved, or an error wrapping
	// ErrNoCheckpoint.
	Load(ctx context.Context, executionArn string) ([]byte, error)
	// Unfinished lists the executions whose last snapshot was not finished:
	// the ones Engine.Resume continues.
	Unfinished(ctx context.Context) ([]string, error)
}

// ErrNoCheckpoint says that a store holds nothing for an execution.
var ErrNoCheckpoint = errors.New("no checkpoint for this execution")

// snapshot is what a checkpoint holds: everything needed to continue an
// execution in another process, including the history recorded so far.
type snapshot struct {
	Version      int       `json:"version"`
	ExecutionArn string    `json:"executionArn"`
	Name         string    `json:"name"`
	MachineArn   string    `json:"stateMachineArn"`
	Input        any       `json:"input"`
	Start        time.Time `json:"startDate"`
	Stop         time.Time `json:"stopDate,omitzero"`
	Status       string    `json:"status"`
	Output       any       `json:"output,omitempty"`
	Failure      *Failure  `json:"failure,omitempty"`
	Transitions  int       `json:"billedTransitions"`
	Root         *thread   `json:"root"`
	History      []Event   `json:"history"`
}

const snapshotVersion = 1

// checkpointLocked saves the execution; the caller holds x.mu. A store
// error is remembered and reported by Wait: the execution goes on, as a
// failed write must not fail the user's workflow, but the caller learns
// that durability was lost.
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
		Transitions: x.transitions, Root: x.root, History: x.history,
	}
	b, err := json.Marshal(s)
	if err == nil {
		err = x.e.store.Save(context.Background(), x.arn, b, finished)
	}
	if err != nil && x.persistErr == nil {
		x.persistErr = fmt.Errorf("checkpoint execution %s: %w", x.arn, err)
	}
}

func decodeSnapshot(b []byte) (*snapshot, error) {
	var s snapshot
	if err := unmarshalNumber(b, &s); err != nil {
		return nil, fmt.Errorf("decode checkpoint: %w", err)
	}
	if s.Version != snapshotVersion {
		return nil, fmt.Errorf("checkpoint version %d is not supported (want %d)", s.Version, snapshotVersion)
	}
	if s.Root == nil {
		return nil, errors.New("checkpoint has no execution state")
	}
	return &s, nil
}
