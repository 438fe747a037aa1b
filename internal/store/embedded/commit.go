package embedded

import (
	"errors"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// committer runs write functions in shared transactions (group commit):
// while one transaction commits, the writes that arrive queue up, and the
// next transaction runs them all and pays for one commit (one fsync). A
// lone writer commits at once. bbolt's own db.Batch does the same but waits
// MaxBatchDelay (10 ms by default) for company, which a sequential caller,
// such as one execution saving after each of its transitions, pays on
// every write.
//
// The functions of a transaction run one after another, so each still sees
// the writes before it: a check and the write it guards stay atomic. A
// function may run more than once (when another of its transaction fails it
// is run again without it), so it must set its results afresh on every run.
type committer struct {
	db *bolt.DB

	mu      sync.Mutex
	busy    bool
	pending []*call
}

type call struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// errLead tells a queued caller that it now commits the queue.
var errLead = errors.New("lead the next commit")

// maxGroup bounds one transaction, so that its dirty pages stay small.
const maxGroup = 1000

// do runs fn in a write transaction and returns once it is committed: nil,
// fn's own error (its writes discarded), or the commit's error.
func (c *committer) do(fn func(*bolt.Tx) error) error {
	cl := &call{fn: fn, done: make(chan error, 1)}
	c.mu.Lock()
	c.pending = append(c.pending, cl)
	if c.busy {
		c.mu.Unlock()
		err := <-cl.done
		if !errors.Is(err, errLead) {
			return err
		}
		c.mu.Lock()
	}
	c.busy = true
	n := min(len(c.pending), maxGroup)
	group := c.pending[:n:n]
	c.pending = append([]*call(nil), c.pending[n:]...)
	c.mu.Unlock()

	c.run(group)

	c.mu.Lock()
	if len(c.pending) == 0 {
		c.busy = false
		c.mu.Unlock()
	} else {
		next := c.pending[0]
		c.mu.Unlock()
		next.done <- errLead
	}
	return <-cl.done
}

// run commits a group, leaving out (and answering at once) any function
// that fails.
func (c *committer) run(group []*call) {
	for len(group) > 0 {
		failed := -1
		var ferr error
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, cl := range group {
				if err := cl.fn(tx); err != nil {
					failed, ferr = i, err
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			group[failed].done <- ferr
			group = append(group[:failed:failed], group[failed+1:]...)
			continue
		}
		for _, cl := range group {
			cl.done <- err
		}
		return
	}
}
