// Package edgeembedded is the edge's four tables (the tenant directory,
// the deliveries, the quarantine and the global erasures) in one bbolt
// file, for `lethe local`: the same interfaces (internal/edge) and the same
// semantics as the DynamoDB adapter (internal/store/edgedynamo), so that
// the edge's handlers run on a laptop exactly as they run in Lambda.
//
// Every operation is one bbolt transaction: a conditional write (a claim,
// a hold that only creates, a registration that moves a tenant only when
// asked) reads and writes under the file's single writer lock, which is
// what DynamoDB's condition expressions give the adapter. An item past its
// expiresAt reads as absent at once; a sweep deletes such items lazily.
package edgeembedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/lethe-erasure/lethe/internal/shred"

	"github.com/lethe-erasure/lethe/internal/edge"
	"github.com/lethe-erasure/lethe/internal/store/edgedynamo"
)

// Options tune the store.
type Options struct {
	// NoSync skips the fsync of each commit: for tests and benchmarks,
	// where losing the last writes to a power cut does not matter.
	NoSync bool
	// Now is the clock expiries are read by (DynamoDB's TTL clock, in
	// effect); time.Now when nil. The local runtime passes its accelerated
	// clock, so quarantined deliveries expire on the clock the rest of the
	// edge runs on.
	Now func() time.Time
}

// ErrLocked means another process (or another Open in this one) holds the
// file: two `lethe local` on one data directory would otherwise fight
// over it.
var ErrLocked = errors.New("the edge store is in use by another process (is another lethe local running on this data directory?)")

// openTimeout is how long Open waits for the file's lock before failing
// with ErrLocked.
const openTimeout = time.Second

// Lazy sweeping: at most once per sweepInterval of the store's clock, a
// write is followed by a sweep deleting at most sweepBatch expired items.
const (
	sweepInterval = time.Hour
	sweepBatch    = 10000
)

// DB is the open file. It is safe for concurrent use.
type DB struct {
	bolt *bolt.DB
	now  func() time.Time
	// keys seal each held delivery's body, headers and query under a key
	// of its own, shredded when the delivery is released, dropped or
	// expires (internal/shred): bbolt keeps freed pages as they were.
	keys *shred.Keys

	sweeping  sync.Mutex
	lastSweep atomic.Int64 // store clock, Unix nanoseconds
}

// Open opens (creating it, and its directory, if need be) the edge's store
// at path; the local runtime passes <datadir>/edge.db. The file is
// readable by its owner only: the quarantine holds webhook bodies.
func Open(path string, opts Options) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open edge store %s: %w", path, err)
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout, NoSync: opts.NoSync})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open edge store %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open edge store %s: %w", path, err)
	}
	db := &DB{bolt: b, now: opts.Now}
	if db.now == nil {
		db.now = time.Now
	}
	if err := b.Update(initSchema); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open edge store %s: %w", path, err)
	}
	if db.keys, err = shred.Open(path+".keys", shred.Options{NoSync: opts.NoSync}); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open edge store %s: %w", path, err)
	}
	if err := b.Update(db.migrateV1); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open edge store %s: %w", path, err)
	}
	if err := db.sweepKeys(); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open edge store %s: %w", path, err)
	}
	return db, nil
}

// migrateV1 seals the bodies, headers and queries a layout-1 file held in
// clear in its quarantine.
func (db *DB) migrateV1(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if string(meta.Get(keyVersion)) != "1" {
		return nil
	}
	q := tx.Bucket(bucketQuarantine)
	items := map[string]heldItem{}
	err := q.ForEach(func(k, v []byte) error {
		var legacy struct {
			heldItem
			heldPayload
		}
		if err := json.Unmarshal(v, &legacy); err != nil {
			return fmt.Errorf("quarantine item %s: %w", k, err)
		}
		payload, err := json.Marshal(legacy.heldPayload)
		if err != nil {
			return err
		}
		it := legacy.heldItem
		if it.Sealed, err = db.keys.Seal(string(k), payload); err != nil {
			return err
		}
		items[string(k)] = it
		return nil
	})
	if err != nil {
		return err
	}
	for k, it := range items {
		v, err := json.Marshal(it)
		if err != nil {
			return err
		}
		if err := q.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return meta.Put(keyVersion, []byte(schemaVersion))
}

// sweepKeys shreds the keys of held deliveries the quarantine no longer
// holds: dropped or swept before the process could shred their keys.
func (db *DB) sweepKeys() error {
	held := map[string]bool{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketQuarantine).ForEach(func(k, _ []byte) error {
			held[shred.Name(string(k))] = true
			return nil
		})
	})
	if err != nil {
		return err
	}
	_, err = db.keys.Sweep(func(file string) bool { return held[file] })
	return err
}

