package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/outcome"
	"github.com/lethe-erasure/lethe/internal/receiver"
	"github.com/lethe-erasure/lethe/internal/shred"
	"github.com/lethe-erasure/lethe/internal/starter"
	"github.com/lethe-erasure/lethe/internal/store/dynamo"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

// Requests is one region's requests table: the same methods, with the same
// meaning, as *dynamo.Store, so that the very handlers Lambda runs (api,
// starter, subsystem, outcome, receiver) run on it unchanged. (The api and
// subsystem packages declare their interfaces unexported; the tests assert
// against copies of them.)
type Requests struct {
	db     *DB
	region *region
}

var (
	_ starter.Requests  = (*Requests)(nil)
	_ outcome.Requests  = (*Requests)(nil)
	_ receiver.Requests = (*Requests)(nil)
)

// Requests returns the requests table of a region (its short name, e.g.
// "eu"). Asking twice returns the same table.
func (db *DB) Requests(regionName string) *Requests {
	r := db.region(regionName)
	db.mu.Lock()
	defer db.mu.Unlock()
	if r.requests == nil {
		r.requests = &Requests{db: db, region: r}
	}
	return r.requests
}

// List limits, the DynamoDB adapter's.
const (
	// DefaultListLimit is what List returns when asked for 0 or fewer.
	DefaultListLimit = dynamo.DefaultListLimit
	// MaxListLimit caps one List call.
	MaxListLimit = dynamo.MaxListLimit
)

// requestRecord is a request as stored: the DynamoDB item's attributes
// (dynamo.RequestItem, as JSON), times as RFC 3339 text in UTC, so that a
// request reads back exactly as the DynamoDB adapter reads it (no monotonic
// clock reading, no location). The subject id is stored here as in the
// DynamoDB item, and nowhere else.
type requestRecord = dynamo.RequestItem

type idemRecord struct {
	RequestID   string `json:"requestId"`
	SubjectHash string `json:"subjectHash"`
	ExpiresAt   int64  `json:"expiresAt"` // epoch seconds, as the table's TTL attribute
}

// unavailable wraps a failure of the file itself (closed, disk full) as the
// error type the state machines retry, as the DynamoDB adapter does with a
// throttled or failing table.
func unavailable(op string, err error) error {
	return &erasure.StoreUnavailable{Op: op, Err: err}
}

// getRecord reads a request record; ok is false when there is none.
func getRecord(b *bolt.Bucket, id string) (requestRecord, bool, error) {
	if b == nil || id == "" {
		return requestRecord{}, false, nil
	}
	v := b.Get([]byte(id))
	if v == nil {
		return requestRecord{}, false, nil
	}
	rec, err := decodeRecord([]byte(id), v)
	return rec, err == nil, err
}

// decodeRecord decodes the request record stored under key k.
func decodeRecord(k, v []byte) (requestRecord, error) {
	var rec requestRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		return requestRecord{}, fmt.Errorf("decode request %s: %w", k, err)
	}
	return rec, nil
}

// decodeRequest decodes the request stored under key k, its subject
// left sealed.
func (r *Requests) decodeRequest(k, v []byte) (erasure.Request, error) {
	rec, err := decodeRecord(k, v)
	if err != nil {
		return erasure.Request{}, err
	}
	return r.db.request(rec, false)
}

func putJSON(b *bolt.Bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), raw)
}

// sealed is the record that stores req: its subject id sealed under the
// request's own key (created on first use).
func (db *DB) sealed(req erasure.Request) (requestRecord, error) {
	rec := dynamo.NewRequestItem(req)
	if rec.SubjectID == "" {
		return rec, nil
	}
	v, err := db.keys.Seal(req.ID, []byte(rec.SubjectID))
	if err != nil {
		return requestRecord{}, fmt.Errorf("seal the subject of %s: %w", req.ID, err)
	}
	rec.SubjectID = v
	return rec, nil
}

