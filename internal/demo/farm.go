// Package demo holds the demo subsystems that `lethe local` serves for the
// default configuration (projects sync; orders and customers async, in each
// region): small HTTP services that speak the subsystem contract of
// DESIGN.md, hold a few subject records and really delete them, so that a
// newcomer can file an erasure and watch it reach every subsystem with no
// AWS account and no real systems.
//
// One Farm keeps the state of every demo subsystem of every region in one
// bbolt file, so that subjects erased stay erased and tickets issued before
// a SIGKILL still answer after a restart. Fault knobs (error rate, latency,
// outage, never-finish) make retries, failure mail and the deadline visible.
//
// The demo never logs, and never puts a subject id in an error answer or in
// what it reports to OnCall observers.
package demo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
)

// Farm is the persisted state of every demo subsystem of every region, and
// the knobs each one currently runs with. It is safe for concurrent use.
type Farm struct {
	db    *bolt.DB
	clock asl.Clock

	mu        sync.RWMutex
	knobs     map[string]config.DemoSubsystem // by key(region, subsystem)
	observers []func(Call)

	// random draws the error-rate lottery: a uniform number in [0, 1).
	random func() float64
}

// Call is one answer a demo subsystem gave, reported to OnCall observers:
// what tests assert residency (no call to another region's subsystem) and
// exactly-once submission on.
type Call struct {
	Region    string
	Subsystem string
	Method    string
	// Path is the request's path with the subject id replaced by
	// {subjectId} (DELETE /subjects/{subjectId}), so that observers that
	// print calls cannot leak one; a ticket is left in place.
	Path string
	// Status is the HTTP status answered, or 0 when the caller went away
	// during the injected latency and nothing was done.
	Status int
	// RequestID is the erasure request the call belongs to, when the call
	// says it (a submit's body; a check, from its ticket). A sync delete
	// carries no request id.
	RequestID string
	// SubjectHash is hex(SHA-256(subjectId)) of a delete or submit, the
	// same hash the requests table keys its subject locks by: a test can
	// count the calls per subject without the subject id travelling.
	SubjectHash string
}

// Layout of the bbolt file: one bucket per subsystem ("<region>/<name>")
// under rootBucket, each holding the buckets below. A subsystem's bucket
// exists once it has been seeded, so seeding happens once per file.
var (
	rootBucket      = []byte("subsystems")
	metaBucket      = []byte("meta")
	subjectsBucket  = []byte("subjects")  // hex(SHA-256(subject id)) -> empty: the data held
	ticketsBucket   = []byte("tickets")   // ticket -> JSON ticketRecord
	requestsBucket  = []byte("requests")  // request id -> ticket
	pendingBucket   = []byte("pending")   // 8-byte submittedAt (unix ns, big-endian) + ticket -> empty
	callbacksBucket = []byte("callbacks") // ticket -> empty: finished erasures whose callback is still to make
	versionKey      = []byte("version")
	layoutVersion   = []byte("2")
)

// Open opens (creating it if needed) the demo subsystems' state file at
// path: the local runtime passes <datadir>/subsystems.db. clock is the
// runtime's (accelerated) clock; async erasures finish FinishAfterSeconds
// after their submission on it. Only Now is used.
func Open(path string, clock asl.Clock) (*Farm, error) {
	if clock == nil {
		return nil, errors.New("demo: a clock is required")
	}
	// The file lock is held by a running farm: fail after a second instead
	// of hanging when another `lethe local` uses the same data directory.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open demo subsystems' state %s: %w", path, err)
	}
	// Concurrent calls share one commit (and one fsync); a lone call waits
	// at most this long for company.
	db.MaxBatchDelay = 2 * time.Millisecond
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(rootBucket); err != nil {
			return err
		}
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		switch v := meta.Get(versionKey); {
		case v == nil:
			return meta.Put(versionKey, layoutVersion)
		case string(v) == "1":
			if err := migrateV1(tx.Bucket(rootBucket)); err != nil {
				return err
			}
			return meta.Put(versionKey, layoutVersion)
		case string(v) != string(layoutVersion):
			return fmt.Errorf("layout version %q, this build reads %q", v, layoutVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("prepare demo subsystems' state %s: %w", path, err)
	}
	return &Farm{db: db, clock: clock, knobs: map[string]config.DemoSubsystem{}, random: rand.Float64}, nil
}

