// Package embedded is the store of `lethe local`: one bbolt file in the
// data directory stands in for every region's DynamoDB requests table, its
// stream, and the Step Functions service's memory of executions (the ASL
// engine's checkpoints). Nothing runs beside the process, so a newcomer
// needs no AWS account and no server, and a SIGKILLed process finds
// everything again when it reopens the file.
//
// Each region has its own buckets, so the residency wall between regions
// holds on disk as it does between the regional stacks. Every write is one
// bbolt transaction: there is one writer at a time, so a check and the write
// it guards are atomic, the embedded counterpart of DynamoDB's conditional
// writes and transactions.
package embedded

import (
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/lethe-erasure/lethe/internal/shred"
)

// Options tune a DB. The zero value is durable and uses the wall clock.
type Options struct {
	// NoSync skips fsync on commit. A process killed with SIGKILL loses
	// nothing (the kernel still holds the pages); a power cut may. The
	// benchmarks and a fast demo use it; the default keeps every commit
	// on disk.
	NoSync bool
	// Now is the clock that dates idempotency keys, tenant registrations
	// and stream records; the local runtime passes its accelerated clock so
	// that a key expires on the same time scale as everything else.
	// Default time.Now.
	Now func() time.Time
}

// DB is one open data file. It is safe for concurrent use by every region
// of the process.
type DB struct {
	bolt   *bolt.DB
	now    func() time.Time
	commit *committer
	// keys seal each request's subject id under a key of its own, shredded
	// when the request forgets the subject (internal/shred): bbolt keeps
	// freed pages as they were, and a sealed id in a freed page is
	// unreadable once its key is gone.
	keys *shred.Keys

	mu      sync.Mutex
	regions map[string]*region
}

// region holds what the requests, stream and checkpoints of one region share
// in memory.
type region struct {
	name string
	// wake tells the region's streamer that a request was created, so
	// that it starts within milliseconds rather than at the next poll.
	wake      chan struct{}
	streaming bool
	requests  *Requests
	cps       *Checkpoints
}

// OpenTimeout bounds how long Open waits for the file lock: a second
// `lethe local` on the same data directory fails at once with a clear
// error instead of hanging.
const OpenTimeout = time.Second

// ErrInUse means another process holds the data file.
var ErrInUse = errors.New("data directory in use by another lethe local")

// Open opens the data file at path, creating it if needed. The runtime
// passes <datadir>/lethe.db.
func Open(path string, opts Options) (*DB, error) {
	b, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: OpenTimeout,
		NoSync:  opts.NoSync,
		// Saving the freelist on every commit costs a write proportional to
		// the file's free pages (the stream deletes what it delivered, so
		// there are many); it is rebuilt by a scan on open instead, which
		// happens once per process.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	keys, err := shred.Open(KeysDir(path), shred.Options{NoSync: opts.NoSync})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db := &DB{bolt: b, now: now, commit: &committer{db: b}, keys: keys, regions: map[string]*region{}}
	if err := db.sweepKeys(); err != nil {
		b.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// KeysDir is where the DB at path keeps its requests' subject keys.
func KeysDir(path string) string { return path + ".keys" }

// sweepKeys shreds the keys no stored request holds a subject under: those
// of requests that forgot it when the process died before shredding, and
// those made for a request whose write never committed.
func (db *DB) sweepKeys() error {
	held := map[string]bool{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, top *bolt.Bucket) error {
			reqs := top.Bucket(bRequests)
			if reqs == nil {
				return nil
			}
			return reqs.ForEach(func(k, v []byte) error {
				rec, err := decodeRecord(k, v)
				if err != nil {
					return err
				}
				if rec.SubjectID != "" {
					held[shred.Name(string(k))] = true
				}
				return nil
			})
		})
	})
	if err != nil {
		return err
	}
	_, err = db.keys.Sweep(func(file string) bool { return held[file] })
	return err
}

// Close closes the file. Writes in flight finish first; calls made after
// Close fail with a *erasure.StoreUnavailable.
func (db *DB) Close() error {
	return db.bolt.Close()
}

// Path is the file the DB was opened on.
func (db *DB) Path() string { return db.bolt.Path() }

func (db *DB) region(name string) *region {
	db.mu.Lock()
	defer db.mu.Unlock()
	r, ok := db.regions[name]
	if !ok {
		r = &region{name: name, wake: make(chan struct{}, 1)}
		db.regions[name] = r
	}
	return r
}

// Bucket names. Each region has a top-level bucket "region:<name>" holding
// the buckets below, so that one region's data is never read through
// another's handle.
var (
	bRequests   = []byte("requests")    // request id -> requestRecord (JSON)
	bSubjects   = []byte("subjects")    // subject's keyed hash -> request id of the open request
	bIdem       = []byte("idempotency") // hex(SHA-256(key)) -> idemRecord (JSON)
	bTenants    = []byte("tenants")     // tenant key -> registeredAt (RFC 3339)
	bFeed       = []byte("feed")        // big-endian sequence number -> feedRecord (JSON)
	bAudit      = []byte("auditchain")  // big-endian seq -> dynamo.AuditItem (JSON)
	bAuditHead  = []byte("audithead")   // "head" -> audit.Head (JSON)
	bCallbacks  = []byte("callbacks")   // hex(SHA-256(callback token)) -> dynamo.CallbackItem (JSON)
	bErased     = []byte("erased")      // subject's keyed hash -> []dynamo.Erased (JSON): the suppression list
	bCheckpoint = []byte("executions")  // execution ARN -> finished flag + state
	bEvents     = []byte("history")     // execution ARN, 0, big-endian event id -> event JSON
	bUnfinished = []byte("unfinished")  // execution ARN -> empty: the executions Resume continues
	// bClosed is created on the first close (files older than it lack it):
	// big-endian unix nanoseconds of the close, then the ARN -> empty.
	bClosed = []byte("closed")
)

var allBuckets = [][]byte{bRequests, bSubjects, bIdem, bTenants, bFeed, bCheckpoint, bEvents, bUnfinished, bAudit, bAuditHead, bErased, bCallbacks}

func regionKey(name string) []byte { return []byte("region:" + name) }

// writeBucket returns the region's bucket of the given name in a write
// transaction, creating the region's buckets the first time.
func writeBucket(tx *bolt.Tx, regionName string, name []byte) (*bolt.Bucket, error) {
	top := tx.Bucket(regionKey(regionName))
	if top == nil {
		var err error
		if top, err = tx.CreateBucket(regionKey(regionName)); err != nil {
			return nil, err
		}
		for _, n := range allBuckets {
			if _, err := top.CreateBucket(n); err != nil {
				return nil, err
			}
		}
	}
	b := top.Bucket(name)
	if b == nil {
		return nil, fmt.Errorf("bucket %s of region %s is missing", name, regionName)
	}
	return b, nil
}

// readBucket returns the region's bucket of the given name, or nil when the
// region has never been written.
func readBucket(tx *bolt.Tx, regionName string, name []byte) *bolt.Bucket {
	top := tx.Bucket(regionKey(regionName))
	if top == nil {
		return nil
	}
	return top.Bucket(name)
}
