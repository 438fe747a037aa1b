package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/lethe-erasure/lethe/internal/asl"
)

// Checkpoints is one region's store of ASL executions: what Step Functions
// remembers of them on AWS. The engine saves after every transition, so
// saves are many and small: each is one write of the state and the new
// events, and concurrent executions share commits (see committer). The
// executions not yet finished are kept in an index of their own, so that
// Unfinished at start-up costs what is unfinished, not everything ever run.
type Checkpoints struct {
	db     *DB
	region string
}

var _ asl.Checkpoints = (*Checkpoints)(nil)

// Checkpoints returns the execution store of a region.
func (db *DB) Checkpoints(regionName string) *Checkpoints {
	r := db.region(regionName)
	db.mu.Lock()
	defer db.mu.Unlock()
	if r.cps == nil {
		r.cps = &Checkpoints{db: db, region: regionName}
	}
	return r.cps
}

// Layout: executions[arn] = flag byte (1 finished, 0 not) + state JSON;
// history[arn + 0 + big-endian event id] = event JSON; unfinished[arn] = "".
const (
	stateRunning  byte = 0
	stateFinished byte = 1
)

func eventPrefix(arn string) []byte {
	p := make([]byte, 0, len(arn)+1+8)
	p = append(p, arn...)
	return append(p, 0)
}

func eventKey(prefix []byte, id int64) []byte {
	k := make([]byte, len(prefix), len(prefix)+8)
	copy(k, prefix)
	return binary.BigEndian.AppendUint64(k, uint64(id))
}

// Save records one checkpoint: the events from cp.FirstEvent on replace
// whatever is stored from that id on, the state replaces the previous one,
// and the execution enters or leaves the unfinished index. All in one
// transaction, so a load never sees a state without its events.
func (c *Checkpoints) Save(ctx context.Context, executionArn string, cp asl.Checkpoint) error {
	if executionArn == "" {
		return fmt.Errorf("save checkpoint: no execution ARN")
	}
	first := max(cp.FirstEvent, 1)
	arn := []byte(executionArn)
	prefix := eventPrefix(executionArn)
	state := make([]byte, 0, 1+len(cp.State))
	if cp.Finished {
		state = append(state, stateFinished)
	} else {
		state = append(state, stateRunning)
	}
	state = append(state, cp.State...)
	err := c.db.commit.do(func(tx *bolt.Tx) error {
		states, err := writeBucket(tx, c.region, bCheckpoint)
		if err != nil {
			return err
		}
		top := tx.Bucket(regionKey(c.region))
		history, unfinished := top.Bucket(bEvents), top.Bucket(bUnfinished)
		// Drop what a failed earlier save may have left beyond first.
		cur := history.Cursor()
		start := eventKey(prefix, first)
		for k, _ := cur.Seek(start); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Seek(start) {
			if err := cur.Delete(); err != nil {
				return err
			}
		}
		for i, ev := range cp.Events {
			if err := history.Put(eventKey(prefix, first+int64(i)), ev); err != nil {
				return err
			}
		}
		if err := states.Put(arn, state); err != nil {
			return err
		}
		if cp.Finished {
			closed, err := top.CreateBucketIfNotExists(bClosed)
			if err != nil {
				return err
			}
			if err := closed.Put(closedKey(c.db.now(), executionArn), nil); err != nil {
				return err
			}
			return unfinished.Delete(arn)
		}
		return unfinished.Put(arn, nil)
	})
	if err != nil {
		return fmt.Errorf("save checkpoint of %s: %w", executionArn, err)
	}
	return nil
}

// Load returns the last state saved and the whole history (FirstEvent 1),
// or an error wrapping asl.ErrNoCheckpoint.
func (c *Checkpoints) Load(ctx context.Context, executionArn string) (asl.Checkpoint, error) {
	var cp asl.Checkpoint
	found := false
	err := c.db.bolt.View(func(tx *bolt.Tx) error {
		states := readBucket(tx, c.region, bCheckpoint)
		if states == nil {
			return nil
		}
		v := states.Get([]byte(executionArn))
		if len(v) == 0 {
			return nil
		}
		found = true
		cp.Finished = v[0] == stateFinished
		cp.State = bytes.Clone(v[1:])
		cp.FirstEvent = 1
		prefix := eventPrefix(executionArn)
		cur := tx.Bucket(regionKey(c.region)).Bucket(bEvents).Cursor()
		next := int64(1)
		for k, ev := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, ev = cur.Next() {
			// Only the unbroken run from event 1 is the history.
			if id := int64(binary.BigEndian.Uint64(k[len(prefix):])); id != next {
				break
			}
			cp.Events = append(cp.Events, bytes.Clone(ev))
			next++
		}
		return nil
	})
	if err != nil {
		return asl.Checkpoint{}, fmt.Errorf("load checkpoint of %s: %w", executionArn, err)
	}
	if !found {
		return asl.Checkpoint{}, fmt.Errorf("load checkpoint of %s: %w", executionArn, asl.ErrNoCheckpoint)
	}
	return cp, nil
}

