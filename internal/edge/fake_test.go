package edge

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// memStore is an in-memory stand-in for the four edge tables with the
// DynamoDB adapter's semantics (conditional claims with leases, holds that
// only create, ...). fail makes every call fail as a throttled table.
type memStore struct {
	mu         sync.Mutex
	tenants    map[string]Tenant
	receipts   map[string]Receipt
	held       map[string]Held
	globals    map[string]Global
	idem       map[string][2]string
	fail       error
	holdFails  error
	calls      []string
	now        func() time.Time
	heldEvents int
}

var (
	_ Directory  = (*memStore)(nil)
	_ Deliveries = (*memStore)(nil)
	_ Quarantine = (*memStore)(nil)
	_ Globals    = (*memStore)(nil)
)

var errThrottled = &StoreUnavailable{Op: "test", Err: errors.New("ThrottlingException")}

func newMemStore(now func() time.Time) *memStore {
	return &memStore{tenants: map[string]Tenant{}, receipts: map[string]Receipt{}, held: map[string]Held{},
		globals: map[string]Global{}, idem: map[string][2]string{}, now: now}
}

func (m *memStore) enter(op string) error {
	m.mu.Lock()
	m.calls = append(m.calls, op)
	return m.fail
}

func (m *memStore) callsOf(prefix string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, c := range m.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func (m *memStore) Tenant(_ context.Context, key string) (Tenant, error) {
	err := m.enter("Tenant")
	defer m.mu.Unlock()
	if err != nil {
		return Tenant{}, err
	}
	t, ok := m.tenants[key]
	if !ok {
		return Tenant{}, ErrNotFound
	}
	return t, nil
}

func (m *memStore) PutTenant(_ context.Context, key, region string, move bool, now time.Time) (Tenant, bool, bool, error) {
	err := m.enter("PutTenant")
	defer m.mu.Unlock()
	if err != nil {
		return Tenant{}, false, false, err
	}
	cur, ok := m.tenants[key]
	switch {
	case ok && cur.Region == region:
		return cur, false, false, nil
	case ok && !move:
		return Tenant{}, false, false, &TenantConflict{Tenant: key, Current: cur.Region}
	case ok:
		cur.Region, cur.UpdatedAt = region, now
		m.tenants[key] = cur
		return cur, false, true, nil
	}
	t := Tenant{Key: key, Region: region, RegisteredAt: now, UpdatedAt: now}
	m.tenants[key] = t
	return t, true, true, nil
}

func (m *memStore) Claim(_ context.Context, r Receipt, now time.Time) (Receipt, bool, error) {
	err := m.enter("Claim")
	defer m.mu.Unlock()
	if err != nil {
		return Receipt{}, false, err
	}
	cur, ok := m.receipts[r.Key]
	if ok && !(cur.State == StateReleased || (cur.State == StateClaimed && cur.LeaseUntil.Before(now))) {
		return cur, false, nil
	}
	if ok {
		r.ReceivedAt, r.Attempts, r.Outcome, r.ForwardedTo = cur.ReceivedAt, cur.Attempts, cur.Outcome, cur.ForwardedTo
	}
	r.Attempts++
	m.receipts[r.Key] = r
	return r, true, nil
}

func (m *memStore) Settle(_ context.Context, r Receipt) error {
	err := m.enter("Settle")
	defer m.mu.Unlock()
	if err != nil {
		return err
	}
	cur, ok := m.receipts[r.Key]
	if !ok || cur.Claim != r.Claim {
		return ErrClaimLost
	}
	cur.State, cur.Outcome, cur.ForwardedTo, cur.UpdatedAt = r.State, r.Outcome, r.ForwardedTo, r.UpdatedAt
	cur.Claim, cur.LeaseUntil = "", time.Time{}
	m.receipts[r.Key] = cur
	return nil
}

func (m *memStore) Released(_ context.Context, key string, regions []string, now time.Time) error {
	err := m.enter("Released")
	defer m.mu.Unlock()
	if err != nil {
		return err
	}
	cur, ok := m.receipts[key]
	if !ok || (cur.State != StateQuarantined && cur.State != StateForwarded) {
		return nil
	}
	cur.State, cur.Outcome, cur.ForwardedTo, cur.UpdatedAt = StateForwarded, OutcomeReleased, regions, now
	m.receipts[key] = cur
	return nil
}

func (m *memStore) Hold(_ context.Context, h Held) error {
	err := m.enter("Hold")
	defer m.mu.Unlock()
	if err != nil {
		return err
	}
	if m.holdFails != nil {
		return m.holdFails
	}
	if _, ok := m.held[h.ID]; !ok {
		m.held[h.ID] = h
		m.heldEvents++
	}
	return nil
}

func (m *memStore) Held(_ context.Context, id string) (Held, error) {
	err := m.enter("Held")
	defer m.mu.Unlock()
	if err != nil {
		return Held{}, err
	}
	h, ok := m.held[id]
	if !ok || !h.ExpiresAt.After(m.now()) {
		return Held{}, ErrNotFound
	}
	return h, nil
}

func (m *memStore) List(_ context.Context, limit int) ([]Held, error) {
	err := m.enter("List")
	defer m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var out []Held
	for _, h := range m.held {
		if h.ExpiresAt.After(m.now()) {
			out = append(out, Held{ID: h.ID, Provider: h.Provider, TenantHash: h.TenantHash, DeliveryID: h.DeliveryID,
				Topic: h.Topic, Verified: h.Verified, ReceivedAt: h.ReceivedAt, ExpiresAt: h.ExpiresAt})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ReceivedAt.After(out[j].ReceivedAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (m *memStore) Drop(_ context.Context, id string) error {
	err := m.enter("Drop")
	defer m.mu.Unlock()
	if err != nil {
		return err
	}
	delete(m.held, id)
	return nil
}

func (m *memStore) CreateGlobal(_ context.Context, g Global) error {
	err := m.enter("CreateGlobal")
	defer m.mu.Unlock()
	if err != nil {
		return err
	}
	if cur, ok := m.globals[g.ID]; ok {
		for i := range cur.Regions {
			if i >= len(g.Regions) || cur.Regions[i].RequestID != g.Regions[i].RequestID {
				return errors.New("other requests")
			}
		}
		return nil
	}
	m.globals[g.ID] = g
	return nil
}

func (m *memStore) Global(_ context.Context, id string) (Global, error) {
	err := m.enter("Global")
	defer m.mu.Unlock()
	if err != nil {
		return Global{}, err
	}
	g, ok := m.globals[id]
	if !ok {
		return Global{}, ErrNotFound
	}
	g.Regions = append([]GlobalRegion(nil), g.Regions...)
	return g, nil
}

func (m *memStore) RecordStates(_ context.Context, id string, regions []GlobalRegion, now time.Time) error {
	err := m.enter("RecordStates")
	defer m.mu.Unlock()
	if err != nil {
		return err
	}
	g, ok := m.globals[id]
	if !ok {
		return ErrNotFound
	}
	g.Regions, g.UpdatedAt = append([]GlobalRegion(nil), regions...), now
	m.globals[id] = g
	return nil
}

func (m *memStore) ClaimIdempotencyKey(_ context.Context, keyHash, globalID, planHash string, _ time.Time) (string, string, bool, error) {
	err := m.enter("ClaimIdempotencyKey")
	defer m.mu.Unlock()
	if err != nil {
		return "", "", false, err
	}
	if b, ok := m.idem[keyHash]; ok {
		return b[0], b[1], false, nil
	}
	m.idem[keyHash] = [2]string{globalID, planHash}
	return globalID, planHash, true, nil
}

// page pages keys (in the listing's order) as the stores do: up to limit
// after the cursor, which here is the last key shown behind prefix, and
// the next cursor when more follow.
func page(keys []string, limit int, cursor, prefix string) ([]string, string, error) {
	i := 0
	if cursor != "" {
		last, ok := strings.CutPrefix(cursor, prefix)
		if !ok {
			return nil, "", ErrInvalidCursor
		}
		i = len(keys)
		for j, k := range keys {
			if k == last {
				i = j + 1
			}
		}
	}
	keys = keys[i:]
	if len(keys) > limit {
		return keys[:limit], prefix + keys[limit-1], nil
	}
	return keys, "", nil
}

func (m *memStore) ListTenants(_ context.Context, limit int, cursor string) ([]Tenant, string, error) {
	err := m.enter("ListTenants")
	defer m.mu.Unlock()
	if err != nil {
		return nil, "", err
	}
	var keys []string
	for k := range m.tenants {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	keys, next, err := page(keys, limit, cursor, "tenant:")
	out := make([]Tenant, len(keys))
	for i, k := range keys {
		out[i] = m.tenants[k]
	}
	return out, next, err
}

func (m *memStore) ListReceipts(_ context.Context, limit int, cursor string) ([]Receipt, string, error) {
	err := m.enter("ListReceipts")
	defer m.mu.Unlock()
	if err != nil {
		return nil, "", err
	}
	var keys []string
	for k, r := range m.receipts {
		if r.Outcome != OutcomeAlerted {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := m.receipts[keys[i]], m.receipts[keys[j]]
		if !a.ReceivedAt.Equal(b.ReceivedAt) {
			return a.ReceivedAt.After(b.ReceivedAt)
		}
		return keys[i] > keys[j]
	})
	keys, next, err := page(keys, limit, cursor, "receipt:")
	out := make([]Receipt, len(keys))
	for i, k := range keys {
		out[i] = m.receipts[k]
	}
	return out, next, err
}

func (m *memStore) ListGlobals(_ context.Context, limit int, cursor string) ([]Global, string, error) {
	err := m.enter("ListGlobals")
	defer m.mu.Unlock()
	if err != nil {
		return nil, "", err
	}
	var ids []string
	for id := range m.globals {
		ids = append(ids, id)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	ids, next, err := page(ids, limit, cursor, "global:")
	out := make([]Global, len(ids))
	for i, id := range ids {
		out[i] = m.globals[id]
	}
	return out, next, err
}

func (m *memStore) receipt(key string) (Receipt, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.receipts[key]
	return r, ok
}

func (m *memStore) heldCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.held)
}

// fakeAlerts records the alerts published.
type fakeAlerts struct {
	mu     sync.Mutex
	alerts []Alert
	fail   error
}

func (f *fakeAlerts) Alert(_ context.Context, a Alert) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.alerts = append(f.alerts, a)
	return nil
}

func (f *fakeAlerts) kinds() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var k []string
	for _, a := range f.alerts {
		k = append(k, a.Kind)
	}
	return k
}

// recorded is one request a region received.
type recorded struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// regionServer stands for one region's API on loopback: it records every
// request and answers by mode. Erasure filings get a request id per
// Idempotency-Key, as the regional API does.
type regionServer struct {
	name string
	srv  *httptest.Server

	mu       sync.Mutex
	mode     string // "ok", "down" (503), "reset" (connection closed), "conflict", "reject" (401), "unprocessable" (400), "block"
	got      []recorded
	accepted int
	block    chan struct{}
	entered  chan struct{}
	ids      map[string]string
	subjects map[string]string
	status   map[string]string
}

func newRegionServer(t testing.TB, name string) *regionServer {
	t.Helper()
	r := &regionServer{name: name, mode: "ok", ids: map[string]string{}, subjects: map[string]string{}, status: map[string]string{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *regionServer) setMode(m string) {
	r.mu.Lock()
	r.mode = m
	r.mu.Unlock()
}

func (r *regionServer) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.got = append(r.got, recorded{Method: req.Method, Path: req.URL.EscapedPath(), Query: req.URL.RawQuery, Header: req.Header.Clone(), Body: body})
	mode, block, entered := r.mode, r.block, r.entered
	r.mu.Unlock()
	switch mode {
	case "down":
		http.Error(w, `{"error":{"code":"unavailable"}}`, http.StatusServiceUnavailable)
		return
	case "reset":
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
		return
	case "conflict":
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"error":{"code":"tenant_not_owned","message":"","field":""}}`))
		return
	case "reject":
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"code":"invalid_signature","message":"","field":""}}`))
		return
	case "unprocessable":
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"code":"invalid_webhook","message":"","field":"shop_domain"}}`))
		return
	case "block":
		if entered != nil {
			entered <- struct{}{}
		}
		<-block
	}
	switch {
	case req.Method == http.MethodPost && strings.HasPrefix(req.URL.Path, "/webhooks/"):
		r.mu.Lock()
		r.accepted++
		r.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"status":"accepted"}`))
	case req.Method == http.MethodPost && req.URL.Path == "/erasures":
		key := req.Header.Get("Idempotency-Key")
		r.mu.Lock()
		id, ok := r.ids[key]
		status := http.StatusOK
		if !ok {
			id = "er_" + r.name + "_0196a0a0-0000-7000-8000-" + strings.Repeat("0", 11) + string(rune('a'+len(r.ids)))
			r.ids[key] = id
			r.subjects[key] = string(body)
			status = http.StatusAccepted
		} else if r.subjects[key] != string(body) {
			r.mu.Unlock()
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"error":{"code":"idempotency_key_reused","message":"","field":"Idempotency-Key"}}`))
			return
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"requestId":"` + id + `","status":"pending"}`))
	case req.Method == http.MethodGet && strings.HasPrefix(req.URL.Path, "/erasures/"):
		id := strings.TrimPrefix(req.URL.Path, "/erasures/")
		r.mu.Lock()
		s, ok := r.status[id]
		known := false
		for _, v := range r.ids {
			known = known || v == id
		}
		r.mu.Unlock()
		if !known {
			http.Error(w, `{"error":{"code":"not_found"}}`, http.StatusNotFound)
			return
		}
		if !ok {
			s = "running"
		}
		_, _ = w.Write([]byte(`{"requestId":"` + id + `","status":"` + s + `"}`))
	default:
		http.NotFound(w, req)
	}
}

func (r *regionServer) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.got...)
}

func (r *regionServer) acceptedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accepted
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