// migrateV1 rewrites a layout-1 file, which held subject ids in clear (as
// keys of the held bucket and in pending tickets), to hold only their
// hashes.
func migrateV1(root *bolt.Bucket) error {
	return root.ForEachBucket(func(k []byte) error {
		b := root.Bucket(k)
		if held := b.Bucket(subjectsBucket); held != nil {
			var clear [][]byte
			_ = held.ForEach(func(id, _ []byte) error {
				clear = append(clear, append([]byte(nil), id...))
				return nil
			})
			for _, id := range clear {
				if err := held.Delete(id); err != nil {
					return err
				}
				if err := held.Put([]byte(subjectHash(string(id))), []byte{}); err != nil {
					return err
				}
			}
		}
		tickets := b.Bucket(ticketsBucket)
		if tickets == nil {
			return nil
		}
		rewritten := map[string][]byte{}
		err := tickets.ForEach(func(t, v []byte) error {
			var r map[string]any
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("ticket record is corrupt: %w", err)
			}
			if _, ok := r["subject"]; !ok {
				return nil
			}
			delete(r, "subject")
			nv, err := json.Marshal(r)
			rewritten[string(t)] = nv
			return err
		})
		if err != nil {
			return err
		}
		for t, v := range rewritten {
			if err := tickets.Put([]byte(t), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// Close releases the state file. Handlers answer 503 afterwards.
func (f *Farm) Close() error { return f.db.Close() }

// SetFaults replaces the knobs of one subsystem while it runs: how tests
// and the local runtime turn an outage on and off. FinishAfterSeconds 0
// means config.DefaultDemoFinishAfterSeconds; Subjects are only read when a
// subsystem is first seeded. Changing FinishAfterSeconds moves the due time
// of erasures already pending, which is measured from their submission.
func (f *Farm) SetFaults(region, subsystem string, d config.DemoSubsystem) {
	if d.FinishAfterSeconds <= 0 {
		d.FinishAfterSeconds = config.DefaultDemoFinishAfterSeconds
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.knobs[key(region, subsystem)] = d
}

// Faults returns the knobs a subsystem runs with now.
func (f *Farm) Faults(region, subsystem string) config.DemoSubsystem {
	return f.knobsOf(key(region, subsystem))
}

// OnCall registers an observer that is told of every answer, after it is
// written and before the handler returns (so, for a client, before the
// answer arrives). Observers must be quick and must not call back into the
// farm's handlers.
func (f *Farm) OnCall(fn func(Call)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.observers = append(f.observers, fn)
}

// Holds says whether a subsystem still holds a subject, after finishing the
// async erasures that are due: what tests and the console check "really
// deleted" on.
func (f *Farm) Holds(region, subsystem, subject string) bool {
	k := key(region, subsystem)
	d := f.knobsOf(k)
	now := f.clock.Now()
	if f.anyDue(k, d, now) {
		// A failure leaves the erasures pending; the answer below then
		// says what the file holds.
		_ = f.db.Batch(func(tx *bolt.Tx) error {
			s := open(tx, k)
			if s == nil {
				return nil
			}
			return s.settle(now, d)
		})
	}
	held := false
	_ = f.db.View(func(tx *bolt.Tx) error {
		if s := open(tx, k); s != nil {
			held = s.subjects.Get([]byte(subjectHash(subject))) != nil
		}
		return nil
	})
	return held
}

func key(region, subsystem string) string { return region + "/" + subsystem }

func (f *Farm) knobsOf(k string) config.DemoSubsystem {
	f.mu.RLock()
	defer f.mu.RUnlock()
	d, ok := f.knobs[k]
	if !ok || d.FinishAfterSeconds <= 0 {
		d.FinishAfterSeconds = config.DefaultDemoFinishAfterSeconds
	}
	return d
}

func (f *Farm) notify(c Call) {
	f.mu.RLock()
	obs := f.observers
	f.mu.RUnlock()
	for _, fn := range obs {
		fn(c)
	}
}

// seed creates a subsystem's buckets and its subjects on first sight.
func (f *Farm) seed(k string) error {
	d := f.knobsOf(k)
	return f.db.Batch(func(tx *bolt.Tx) error {
		_, err := seeded(tx, k, d)
		return err
	})
}

// anyDue says whether an erasure of the subsystem is due to finish.
func (f *Farm) anyDue(k string, d config.DemoSubsystem, now time.Time) bool {
	if d.NeverFinish {
		return false
	}
	due := false
	_ = f.db.View(func(tx *bolt.Tx) error {
		if s := open(tx, k); s != nil {
			if first, _ := s.pending.Cursor().First(); first != nil {
				due = isDue(pendingTime(first), now, d)
			}
		}
		return nil
	})
	return due
}

func subjectHash(subject string) string {
	h := sha256.Sum256([]byte(subject))
	return hex.EncodeToString(h[:])
}