// request reads a stored record back: with its subject id unsealed when
// withSubject, without it otherwise. A subject whose key is shredded reads
// as forgotten.
func (db *DB) request(rec requestRecord, withSubject bool) (erasure.Request, error) {
	sealedSubject := rec.SubjectID
	rec.SubjectID = ""
	req, err := rec.Request()
	if err != nil || !withSubject || sealedSubject == "" {
		return req, err
	}
	if !shred.Sealed(sealedSubject) {
		req.SubjectID = sealedSubject
		return req, nil
	}
	plain, err := db.keys.Unseal(rec.PK, sealedSubject)
	switch {
	case errors.Is(err, shred.ErrShredded):
		return req, nil
	case err != nil:
		return erasure.Request{}, fmt.Errorf("request %s: %w", rec.PK, err)
	}
	req.SubjectID = string(plain)
	return req, nil
}

// Create stores a new pending request unless its subject already has an
// open request (then that request is returned with created=false) or the
// idempotency key was used before (then the key's request is returned, or
// erasure.ErrIdempotencyKeyReused when it was used for another subject).
// The checks, the request, the subject's lock, the key's record and the
// stream record are one transaction, so concurrent intakes of one subject
// create exactly one request, and a request is on the stream if and only if
// it is stored. As in DynamoDB, the key decides first: a retried call with
// the same key gets the same answer even after its request has closed.
func (r *Requests) Create(ctx context.Context, req erasure.Request, idempotencyKey string) (stored erasure.Request, created bool, err error) {
	req, err = dynamo.CheckNew(req)
	if err != nil {
		return erasure.Request{}, false, err
	}
	rec, err := r.db.sealed(req)
	if err != nil {
		return erasure.Request{}, false, unavailable("create request "+req.ID, err)
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		return erasure.Request{}, false, fmt.Errorf("create request %s: %w", req.ID, err)
	}
	subjectHash := req.SubjectHash
	var idemHash string
	if idempotencyKey != "" {
		idemHash = dynamo.Hash(idempotencyKey)
	}
	var existing requestRecord
	var found, refused bool
	err = r.db.commit.do(func(tx *bolt.Tx) error {
		existing, found, refused = requestRecord{}, false, false
		now := r.db.now()
		reqs, err := writeBucket(tx, r.region.name, bRequests)
		if err != nil {
			return err
		}
		top := tx.Bucket(regionKey(r.region.name))
		subjects, idem := top.Bucket(bSubjects), top.Bucket(bIdem)
		if idemHash != "" {
			if v := idem.Get([]byte(idemHash)); v != nil {
				var ir idemRecord
				if err := json.Unmarshal(v, &ir); err != nil {
					return fmt.Errorf("decode idempotency record: %w", err)
				}
				// An expired record no longer binds the key (DynamoDB's
				// condition: expiresAt < now).
				if ir.ExpiresAt >= now.Unix() {
					if ir.SubjectHash != subjectHash {
						refused = true
						return nil
					}
					got, ok, err := getRecord(reqs, ir.RequestID)
					if err != nil {
						return err
					}
					if !ok {
						return fmt.Errorf("idempotency key's request: %w", erasure.ErrNotFound)
					}
					existing, found = got, true
					return nil
				}
			}
		}
		if id := subjects.Get([]byte(subjectHash)); id != nil {
			got, ok, err := getRecord(reqs, string(id))
			if err != nil {
				return err
			}
			// A lock whose request is gone or closed is stale: replaced.
			if ok && erasure.Status(got.Status).Open() {
				existing, found = got, true
				if idemHash == "" {
					return nil
				}
				// Bind the key to the open request, so that a replay after
				// it closed answers it again instead of filing a new one.
				return putJSON(idem, idemHash, idemRecord{RequestID: got.PK, SubjectHash: subjectHash, ExpiresAt: now.Add(dynamo.IdempotencyTTL).Unix()})
			}
		}
		if reqs.Get([]byte(req.ID)) != nil {
			return errDuplicateID
		}
		if err := reqs.Put([]byte(req.ID), raw); err != nil {
			return err
		}
		if err := subjects.Put([]byte(subjectHash), []byte(req.ID)); err != nil {
			return err
		}
		if idemHash != "" {
			if err := putJSON(idem, idemHash, idemRecord{RequestID: req.ID, SubjectHash: subjectHash, ExpiresAt: now.Add(dynamo.IdempotencyTTL).Unix()}); err != nil {
				return err
			}
		}
		return appendFeed(top.Bucket(bFeed), raw, now)
	})
	switch {
	case errors.Is(err, errDuplicateID):
		return erasure.Request{}, false, fmt.Errorf("create request %s: a request with this id already exists", req.ID)
	case errors.Is(err, erasure.ErrNotFound):
		return erasure.Request{}, false, fmt.Errorf("create request: %w", err)
	case err != nil:
		return erasure.Request{}, false, unavailable("create request "+req.ID, err)
	case refused:
		return erasure.Request{}, false, erasure.ErrIdempotencyKeyReused
	case found:
		got, err := r.db.request(existing, true)
		return got, false, err
	}
	r.region.notify()
	return dynamo.Normalise(req), true, nil
}