// Unfinished lists the executions whose last checkpoint was not finished,
// in ARN order, from the index: its cost does not grow with the executions
// that ended.
func (c *Checkpoints) Unfinished(ctx context.Context) ([]string, error) {
	var out []string
	err := c.db.bolt.View(func(tx *bolt.Tx) error {
		b := readBucket(tx, c.region, bUnfinished)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list unfinished executions: %w", err)
	}
	return out, nil
}

// Exists reports whether an execution has a checkpoint, without reading its
// history: the local Step Functions service asks it to refuse a second
// execution of the same name (ExecutionAlreadyExists), as the starter
// relies on.
func (c *Checkpoints) Exists(ctx context.Context, executionArn string) (bool, error) {
	found := false
	err := c.db.bolt.View(func(tx *bolt.Tx) error {
		if b := readBucket(tx, c.region, bCheckpoint); b != nil {
			found = b.Get([]byte(executionArn)) != nil
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("look up execution %s: %w", executionArn, err)
	}
	return found, nil
}

// Delete forgets a finished execution: its state and history. A running
// one is refused, so that nothing Resume would continue is lost. The
// runtime may call it to bound the file's growth; AWS itself forgets
// executions 90 days after they close.
func (c *Checkpoints) Delete(ctx context.Context, executionArn string) error {
	prefix := eventPrefix(executionArn)
	err := c.db.commit.do(func(tx *bolt.Tx) error {
		states := readBucket(tx, c.region, bCheckpoint)
		if states == nil {
			return nil
		}
		v := states.Get([]byte(executionArn))
		if v == nil {
			return nil
		}
		if v[0] != stateFinished {
			return errRunning
		}
		if err := states.Delete([]byte(executionArn)); err != nil {
			return err
		}
		cur := tx.Bucket(regionKey(c.region)).Bucket(bEvents).Cursor()
		for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Seek(prefix) {
			if err := cur.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete execution %s: %w", executionArn, err)
	}
	return nil
}

var errRunning = fmt.Errorf("execution is not finished")

func closedKey(at time.Time, arn string) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(arn)), uint64(at.UnixNano()))
	return append(k, arn...)
}

// Prune forgets up to limit executions that finished before the given time
// (on the store's clock), oldest first, as Step Functions forgets closed
// executions 90 days after they close; it returns how many it forgot. The
// runtime calls it now and then so that the file does not grow with every
// execution ever run. A request's outcome is on the request, not here.
func (c *Checkpoints) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	n := 0
	err := c.db.commit.do(func(tx *bolt.Tx) error {
		n = 0
		top := tx.Bucket(regionKey(c.region))
		if top == nil || top.Bucket(bClosed) == nil {
			return nil
		}
		states, history, closed := top.Bucket(bCheckpoint), top.Bucket(bEvents), top.Bucket(bClosed)
		end := binary.BigEndian.AppendUint64(nil, uint64(before.UnixNano()))
		cur := closed.Cursor()
		for k, _ := cur.First(); k != nil && n < limit && bytes.Compare(k[:8], end) < 0; k, _ = cur.First() {
			arn := k[8:]
			// Names are unique (Exists refuses a second execution), so
			// the execution closed here is the one stored under the ARN.
			if v := states.Get(arn); v != nil && v[0] == stateFinished {
				if err := states.Delete(arn); err != nil {
					return err
				}
				prefix := eventPrefix(string(arn))
				hc := history.Cursor()
				for hk, _ := hc.Seek(prefix); hk != nil && bytes.HasPrefix(hk, prefix); hk, _ = hc.Seek(prefix) {
					if err := hc.Delete(); err != nil {
						return err
					}
				}
				n++
			}
			if err := cur.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune executions: %w", err)
	}
	return n, nil
}
