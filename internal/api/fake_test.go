package api

import (
	"context"
	"errors"
	"github.com/lethe-erasure/lethe/internal/store/dynamo"
	"github.com/lethe-erasure/lethe/internal/store/storetest"
	"sync"
	"time"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// fakeStore is an in-memory requestStore with the DynamoDB adapter's
// conditional semantics: one open request per subject, one request per
// idempotency key, checked and written under one lock (as one transaction).
// It records every call.
type fakeStore struct {
	mu      sync.Mutex
	byID    map[string]erasure.Request
	open    map[string]string // subject -> id of its open request
	keys    map[string]keyUse // idempotency key -> first use
	calls   []fakeCall
	fail    error // when set, every call fails with it
	created int
	tenants map[string]time.Time // tenant -> registered at
	now     time.Time            // the time RegisterTenant records
	puts    int                  // RegisterTenant calls
	audit   []audit.Record       // records Change kept
}

type keyUse struct{ id, subject string }

// fakeCall is one recorded call. Outcome is "created", "existing",
// "rejected" (an error) for Create; "ok" or "error" otherwise.
type fakeCall struct {
	op      string
	id      string
	key     string
	limit   int
	outcome string
}

var _ requestStore = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{byID: map[string]erasure.Request{}, open: map[string]string{}, keys: map[string]keyUse{}, tenants: map[string]time.Time{}}
}

// seed stores r as if created with key, without recording a call.
func (f *fakeStore) seed(r erasure.Request, key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Status.Open() {
		f.open[r.SubjectID] = r.ID
	}
	if key != "" {
		f.keys[key] = keyUse{r.ID, r.SubjectID}
	}
	if r.Forgets() && r.CompletedAt != nil {
		r.Forget(*r.CompletedAt)
	}
	f.byID[r.ID] = r
}

// finish closes a request, releasing its subject's lock as the outcome
// recorder does.
func (f *fakeStore) finish(id string, s erasure.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.byID[id]
	r.Status = s
	subject := r.SubjectID
	if r.Forgets() {
		r.Forget(testNow)
	}
	f.byID[id] = r
	if f.open[subject] == id {
		delete(f.open, subject)
	}
}

func (f *fakeStore) Create(_ context.Context, req erasure.Request, key string) (erasure.Request, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := fakeCall{op: "create", id: req.ID, key: key}
	defer func() { f.calls = append(f.calls, call) }()
	if f.fail != nil {
		call.outcome = "rejected"
		return erasure.Request{}, false, f.fail
	}
	if key != "" {
		if u, ok := f.keys[key]; ok {
			if u.subject != req.SubjectID {
				call.outcome = "rejected"
				return erasure.Request{}, false, erasure.ErrIdempotencyKeyReused
			}
			call.outcome = "existing"
			return f.byID[u.id], false, nil
		}
	}
	if id, ok := f.open[req.SubjectID]; ok {
		call.outcome = "existing"
		return f.byID[id], false, nil
	}
	f.byID[req.ID] = req
	f.open[req.SubjectID] = req.ID
	if key != "" {
		f.keys[key] = keyUse{req.ID, req.SubjectID}
	}
	f.created++
	call.outcome = "created"
	return req, true, nil
}

func (f *fakeStore) Get(_ context.Context, id string) (erasure.Request, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := fakeCall{op: "get", id: id, outcome: "ok"}
	defer func() { f.calls = append(f.calls, call) }()
	if f.fail != nil {
		call.outcome = "error"
		return erasure.Request{}, f.fail
	}
	r, ok := f.byID[id]
	if !ok {
		call.outcome = "error"
		return erasure.Request{}, erasure.ErrNotFound
	}
	return r, nil
}