var errDuplicateID = errors.New("a request with this id already exists")

// view runs a read transaction; failures of the file are StoreUnavailable.
func (r *Requests) view(op string, fn func(reqs *bolt.Bucket) error) error {
	err := r.db.bolt.View(func(tx *bolt.Tx) error {
		return fn(readBucket(tx, r.region.name, bRequests))
	})
	if err != nil && errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return unavailable(op, err)
	}
	return err
}

// Get returns a request with its subject id, or erasure.ErrNotFound.
func (r *Requests) Get(ctx context.Context, id string) (erasure.Request, error) {
	var rec requestRecord
	var ok bool
	err := r.view("get request "+id, func(b *bolt.Bucket) (err error) {
		rec, ok, err = getRecord(b, id)
		return err
	})
	if err != nil {
		return erasure.Request{}, err
	}
	if !ok {
		return erasure.Request{}, erasure.ErrNotFound
	}
	return r.db.request(rec, true)
}

// List returns the most recent requests, newest first (request ids are
// UUIDv7, so key order is receipt order). A limit of 0 or less means
// DefaultListLimit; more than MaxListLimit is capped. Unlike the DynamoDB
// index it is never stale.
func (r *Requests) List(ctx context.Context, limit int) ([]erasure.Request, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	var recs []requestRecord
	err := r.view("list requests", func(b *bolt.Bucket) error {
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && len(recs) < limit; k, v = c.Prev() {
			rec, err := decodeRecord(k, v)
			if err != nil {
				return err
			}
			recs = append(recs, rec)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]erasure.Request, 0, len(recs))
	for _, rec := range recs {
		req, err := r.db.request(rec, true)
		if err != nil {
			return nil, err
		}
		out = append(out, req)
	}
	return out, nil
}

// OpenRequests returns every open request (pending or running), soonest
// deadline first, without subject ids, as the DynamoDB adapter's GSI
// "open" does. It reads the whole bucket: lethe local holds few requests.
func (r *Requests) OpenRequests(ctx context.Context) ([]erasure.Request, error) {
	return r.soonestFirst("list open requests", func(req erasure.Request) bool { return req.Status.Open() })
}

// soonestFirst returns the requests that match, without subject ids,
// soonest deadline first: the embedded store's partitions of the index
// "open".
func (r *Requests) soonestFirst(op string, match func(erasure.Request) bool) ([]erasure.Request, error) {
	var out []erasure.Request
	err := r.view(op, func(b *bolt.Bucket) error {
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			req, err := r.decodeRequest(k, v)
			if err != nil {
				return err
			}
			if match(req) {
				out = append(out, req)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Deadline.Before(out[j].Deadline) })
	return out, nil
}

// Count is how many requests the region holds: the intake figure checks it
// against the number of requests the API accepted.
func (r *Requests) Count(ctx context.Context) (int, error) {
	n := 0
	err := r.view("count requests", func(b *bolt.Bucket) error {
		if b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n, err
}

// MarkRunning records that the request's execution has started. Only a
// pending request changes: a request already running or closed counts as
// success, so a replayed stream record is harmless.
func (r *Requests) MarkRunning(ctx context.Context, id string) error {
	if id == "" {
		return erasure.ErrNotFound
	}
	err := r.db.commit.do(func(tx *bolt.Tx) error {
		reqs := readBucket(tx, r.region.name, bRequests)
		rec, ok, err := getRecord(reqs, id)
		if err != nil {
			return err
		}
		if !ok {
			return erasure.ErrNotFound
		}
		if rec.Status != string(erasure.StatusPending) {
			return nil
		}
		rec.Status = string(erasure.StatusRunning)
		rec.Rev++
		return putJSON(reqs, id, rec)
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, erasure.ErrNotFound):
		return fmt.Errorf("mark request %s running: %w", id, erasure.ErrNotFound)
	default:
		return unavailable("mark request "+id+" running", err)
	}
}

// SubjectOf returns the subject id of a request, for the connectors that
// send it to a subsystem. The subject id travels no other way: executions
// carry only the request id.
func (r *Requests) SubjectOf(ctx context.Context, requestID string) (string, error) {
	var rec requestRecord
	var ok bool
	err := r.view("read subject of request "+requestID, func(b *bolt.Bucket) (err error) {
		rec, ok, err = getRecord(b, requestID)
		return err
	})
	if err != nil {
		return "", err
	}
	if !ok || rec.SubjectID == "" {
		return "", erasure.ErrNotFound
	}
	req, err := r.db.request(rec, true)
	if err != nil {
		return "", err
	}
	if req.SubjectID == "" {
		return "", erasure.ErrNotFound
	}
	return req.SubjectID, nil
}

// RecordOutcome closes an open request with its final status and
// per-subsystem results, and releases its subject's lock in the same
// transaction, so a new request for the subject can be filed from then on.
// A request already closed is returned unchanged: a retried RecordOutcome
// task neither fails nor overwrites the first outcome.
func (r *Requests) RecordOutcome(ctx context.Context, id string, status erasure.Status, completedAt time.Time, results []erasure.SubsystemResult) (erasure.Request, error) {
	if status != erasure.StatusCompleted && status != erasure.StatusFailed {
		return erasure.Request{}, fmt.Errorf("record outcome of %s: %q is not a final status", id, status)
	}
	var out erasure.Request
	forgot := false
	err := r.db.commit.do(func(tx *bolt.Tx) error {
		reqs := readBucket(tx, r.region.name, bRequests)
		rec, ok, err := getRecord(reqs, id)
		if err != nil {
			return err
		}
		if !ok {
			return erasure.ErrNotFound
		}
		cur, err := r.db.request(rec, true)
		if err != nil {
			return err
		}
		out, forgot = cur, false
		if !cur.Status.Open() {
			return nil // the first outcome stands
		}
		closed := cur.Clone()
		closed.Status = status
		closed.CompletedAt = &completedAt
		closed.Subsystems = results
		closed.Rev++
		if closed.Forgets() {
			closed.Forget(r.db.now())
		}
		if err := r.put(tx, cur, closed); err != nil {
			return err
		}
		out, forgot = dynamo.Normalise(closed), dynamo.Forgot(cur, closed)
		// Release the lock only if it is this request's.
		subjects := tx.Bucket(regionKey(r.region.name)).Bucket(bSubjects)
		key := []byte(cur.SubjectHash)
		if string(subjects.Get(key)) == id {
			return subjects.Delete(key)
		}
		return nil
	})
	switch {
	case errors.Is(err, erasure.ErrNotFound):
		return erasure.Request{}, fmt.Errorf("record outcome of %s: %w", id, erasure.ErrNotFound)
	case err != nil:
		var se *erasure.StoreUnavailable
		if errors.As(err, &se) {
			return erasure.Request{}, err
		}
		return erasure.Request{}, unavailable("record outcome of "+id, err)
	}
	if forgot {
		r.shred(id)
	}
	return out, nil
}

// put writes next over cur inside a transaction, its subject sealed, and,
// when next forgets the subject, adds it to the subject's suppression
// record. The caller shreds the request's key once the transaction commits.
func (r *Requests) put(tx *bolt.Tx, cur, next erasure.Request) error {
	rec, err := r.db.sealed(next)
	if err != nil {
		return err
	}
	if err := putJSON(tx.Bucket(regionKey(r.region.name)).Bucket(bRequests), next.ID, rec); err != nil {
		return err
	}
	if !dynamo.Forgot(cur, next) {
		return nil
	}
	b, err := tx.Bucket(regionKey(r.region.name)).CreateBucketIfNotExists(bErased)
	if err != nil {
		return err
	}
	var list []erasure.Erased
	if v := b.Get([]byte(next.SubjectHash)); v != nil {
		if err := json.Unmarshal(v, &list); err != nil {
			return fmt.Errorf("decode suppression record: %w", err)
		}
	}
	return putJSON(b, next.SubjectHash, append(list, erasure.NewErased(next)))
}

// shred destroys the key of a request that forgot its subject. A failure
// leaves the key to the sweep at the next Open; the subject is forgotten in
// the store either way.
func (r *Requests) shred(id string) {
	_ = r.db.keys.Shred(id)
}

// RegisterTenant records that this region owns the tenant. It is
// idempotent: registering again changes nothing and returns the first
// registration's time with created=false.
func (r *Requests) RegisterTenant(ctx context.Context, tenant string) (registeredAt time.Time, created bool, err error) {
	if err := webhook.ValidateTenant("tenant", tenant); err != nil {
		return time.Time{}, false, fmt.Errorf("register tenant: %w", err)
	}
	var at string
	err = r.db.commit.do(func(tx *bolt.Tx) error {
		now := r.db.now().UTC().Round(0)
		at, created = dynamo.FormatTime(now), false
		b, err := writeBucket(tx, r.region.name, bTenants)
		if err != nil {
			return err
		}
		if v := b.Get([]byte(tenant)); v != nil {
			at = string(v)
			return nil
		}
		created = true
		return b.Put([]byte(tenant), []byte(at))
	})
	if err != nil {
		return time.Time{}, false, unavailable("register tenant "+tenant, err)
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("tenant %s: registeredAt is not an RFC 3339 time", tenant)
	}
	return t, created, nil
}

// TenantRegistration returns when the tenant was registered; ok is false
// when this region does not own it (a malformed key is owned by no
// region).
func (r *Requests) TenantRegistration(ctx context.Context, tenant string) (registeredAt time.Time, ok bool, err error) {
	if !webhook.ValidTenant(tenant) {
		return time.Time{}, false, nil
	}
	var at string
	err = r.db.bolt.View(func(tx *bolt.Tx) error {
		if b := readBucket(tx, r.region.name, bTenants); b != nil {
			at = string(b.Get([]byte(tenant)))
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, unavailable("get tenant "+tenant, err)
	}
	if at == "" {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("tenant %s: registeredAt is not an RFC 3339 time", tenant)
	}
	return t, true, nil
}

// OwnsTenant reports whether this region registered the tenant; the
// webhook receiver asks it for every delivery.
func (r *Requests) OwnsTenant(ctx context.Context, tenant string) (bool, error) {
	_, ok, err := r.TenantRegistration(ctx, tenant)
	return ok, err
}

// ListTenants returns up to limit registered tenants in key order (0 or
// less: dynamo.MaxTenantList), as the DynamoDB adapter does for the
// operator's `lethe tenants`.
func (r *Requests) ListTenants(ctx context.Context, limit int) ([]dynamo.Tenant, error) {
	if limit <= 0 || limit > dynamo.MaxTenantList {
		limit = dynamo.MaxTenantList
	}
	var out []dynamo.Tenant
	err := r.db.bolt.View(func(tx *bolt.Tx) error {
		b := readBucket(tx, r.region.name, bTenants)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			at, err := time.Parse(time.RFC3339Nano, string(v))
			if err != nil {
				return fmt.Errorf("tenant %s: registeredAt is not an RFC 3339 time", k)
			}
			out = append(out, dynamo.Tenant{Key: string(k), RegisteredAt: at})
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("list tenants", err)
	}
	if out == nil {
		out = []dynamo.Tenant{}
	}
	return out, nil
}

// Page lists requests newest first, older than the request id after, as
// the DynamoDB adapter's Page does (here never stale).
func (r *Requests) Page(ctx context.Context, after string, limit, examine int, match func(erasure.Request) bool) ([]erasure.Request, string, error) {
	var out []erasure.Request
	next := ""
	err := r.view("list requests", func(b *bolt.Bucket) error {
		if b == nil {
			return nil
		}
		c := b.Cursor()
		k, v := c.Last()
		if after != "" {
			if k, v = c.Seek([]byte(after)); k == nil {
				k, v = c.Last()
			}
			for k != nil && string(k) >= after {
				k, v = c.Prev()
			}
		}
		for examined := 0; k != nil; k, v = c.Prev() {
			req, err := r.decodeRequest(k, v)
			if err != nil {
				return err
			}
			examined++
			if match(req) {
				out = append(out, req)
			}
			if len(out) == limit || examined == examine {
				if pk, _ := c.Prev(); pk != nil {
					next = req.ID
				}
				return nil
			}
		}
		return nil
	})
	return out, next, err
}