// initSchema creates the buckets of a new file and refuses a file of
// another layout version.
func initSchema(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	switch v := meta.Get(keyVersion); {
	case v == nil:
		if err := meta.Put(keyVersion, []byte(schemaVersion)); err != nil {
			return err
		}
	case string(v) == "1":
		// Layout 1 held quarantined bodies in clear: Open seals them.
	case string(v) != schemaVersion:
		return fmt.Errorf("the file has layout version %q, this build reads %q", v, schemaVersion)
	}
	for _, name := range [][]byte{bucketTenants, bucketDeliveries, bucketQuarantine, bucketGlobal} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the file. Calls after Close fail with
// *edge.StoreUnavailable, which the edge answers 503 (a provider retries).
func (db *DB) Close() error { return db.bolt.Close() }

// Path is the file's path, for the runtime's start-up message.
func (db *DB) Path() string { return db.bolt.Path() }

// Directory is the tenant directory (edge.Directory).
func (db *DB) Directory() *Directory { return &Directory{db: db} }

// Deliveries is the de-duplication and receipt store (edge.Deliveries).
func (db *DB) Deliveries() *Deliveries { return &Deliveries{db: db} }

// Quarantine holds unknown tenants' deliveries (edge.Quarantine).
func (db *DB) Quarantine() *Quarantine { return &Quarantine{db: db} }

// Globals stores global erasures and their Idempotency-Keys (edge.Globals).
func (db *DB) Globals() *Globals { return &Globals{db: db} }

// errNoWrite ends an update transaction that decided to change nothing (a
// duplicate claim, a hold of a held delivery): it is rolled back instead
// of committed, which spares a sync, and the operation succeeds.
var errNoWrite = errors.New("no write")

// contextErr reports a context that ended before the operation as the
// DynamoDB adapter does: a cancelled call plainly, a deadline as
// *edge.StoreUnavailable.
func contextErr(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return &edge.StoreUnavailable{Op: op, Err: err}
}

// read runs fn in a read transaction. fn's own errors are returned as they
// are; the file's (closed, I/O) as *edge.StoreUnavailable.
func (db *DB) read(ctx context.Context, op string, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return contextErr(op, err)
	}
	var fnErr error
	err := db.bolt.View(func(tx *bolt.Tx) error {
		fnErr = fn(tx)
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return &edge.StoreUnavailable{Op: op, Err: err}
	}
	return nil
}

// update runs fn in one write transaction, committed unless fn fails or
// returns errNoWrite; then, now and then, sweeps expired items.
func (db *DB) update(ctx context.Context, op string, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return contextErr(op, err)
	}
	var fnErr error
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		fnErr = fn(tx)
		return fnErr
	})
	switch {
	case errors.Is(fnErr, errNoWrite):
		return nil
	case fnErr != nil:
		return fnErr
	case err != nil:
		return &edge.StoreUnavailable{Op: op, Err: err}
	}
	db.maybeSweep()
	return nil
}

// get decodes the item at key of bucket into v; found is false when there
// is none.
func get(tx *bolt.Tx, op string, bucket []byte, key string, v any) (found bool, err error) {
	raw := tx.Bucket(bucket).Get([]byte(key))
	if raw == nil {
		return false, nil
	}
	return true, decode(op, bucket, raw, v)
}

// put encodes v as the item at key of bucket.
func put(tx *bolt.Tx, op string, bucket []byte, key string, v any) error {
	raw, err := encode(op, v)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucket).Put([]byte(key), raw); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// maybeSweep sweeps when the last complete sweep is sweepInterval old on
// the store's clock and no other sweep runs. Its failures are left to the
// next one: reads hide expired items anyway.
func (db *DB) maybeSweep() {
	now := db.now()
	if now.UnixNano()-db.lastSweep.Load() < int64(sweepInterval) {
		return
	}
	if !db.sweeping.TryLock() {
		return
	}
	defer db.sweeping.Unlock()
	n, err := db.sweep(now)
	if err == nil && n < sweepBatch {
		db.lastSweep.Store(now.UnixNano())
	}
}

// Sweep deletes up to a batch of expired receipts, held deliveries and
// Idempotency-Key bindings now, and returns how many it deleted; the
// store also sweeps by itself after writes. Reads never see expired items
// either way: sweeping only gives the space back.
func (db *DB) Sweep(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, contextErr("sweep", err)
	}
	db.sweeping.Lock()
	defer db.sweeping.Unlock()
	now := db.now()
	n, err := db.sweep(now)
	if err != nil {
		return n, err
	}
	if n < sweepBatch {
		db.lastSweep.Store(now.UnixNano())
	}
	return n, nil
}

// expiry is what a sweep decodes of an item.
type expiry struct {
	Kind      string `json:"kind"`
	ExpiresAt int64  `json:"expiresAt"`
}

// gone says whether an item of bucket is past its expiry, by the rule its
// reads apply.
func (e expiry) gone(bucket string, now time.Time) bool {
	switch bucket {
	case string(bucketDeliveries):
		return deliveryItem{ExpiresAt: e.ExpiresAt}.expired(now)
	case string(bucketQuarantine):
		return e.Kind == edgedynamo.KindHeld && heldGone(e.ExpiresAt, now)
	case string(bucketGlobal):
		return e.Kind == edgedynamo.KindIdempotency && idemGone(e.ExpiresAt, now)
	}
	return false
}

func (db *DB) sweep(now time.Time) (int, error) {
	n := 0
	var shredded []string
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		shredded = shredded[:0]
		for _, name := range [][]byte{bucketDeliveries, bucketQuarantine, bucketGlobal} {
			b := tx.Bucket(name)
			var doomed [][]byte
			err := b.ForEach(func(k, v []byte) error {
				var e expiry
				if err := decode("sweep", name, v, &e); err != nil {
					return nil // a damaged item is left for a person to see
				}
				if e.gone(string(name), now) && n+len(doomed) < sweepBatch {
					doomed = append(doomed, append([]byte(nil), k...))
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range doomed {
				if err := b.Delete(k); err != nil {
					return err
				}
				if string(name) == string(bucketQuarantine) {
					shredded = append(shredded, string(k))
				}
			}
			n += len(doomed)
		}
		return nil
	})
	if err != nil {
		return 0, &edge.StoreUnavailable{Op: "sweep", Err: err}
	}
	for _, id := range shredded {
		_ = db.keys.Shred(id) // one left behind is shredded at the next Open
	}
	return n, nil
}