func (f *fakeStore) Page(_ context.Context, after string, limit, examine int, match func(erasure.Request) bool) ([]erasure.Request, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := fakeCall{op: "list", limit: limit, outcome: "ok"}
	defer func() { f.calls = append(f.calls, call) }()
	if f.fail != nil {
		call.outcome = "error"
		return nil, "", f.fail
	}
	all := make([]erasure.Request, 0, len(f.byID))
	for _, r := range f.byID {
		all = append(all, r)
	}
	out, next := storetest.PageOf(all, after, limit, examine, match)
	return out, next, nil
}

// callsOf returns the recorded calls of one operation.
func (f *fakeStore) callsOf(op string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if c.op == op {
			out = append(out, c)
		}
	}
	return out
}

// errStoreDown stands for an AWS failure; its text carries internals that
// must never reach a caller.
var errStoreDown = errors.New("operation error DynamoDB: TransactWriteItems, https response error StatusCode: 500, table lethe-eu-requests-7F3A")

func (f *fakeStore) RegisterTenant(_ context.Context, tenant string) (time.Time, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts++
	if f.fail != nil {
		return time.Time{}, false, f.fail
	}
	if at, ok := f.tenants[tenant]; ok {
		return at, false, nil
	}
	f.tenants[tenant] = f.now
	return f.now, true, nil
}

func (f *fakeStore) TenantRegistration(_ context.Context, tenant string) (time.Time, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return time.Time{}, false, f.fail
	}
	at, ok := f.tenants[tenant]
	return at, ok, nil
}

// Change applies fn to a copy of the request and keeps it with the audit
// records unless fn refuses, as the stores' conditional Change does.
func (f *fakeStore) Change(_ context.Context, id string, fn func(*erasure.Request) ([]audit.Record, error)) (erasure.Request, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := fakeCall{op: "change", id: id, outcome: "ok"}
	defer func() { f.calls = append(f.calls, call) }()
	if f.fail != nil {
		call.outcome = "error"
		return erasure.Request{}, f.fail
	}
	cur, ok := f.byID[id]
	if !ok {
		call.outcome = "error"
		return erasure.Request{}, erasure.ErrNotFound
	}
	next, recs, err := dynamo.Apply(cur, fn)
	if errors.Is(err, erasure.ErrUnchanged) {
		return cur, nil
	}
	if err != nil {
		call.outcome = "error"
		return cur, err
	}
	f.byID[id] = next
	f.chain(recs)
	return next, nil
}

// chain appends recs to the fake's audit chain (the caller holds mu).
func (f *fakeStore) chain(recs []audit.Record) {
	head := audit.Head{}
	if n := len(f.audit); n > 0 {
		head = audit.Head{Seq: f.audit[n-1].Seq, Hash: f.audit[n-1].Hash}
	}
	chained, _ := audit.Chain(head, recs)
	f.audit = append(f.audit, chained...)
}

// AppendAudit appends region records to the chain.
func (f *fakeStore) AppendAudit(_ context.Context, recs ...audit.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.chain(recs)
	return nil
}

// AuditFrom lists the chain from entry from on.
func (f *fakeStore) AuditFrom(_ context.Context, from int64, limit int) ([]audit.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []audit.Record
	for _, r := range f.audit {
		if r.Seq >= from && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

// Suppressed lists the forgotten requests of each subject hash, as the
// stores' suppression records do.
func (f *fakeStore) Suppressed(_ context.Context, hashes []string) (map[string][]erasure.Erased, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	out := map[string][]erasure.Erased{}
	for _, h := range hashes {
		for _, r := range f.byID {
			if r.SubjectHash == h && r.ForgottenAt != nil {
				out[h] = append(out[h], erasure.NewErased(r))
			}
		}
	}
	return out, nil
}

// Audit lists the records kept by Change, of one request or all.
func (f *fakeStore) Audit(_ context.Context, requestID string, limit int) ([]audit.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []audit.Record
	for _, r := range f.audit {
		if (requestID == "" || r.RequestID == requestID) && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

// CallbackTarget: the test store knows no callback tokens.
func (f *fakeStore) CallbackTarget(context.Context, string) (string, string, error) {
	return "", "", erasure.ErrNotFound
}
