package receiver

import (
	"context"
	"errors"
	"github.com/lethe-erasure/lethe/internal/audit"
	"sync"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// fakeRequests is an in-memory Requests with the adapter's conditional
// semantics (one open request per subject, one request per idempotency
// key) and a set of owned tenants. It records every Create.
type fakeRequests struct {
	mu      sync.Mutex
	byID    map[string]erasure.Request
	open    map[string]string // subject -> id
	keys    map[string]string // idempotency key -> id
	owned   map[string]bool
	creates []createCall
	fail    error // Create fails with it
	ownFail error // OwnsTenant fails with it
	audit   []audit.Record
}

type createCall struct {
	req     erasure.Request
	key     string
	outcome string // created, existing, rejected
}

var _ Requests = (*fakeRequests)(nil)

func (f *fakeRequests) AppendAudit(_ context.Context, recs ...audit.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audit = append(f.audit, recs...)
	return nil
}

func newFakeRequests(owned ...string) *fakeRequests {
	f := &fakeRequests{byID: map[string]erasure.Request{}, open: map[string]string{}, keys: map[string]string{}, owned: map[string]bool{}}
	for _, t := range owned {
		f.owned[t] = true
	}
	return f
}

func (f *fakeRequests) Create(_ context.Context, req erasure.Request, key string) (erasure.Request, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := createCall{req: req, key: key}
	defer func() { f.creates = append(f.creates, call) }()
	if f.fail != nil {
		call.outcome = "rejected"
		return erasure.Request{}, false, f.fail
	}
	if id, ok := f.keys[key]; ok && key != "" {
		if f.byID[id].SubjectID != req.SubjectID {
			call.outcome = "rejected"
			return erasure.Request{}, false, erasure.ErrIdempotencyKeyReused
		}
		call.outcome = "existing"
		return f.byID[id], false, nil
	}
	if id, ok := f.open[req.SubjectID]; ok {
		call.outcome = "existing"
		return f.byID[id], false, nil
	}
	f.byID[req.ID] = req
	f.open[req.SubjectID] = req.ID
	if key != "" {
		f.keys[key] = req.ID
	}
	call.outcome = "created"
	return req, true, nil
}

func (f *fakeRequests) OwnsTenant(_ context.Context, tenant string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ownFail != nil {
		return false, f.ownFail
	}
	return f.owned[tenant], nil
}

// fakeSecrets maps secret names to values; an absent name fails as
// Secrets Manager's ResourceNotFoundException would.
type fakeSecrets struct {
	mu     sync.Mutex
	values map[string]string
	reads  []string
	fail   error
}

var errNoSuchSecret = errors.New("ResourceNotFoundException: Secrets Manager can't find the specified secret")

func (f *fakeSecrets) Token(_ context.Context, src config.TokenSource) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, src.Kind+":"+src.Name)
	if f.fail != nil {
		return "", f.fail
	}
	v, ok := f.values[src.Name]
	if !ok {
		return "", errNoSuchSecret
	}
	return v, nil
}

type sentMessage struct {
	body  string
	attrs map[string]string
}

// fakeQueue records what would be sent to SQS.
type fakeQueue struct {
	mu   sync.Mutex
	sent []sentMessage
	fail error
}

func (f *fakeQueue) Send(_ context.Context, body string, attrs map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.sent = append(f.sent, sentMessage{body, attrs})
	return nil
}

type alert struct{ subject, message string }

// fakeAlerts records what would be published to the ops topic.
type fakeAlerts struct {
	mu   sync.Mutex
	pubs []alert
	fail error
}

func (f *fakeAlerts) Publish(_ context.Context, subject, message string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.pubs = append(f.pubs, alert{subject, message})
	return nil
}
