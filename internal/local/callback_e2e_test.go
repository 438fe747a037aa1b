package local

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/demo"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// checksOf counts the demo calls to one subsystem by method.
type checksOf struct {
	mu        sync.Mutex
	subsystem string
	n         map[string]int
}

func (c *checksOf) record(x demo.Call) {
	if x.Subsystem != c.subsystem {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[x.Method]++
}

func (c *checksOf) get(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[method]
}

// callbackRuntime runs lethe local with the faults on its clock 10,000
// times faster than real time, on a scale of hours instead of days: eu's
// orders falls back to status checks an hour after submission, then
// doubling (as the default does from a day), and requests are due within
// a day. Tasks still answer well within their timeouts at that speed.
func callbackRuntime(t *testing.T, faults ...string) (*Runtime, *checksOf) {
	t.Helper()
	cfg := loadConfig(t)
	if err := demo.ApplyFaults(cfg, faults); err != nil {
		t.Fatal(err)
	}
	cfg.Deadline = config.Deadline{Days: 1, AtRiskBeforeHours: 6, ForgetFailedAfterDays: 30}
	for i := range cfg.Regions[0].Subsystems {
		if s := &cfg.Regions[0].Subsystems[i]; s.Name == "orders" {
			s.Poll = &config.PollPolicy{InitialSeconds: 3600, MaxSeconds: 6 * 3600, Multiplier: 2}
		}
	}
	// lethe local's own clock: waits and the waits for callbacks on Lethe's
	// accelerated time, the functions' timeouts on the wall's (so a loaded
	// machine's slow answer is not taken for a timeout).
	rt, err := Start(context.Background(), Options{Config: cfg, DataDir: t.TempDir(), Demo: true, Speed: 10000, Log: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	calls := &checksOf{subsystem: "orders", n: map[string]int{}}
	rt.Farm().OnCall(calls.record)
	return rt, calls
}

// TestCallbackCompletesTheErasure: an async subsystem that calls back
// after a (scaled) day and a half completes the erasure through its
// callback, with no status check after it: the only check is the sparse
// fallback's, a (scaled) day after submission. (The next check would come
// on day three: the margin keeps a loaded machine's late callback inside.)
func TestCallbackCompletesTheErasure(t *testing.T) {
	rt, calls := callbackRuntime(t, "eu/orders=callback,finishAfter:90m")
	r := wait(t, rt, file(t, rt, "eu", "alice"))
	sub, _ := r.Subsystem("orders")
	if r.Status != erasure.StatusCompleted || sub.Status != erasure.SubsystemDeleted || !strings.HasPrefix(sub.Detail, "called back") {
		t.Fatalf("request %s, orders %s %q", r.Status, sub.Status, sub.Detail)
	}
	if got := calls.get("GET"); got != 1 {
		t.Fatalf("%d status checks of a subsystem that called back; the sparse fallback makes one before", got)
	}
	if calls.get("POST") != 1 || sub.FinishedAt == nil || sub.FinishedAt.Sub(r.ReceivedAt).Hours() < 1.5 {
		t.Fatalf("submissions %d, finished %v", calls.get("POST"), sub.FinishedAt)
	}
}

// TestSilentSubsystemIsCheckedSparsely: a subsystem that was offered a
// callback but never makes one is checked a (scaled) day after
// submission, then two days later, then four: it finished after five, so
// the third check finds it done.
func TestSilentSubsystemIsCheckedSparsely(t *testing.T) {
	rt, calls := callbackRuntime(t, "eu/orders=callback", "eu/orders=callback:false,finishAfter:5h")
	r := wait(t, rt, file(t, rt, "eu", "bob"))
	if sub, _ := r.Subsystem("orders"); r.Status != erasure.StatusCompleted || sub.Status != erasure.SubsystemDeleted {
		t.Fatalf("request %s, orders %s", r.Status, sub.Status)
	}
	if got := calls.get("GET"); got != 3 {
		t.Fatalf("%d status checks, want 3 (after 1, 3 and 7 scaled days)", got)
	}
}

// TestSilentNeverFinishingFailsAtTheDeadline: checked at sparse intervals
// that never pass the deadline, a subsystem that never finishes fails
// there.
func TestSilentNeverFinishingFailsAtTheDeadline(t *testing.T) {
	rt, calls := callbackRuntime(t, "eu/orders=callback", "eu/orders=callback:false,neverFinish")
	r := wait(t, rt, file(t, rt, "eu", "carol"))
	sub, _ := r.Subsystem("orders")
	if r.Status != erasure.StatusFailed || sub.Status != erasure.SubsystemFailed || !strings.Contains(sub.Detail, "DeadlinePassed") && !strings.Contains(sub.LastError+sub.Detail, "deadline") {
		t.Fatalf("request %s, orders %s %q %q", r.Status, sub.Status, sub.Detail, sub.LastError)
	}
	// Checks after 1, 3, 7, 13, 19 hours, then at the deadline (24 h).
	if got := calls.get("GET"); got < 5 || got > 7 {
		t.Fatalf("%d status checks before the deadline; the sparse policy makes 6", got)
	}
}

// callbackSubsystem is an async subsystem that keeps the callback Lethe
// offers and answers pending until the test calls back itself.
type callbackSubsystem struct {
	mu           sync.Mutex
	url, token   string
	sync, checks int
}

func (s *callbackSubsystem) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.Method == http.MethodDelete:
		s.sync++
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost:
		var in struct{ CallbackURL, CallbackToken string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in.CallbackToken != "" {
			s.url, s.token = in.CallbackURL, in.CallbackToken
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"ticket":"t-1"}`))
	default:
		s.checks++
		_, _ = w.Write([]byte(`{"status":"pending","detail":"working"}`))
	}
}

// TestCallbackRoute: POST /callbacks refuses what is not a callback Lethe
// gave out (401), a malformed one (400 naming the field), and once the
// erasure is settled a different one (410); a repeat is answered 200 and
// changes nothing.
func TestCallbackRoute(t *testing.T) {
	sub := &callbackSubsystem{}
	srv := httptest.NewServer(sub)
	t.Cleanup(srv.Close)
	// The other subsystems erase at once.
	others := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case http.MethodPost:
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"ticket":"t-2"}`))
		default:
			_, _ = w.Write([]byte(`{"status":"deleted","detail":"done"}`))
		}
	}))
	t.Cleanup(others.Close)
	cfg := loadConfig(t)
	for i := range cfg.Regions {
		for j := range cfg.Regions[i].Subsystems {
			s := &cfg.Regions[i].Subsystems[j]
			s.BaseURL, s.Token = others.URL, config.TokenSource{Kind: config.TokenNone}
			if s.Name == "orders" {
				s.BaseURL, s.Callback = srv.URL, true
				s.Poll = &config.PollPolicy{InitialSeconds: config.DefaultCallbackPollInitialSeconds, MaxSeconds: config.DefaultCallbackPollMaxSeconds, Multiplier: 2}
			}
		}
	}
	rt, err := Start(context.Background(), Options{Config: cfg, DataDir: t.TempDir(), Clock: asl.NewRealClock(1), Log: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	reg, _ := rt.Region("eu")
	id := file(t, rt, "eu", "dave")
	waitFor(t, func() bool {
		sub.mu.Lock()
		defer sub.mu.Unlock()
		return sub.token != ""
	}, "the submission offering a callback")
	if sub.url != reg.URL+"/callbacks" || len(sub.token) < 40 {
		t.Fatalf("offered %q %q", sub.url, sub.token)
	}
	post := func(token, body string) (int, string, string) {
		h := http.Header{"Content-Type": {"application/json"}}
		if token != "" {
			h.Set("Authorization", "Bearer "+token)
		}
		resp, b := do(t, "POST", reg.URL+"/callbacks", h, body)
		var e struct{ Error struct{ Code, Field string } }
		_ = json.Unmarshal(b, &e)
		return resp.StatusCode, e.Error.Code, e.Error.Field
	}
	for _, tc := range []struct {
		token, body string
		status      int
		field       string
	}{
		{"", `{"status":"deleted"}`, 401, "Authorization"},
		{strings.Repeat("x", 43), `{"status":"deleted"}`, 401, "Authorization"},
		{sub.token, `{"status":"maybe"}`, 400, "status"},
		{sub.token, `{"status":"deleted","extra":1}`, 400, "extra"},
		{sub.token, `{"detail":"done"}`, 400, "status"},
		{sub.token, `not json`, 400, ""},
	} {
		if status, code, field := post(tc.token, tc.body); status != tc.status || field != tc.field {
			t.Errorf("%.10q %s: %d %s %q, want %d %q", tc.token, tc.body, status, code, field, tc.status, tc.field)
		}
	}
	if r, _ := reg.Requests.Get(context.Background(), id); !r.Status.Open() {
		t.Fatalf("a refused callback settled the request: %s", r.Status)
	}
	if status, _, _ := post(sub.token, `{"status":"deleted","detail":"erased dave's orders"}`); status != 200 {
		t.Fatalf("callback: %d", status)
	}
	r := wait(t, rt, id)
	s, _ := r.Subsystem("orders")
	if r.Status != erasure.StatusCompleted || strings.Contains(s.Detail, "dave") || sub.checks != 0 {
		t.Fatalf("request %s, orders %q, %d checks", r.Status, s.Detail, sub.checks)
	}
	if status, _, _ := post(sub.token, `{"status":"deleted","detail":"erased dave's orders"}`); status != 200 {
		t.Fatalf("repeated callback: %d", status)
	}
	if status, code, _ := post(sub.token, `{"status":"failed","detail":"oops"}`); status != 410 || code != "callback_gone" {
		t.Fatalf("a different callback after settling: %d %s", status, code)
	}
}
