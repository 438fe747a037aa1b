package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingAPI stands in for a regional API's intake. It answers 202 with a
// new request id, except every 7th request 503 and every 11th 200 with the
// id of an earlier request (the subject's open request), and records what
// it was sent.
type countingAPI struct {
	mu       sync.Mutex
	n        int
	accepted map[string]bool // request ids answered 202
	subjects map[string]int
	bad      []string // what was wrong with a request
	conns    map[string]bool
	gets     int
	delay    time.Duration
}

func newCountingAPI(t *testing.T) (*countingAPI, *httptest.Server) {
	a := &countingAPI{accepted: map[string]bool{}, subjects: map[string]int{}, conns: map[string]bool{}}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return a, srv
}

func (a *countingAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	time.Sleep(a.delay)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.conns[r.RemoteAddr] = true
	if r.Method == http.MethodGet {
		a.gets++
		if a.accepted[strings.TrimPrefix(r.URL.Path, "/erasures/")] {
			fmt.Fprint(w, `{"status":"pending"}`)
		} else {
			w.WriteHeader(http.StatusNotFound)
		}
		return
	}
	var in map[string]string
	dec := json.NewDecoder(bytes.NewReader(body))
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/erasures":
		a.bad = append(a.bad, r.Method+" "+r.URL.Path)
	case r.Header.Get("Content-Type") != "application/json":
		a.bad = append(a.bad, "Content-Type "+r.Header.Get("Content-Type"))
	case r.Header.Get("Idempotency-Key") != "":
		a.bad = append(a.bad, "an Idempotency-Key")
	case dec.Decode(&in) != nil || len(in) != 1 || in["subjectId"] == "":
		a.bad = append(a.bad, "body "+string(body))
	}
	a.subjects[in["subjectId"]]++
	a.n++
	w.Header().Set("Content-Type", "application/json")
	switch {
	case a.n%7 == 0:
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":{"code":"unavailable","message":"retry later","field":""}}`)
	case a.n%11 == 0 && len(a.accepted) > 0:
		for id := range a.accepted {
			w.WriteHeader(http.StatusOK)
			fmt.Fprintf(w, `{"requestId":%q,"status":"pending"}`, id)
			break
		}
	default:
		id := fmt.Sprintf("er_eu_%08d", a.n)
		a.accepted[id] = true
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"requestId":%q,"status":"pending","receivedAt":"2026-11-23T10:00:00.000Z"}`, id)
	}
}

func TestRunCountsEveryAnswer(t *testing.T) {
	a, srv := newCountingAPI(t)
	const n, c = 2000, 16
	res, err := Run(context.Background(), Options{URL: srv.URL, Requests: n, Concurrency: c, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.bad) > 0 {
		t.Errorf("bad requests: %v", a.bad[:min(5, len(a.bad))])
	}
	if a.n != n || s.Requests != n || s.Answered != n {
		t.Errorf("server saw %d, tool sent %d and got %d answers; want %d", a.n, s.Requests, s.Answered, n)
	}
	if len(a.subjects) != n {
		t.Errorf("%d distinct subjects, want %d", len(a.subjects), n)
	}
	if s.Accepted != len(a.accepted) || s.AcceptedIDs != len(a.accepted) || len(res.IDs) != len(a.accepted) {
		t.Errorf("tool: %d 202s with %d ids; server answered %d 202s", s.Accepted, s.AcceptedIDs, len(a.accepted))
	}
	if got, want := s.StatusCodes["503"], n/7; got != want {
		t.Errorf("%d 503s, want %d", got, want)
	}
	if s.StatusCodes["202"]+s.StatusCodes["200"]+s.StatusCodes["503"] != n || s.TransportErrors != 0 {
		t.Errorf("status codes %v, transport errors %d", s.StatusCodes, s.TransportErrors)
	}
	if s.Verified == nil || *s.Verified != len(a.accepted) || res.VerifyErrors != 0 || a.gets != len(a.accepted) {
		t.Errorf("verified %v (errors %d) with %d GETs, want %d", s.Verified, res.VerifyErrors, a.gets, len(a.accepted))
	}
	// Without keep-alive there would be a connection per request (2000);
	// with it, about one per worker, a few more when a worker dials before
	// another's connection is back in the pool (seen on a busy machine).
	if len(a.conns) > 2*c {
		t.Errorf("%d connections for %d workers: keep-alive does not hold", len(a.conns), c)
	}
	l := s.LatencyMs
	if !(l.P50 > 0 && l.P50 <= l.P99 && l.P99 <= l.Max) || s.RequestsPerSecond <= 0 {
		t.Errorf("latency %+v, %f requests/s", l, s.RequestsPerSecond)
	}
}

func TestRunForADuration(t *testing.T) {
	a, srv := newCountingAPI(t)
	a.delay = 5 * time.Millisecond
	start := time.Now()
	res, err := Run(context.Background(), Options{URL: srv.URL + "/", Duration: 200 * time.Millisecond, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Errorf("ran %s for -duration 200ms", d)
	}
	s := res.Summary()
	a.mu.Lock()
	defer a.mu.Unlock()
	if s.Requests == 0 || s.Requests != a.n || s.Accepted != len(a.accepted) || s.Abandoned != 0 {
		t.Errorf("sent %d (abandoned %d), server saw %d; 202s %d vs %d", s.Requests, s.Abandoned, a.n, s.Accepted, len(a.accepted))
	}
	if s.Verified != nil {
		t.Errorf("verified without Verify")
	}
}

func TestRunInterrupted(t *testing.T) {
	a, srv := newCountingAPI(t)
	a.delay = 20 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	res, err := Run(ctx, Options{URL: srv.URL, Requests: 100000, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Summary(); s.Abandoned == 0 || s.Requests >= 100000 {
		t.Errorf("not interrupted: %+v", s)
	}
}

func TestRunWithoutServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	res, err := Run(context.Background(), Options{URL: url, Requests: 5, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary()
	if s.TransportErrors != 5 || s.Answered != 0 || !strings.Contains(s.FirstError, "connect") || strings.Contains(s.FirstError, url) {
		t.Errorf("%+v", s)
	}
	var out bytes.Buffer
	s.WriteText(&out)
	if !strings.Contains(out.String(), "no answer    5") {
		t.Errorf("text:\n%s", out.String())
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{URL: "127.0.0.1:8081", Requests: 1, Concurrency: 1}, "-url"},
		{Options{URL: "http://127.0.0.1:8081?x=1", Requests: 1, Concurrency: 1}, "-url"},
		{Options{URL: "http://127.0.0.1:8081", Requests: 1}, "-c must be at least 1"},
		{Options{URL: "http://127.0.0.1:8081", Requests: -1, Concurrency: 1}, "-n must not be negative"},
		{Options{URL: "http://127.0.0.1:8081", Concurrency: 1}, "give -n or -duration"},
		{Options{URL: "http://127.0.0.1:8081", Concurrency: 1, Duration: -time.Second}, "-duration"},
		{Options{URL: "http://127.0.0.1:8081", Concurrency: 1, Requests: 1, Timeout: -1}, "-timeout"},
	} {
		err := tc.o.Check()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
		if _, err := Run(context.Background(), tc.o); err == nil {
			t.Errorf("%+v: Run accepted it", tc.o)
		}
	}
}

func TestSummary(t *testing.T) {
	ms := time.Millisecond
	r := Result{URL: "http://127.0.0.1:8081", Concurrency: 2, Elapsed: 2 * time.Second, Verified: 2,
		IDs: []string{"a", "b", "b"}, Errors: 1, FirstError: "dial: refused"}
	for i := 1; i <= 100; i++ {
		r.Samples = append(r.Samples, Sample{Status: 202, Latency: time.Duration(i) * ms})
	}
	r.Samples = append(r.Samples, Sample{Status: 0, Latency: time.Hour})
	s := r.Summary()
	want := Latency{P50: 50, P99: 99, Max: 100, Mean: 50.5}
	if s.LatencyMs != want || s.Requests != 101 || s.Answered != 100 || s.RequestsPerSecond != 50 || s.AcceptedIDs != 2 || s.Accepted != 100 {
		t.Errorf("%+v", s)
	}
	var out bytes.Buffer
	s.WriteText(&out)
	for _, w := range []string{"101 requests in 2.00s from 2 connections", "50.0 requests/s", "p50 50.00 ms   p99 99.00 ms   max 100.00 ms",
		"HTTP 202     100", "no answer    1 (first: dial: refused)", "accepted     100 answers 202 carrying 2 distinct request ids", "verified     2 of 2"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("text does not say %q:\n%s", w, out.String())
		}
	}
	b, _ := json.Marshal(s)
	for _, w := range []string{`"requestsPerSecond":50`, `"statusCodes":{"202":100}`, `"acceptedIds":2`, `"verified":2`} {
		if !bytes.Contains(b, []byte(w)) {
			t.Errorf("JSON does not say %s: %s", w, b)
		}
	}
}
