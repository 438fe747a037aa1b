package demo

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/httpjson"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

var (
	projects  = config.Subsystem{Name: "projects", Mode: config.ModeSync}
	orders    = config.Subsystem{Name: "orders", Mode: config.ModeAsync}
	customers = config.Subsystem{Name: "customers", Mode: config.ModeAsync}
)

// testFarm is a farm on a fresh file and a fake clock, recording every call.
type testFarm struct {
	*Farm
	path  string
	clock *asl.FakeClock

	mu    sync.Mutex
	calls []Call
}

func newFarm(t testing.TB) *testFarm {
	t.Helper()
	clock := asl.NewFakeClock(t0)
	path := filepath.Join(t.TempDir(), "subsystems.db")
	f, err := Open(path, clock)
	if err != nil {
		t.Fatal(err)
	}
	tf := &testFarm{Farm: f, path: path, clock: clock}
	f.OnCall(tf.record)
	t.Cleanup(func() { tf.Close() })
	return tf
}

func (tf *testFarm) record(c Call) {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	tf.calls = append(tf.calls, c)
}

func (tf *testFarm) recorded() []Call {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	return append([]Call(nil), tf.calls...)
}

// reopen closes the farm and opens its file again, as a restart after a
// crash would (bbolt commits are durable when Update/Batch return).
func (tf *testFarm) reopen(t *testing.T) {
	t.Helper()
	if err := tf.Farm.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(tf.path, tf.clock)
	if err != nil {
		t.Fatal(err)
	}
	f.OnCall(tf.record)
	tf.Farm = f
}

// answerOf is one call's answer, decoded.
type answerOf struct {
	status int
	header http.Header
	body   string
}

func (a answerOf) errorBody(t *testing.T) httpjson.Detail {
	t.Helper()
	var e httpjson.ErrorBody
	if err := json.Unmarshal([]byte(a.body), &e); err != nil || e.Error.Code == "" {
		t.Fatalf("answer %d %q is not a JSON error body", a.status, a.body)
	}
	return e.Error
}

func serve(h http.Handler, method, path, body string) answerOf {
	return serveWith(h, method, path, body, nil)
}

func serveWith(h http.Handler, method, path, body string, headers map[string]string) answerOf {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return answerOf{status: w.Code, header: w.Header(), body: w.Body.String()}
}

// submit posts an erasure and returns its ticket.
func submit(t *testing.T, h http.Handler, requestID, subject string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"requestId": requestID, "subjectId": subject})
	a := serve(h, http.MethodPost, "/erasures", string(body))
	if a.status != http.StatusAccepted {
		t.Fatalf("submit: %d %s", a.status, a.body)
	}
	var tb TicketBody
	if err := json.Unmarshal([]byte(a.body), &tb); err != nil || tb.Ticket == "" {
		t.Fatalf("submit answered %s", a.body)
	}
	return tb.Ticket
}

// status reads an erasure's status.
func status(t *testing.T, h http.Handler, ticket string) StatusBody {
	t.Helper()
	a := serve(h, http.MethodGet, "/erasures/"+ticket, "")
	if a.status != http.StatusOK {
		t.Fatalf("check: %d %s", a.status, a.body)
	}
	var sb StatusBody
	if err := json.Unmarshal([]byte(a.body), &sb); err != nil {
		t.Fatalf("check answered %s", a.body)
	}
	return sb
}

// tickets counts the erasures a subsystem has filed.
func (tf *testFarm) tickets(t *testing.T, k string) int {
	t.Helper()
	n := 0
	if err := tf.db.View(func(tx *bolt.Tx) error {
		n = open(tx, k).tickets.Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
