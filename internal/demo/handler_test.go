package demo

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/config"
)

func TestSyncDelete(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		path      string
		auth      string
		want      int
		wantCode  string
		wantField string
		// gone is the subject that must no longer be held afterwards;
		// kept, one that must still be.
		gone, kept string
	}{
		{name: "held subject is deleted", method: "DELETE", path: "/subjects/alice", want: 204, gone: "alice", kept: "bob"},
		{name: "any bearer token is accepted", method: "DELETE", path: "/subjects/bob", auth: "Bearer whatever", want: 204, gone: "bob"},
		{name: "configured extra subject", method: "DELETE", path: "/subjects/dave%2Fsmith", want: 204, gone: "dave/smith"},
		{name: "unknown subject is 404", method: "DELETE", path: "/subjects/mallory", want: 404, wantCode: "not_held", wantField: "subjectId", kept: "alice"},
		{name: "case matters", method: "DELETE", path: "/subjects/ALICE", want: 404, wantCode: "not_held", kept: "alice"},
		{name: "empty subject is 400", method: "DELETE", path: "/subjects/", want: 400, wantCode: "invalid_subject_id", wantField: "subjectId"},
		{name: "control character is 400", method: "DELETE", path: "/subjects/al%0Aice", want: 400, wantCode: "invalid_subject_id", wantField: "subjectId"},
		{name: "GET is 405", method: "GET", path: "/subjects/alice", want: 405, wantCode: "method_not_allowed", kept: "alice"},
		{name: "async route is 404 on a sync subsystem", method: "POST", path: "/erasures", want: 404, wantCode: "no_route"},
		{name: "unknown route", method: "DELETE", path: "/users/alice", want: 404, wantCode: "no_route", kept: "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFarm(t)
			h := f.Subsystem("eu", projects, config.DemoSubsystem{Subjects: []string{"dave/smith"}})
			r := serveWith(h, tt.method, tt.path, "", map[string]string{"Authorization": tt.auth})
			if r.status != tt.want {
				t.Fatalf("status %d, want %d (%s)", r.status, tt.want, r.body)
			}
			if tt.wantCode != "" {
				e := r.errorBody(t)
				if e.Code != tt.wantCode || (tt.wantField != "" && e.Field != tt.wantField) {
					t.Errorf("error %+v, want code %s field %s", e, tt.wantCode, tt.wantField)
				}
				if strings.Contains(r.body, "alice") {
					t.Errorf("error body names the subject: %s", r.body)
				}
			}
			if tt.method == "GET" && r.header.Get("Allow") != "DELETE" {
				t.Errorf("Allow %q, want DELETE", r.header.Get("Allow"))
			}
			if tt.gone != "" && f.Holds("eu", "projects", tt.gone) {
				t.Errorf("%s still held", tt.gone)
			}
			if tt.kept != "" && !f.Holds("eu", "projects", tt.kept) {
				t.Errorf("%s no longer held", tt.kept)
			}
			calls := f.recorded()
			if len(calls) != 1 || calls[0].Status != tt.want || calls[0].Region != "eu" || calls[0].Subsystem != "projects" {
				t.Errorf("calls %+v", calls)
			}
			if strings.Contains(calls[0].Path, "alice") || strings.Contains(calls[0].Path, "mallory") {
				t.Errorf("call path names the subject: %s", calls[0].Path)
			}
		})
	}
}

func TestSyncDeleteTwice(t *testing.T) {
	f := newFarm(t)
	h := f.Subsystem("eu", projects, config.DemoSubsystem{})
	for i, want := range []int{204, 404} {
		r := httptestWithToken(h, "DELETE", "/subjects/carol", "Bearer t")
		if r.status != want {
			t.Fatalf("delete %d: status %d, want %d", i+1, r.status, want)
		}
	}
	calls := f.recorded()
	if calls[0].SubjectHash != subjectHash("carol") || calls[0].Path != "/subjects/{subjectId}" {
		t.Errorf("call %+v", calls[0])
	}
}

func httptestWithToken(h http.Handler, method, path, auth string) answerOf {
	return serveWith(h, method, path, "", map[string]string{"Authorization": auth})
}

func TestAsyncSubmit(t *testing.T) {
	const id = "er_eu_0193a0a0-0000-7000-8000-000000000001"
	tests := []struct {
		name      string
		method    string
		path      string
		body      string
		want      int
		wantCode  string
		wantField string
	}{
		{name: "accepted", method: "POST", path: "/erasures", body: `{"requestId":"` + id + `","subjectId":"alice"}`, want: 202},
		{name: "unknown subject is accepted too", method: "POST", path: "/erasures", body: `{"requestId":"` + id + `","subjectId":"zed"}`, want: 202},
		{name: "unknown fields ignored", method: "POST", path: "/erasures", body: `{"requestId":"` + id + `","subjectId":"alice","reason":"art17"}`, want: 202},
		{name: "not JSON", method: "POST", path: "/erasures", body: `requestId=1`, want: 400, wantCode: "invalid_json"},
		{name: "empty body", method: "POST", path: "/erasures", body: ``, want: 400, wantCode: "invalid_json"},
		{name: "array", method: "POST", path: "/erasures", body: `[]`, want: 400, wantCode: "invalid_json"},
		{name: "trailing data", method: "POST", path: "/erasures", body: `{"requestId":"r","subjectId":"alice"} {}`, want: 400, wantCode: "invalid_json"},
		{name: "missing requestId", method: "POST", path: "/erasures", body: `{"subjectId":"alice"}`, want: 400, wantCode: "missing_field", wantField: "requestId"},
		{name: "empty requestId", method: "POST", path: "/erasures", body: `{"requestId":"","subjectId":"alice"}`, want: 400, wantCode: "missing_field", wantField: "requestId"},
		{name: "requestId not a string", method: "POST", path: "/erasures", body: `{"requestId":7,"subjectId":"alice"}`, want: 400, wantCode: "invalid_field", wantField: "requestId"},
		{name: "requestId with a space", method: "POST", path: "/erasures", body: `{"requestId":"a b","subjectId":"alice"}`, want: 400, wantCode: "invalid_field", wantField: "requestId"},
		{name: "requestId too long", method: "POST", path: "/erasures", body: `{"requestId":"` + strings.Repeat("r", 257) + `","subjectId":"alice"}`, want: 400, wantCode: "invalid_field", wantField: "requestId"},
		{name: "missing subjectId", method: "POST", path: "/erasures", body: `{"requestId":"` + id + `"}`, want: 400, wantCode: "missing_field", wantField: "subjectId"},
		{name: "subjectId not a string", method: "POST", path: "/erasures", body: `{"requestId":"` + id + `","subjectId":{"a":1}}`, want: 400, wantCode: "invalid_field", wantField: "subjectId"},
		{name: "subjectId padded", method: "POST", path: "/erasures", body: `{"requestId":"` + id + `","subjectId":" alice"}`, want: 400, wantCode: "invalid_field", wantField: "subjectId"},
		{name: "body too large", method: "POST", path: "/erasures", body: `{"requestId":"` + id + `","subjectId":"alice","pad":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, want: 413, wantCode: "body_too_large"},
		{name: "GET on erasures is 405", method: "GET", path: "/erasures", want: 405, wantCode: "method_not_allowed"},
		{name: "sync route is 404 on an async subsystem", method: "DELETE", path: "/subjects/alice", want: 404, wantCode: "no_route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFarm(t)
			h := f.Subsystem("us", orders, config.DemoSubsystem{})
			r := serve(h, tt.method, tt.path, tt.body)
			if r.status != tt.want {
				t.Fatalf("status %d, want %d (%s)", r.status, tt.want, r.body)
			}
			if tt.wantCode != "" {
				e := r.errorBody(t)
				if e.Code != tt.wantCode || e.Field != tt.wantField {
					t.Errorf("error %+v, want code %q field %q", e, tt.wantCode, tt.wantField)
				}
				if strings.Contains(e.Message, "alice") {
					t.Errorf("error names the subject: %s", r.body)
				}
			}
			if !f.Holds("us", "orders", "alice") {
				t.Error("a submit removed the subject at once; it must wait for the erasure to finish")
			}
			if calls := f.recorded(); len(calls) != 1 || calls[0].Status != tt.want {
				t.Errorf("calls %+v", calls)
			}
		})
	}
}

func TestSubmitIsIdempotentOnRequestID(t *testing.T) {
	f := newFarm(t)
	h := f.Subsystem("eu", orders, config.DemoSubsystem{FinishAfterSeconds: 60})
	first := submit(t, h, "er_eu_1", "alice")
	f.clock.Advance(30 * time.Second)
	again := submit(t, h, "er_eu_1", "alice")
	if again != first {
		t.Fatalf("second submit got ticket %s, want %s", again, first)
	}
	// The job was not started anew: it finishes 60 s after the first submit.
	f.clock.Advance(30 * time.Second)
	if got := status(t, h, first); got.Status != "deleted" {
		t.Fatalf("status %+v, want deleted 60 s after the first submit", got)
	}
	other := submit(t, h, "er_eu_2", "bob")
	if other == first {
		t.Fatal("another request got the same ticket")
	}
	if n := f.tickets(t, "eu/orders"); n != 2 {
		t.Errorf("%d tickets filed, want 2", n)
	}
	if strings.Contains(first, "alice") || strings.Contains(other, "bob") {
		t.Errorf("tickets name subjects: %s %s", first, other)
	}
	// The same request id for another subject is refused, and changes nothing.
	r := serve(h, "POST", "/erasures", `{"requestId":"er_eu_1","subjectId":"carol"}`)
	if r.status != 409 || r.errorBody(t).Field != "requestId" || strings.Contains(r.body, "carol") {
		t.Fatalf("reuse for another subject: %d %s", r.status, r.body)
	}
	if !f.Holds("eu", "orders", "carol") {
		t.Error("carol erased by a refused submit")
	}
	var submits []Call
	for _, c := range f.recorded() {
		if c.Method == "POST" && c.RequestID == "er_eu_1" {
			submits = append(submits, c)
		}
	}
	if len(submits) != 3 || submits[0].SubjectHash != subjectHash("alice") {
		t.Errorf("submits of er_eu_1: %+v", submits)
	}
}

func TestAsyncCheck(t *testing.T) {
	tests := []struct {
		name    string
		knobs   config.DemoSubsystem
		subject string
		advance time.Duration
		want    StatusBody
		held    bool
	}{
		{name: "pending before it is due", subject: "alice", advance: 599 * time.Second, want: StatusBody{"pending", "queued"}, held: true},
		{name: "deleted when due (default 600 s)", subject: "alice", advance: 600 * time.Second, want: StatusBody{"deleted", "deleted"}},
		{name: "configured delay", knobs: config.DemoSubsystem{FinishAfterSeconds: 3600}, subject: "bob", advance: time.Hour, want: StatusBody{"deleted", "deleted"}},
		{name: "configured delay not yet", knobs: config.DemoSubsystem{FinishAfterSeconds: 3600}, subject: "bob", advance: time.Hour - time.Second, want: StatusBody{"pending", "queued"}, held: true},
		{name: "subject never held", subject: "zed", advance: time.Hour, want: StatusBody{"deleted", "nothing held"}},
		{name: "never finish", knobs: config.DemoSubsystem{NeverFinish: true}, subject: "carol", advance: 365 * 24 * time.Hour, want: StatusBody{"pending", detailNeverFinish}, held: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFarm(t)
			h := f.Subsystem("eu", customers, tt.knobs)
			ticket := submit(t, h, "er_eu_x", tt.subject)
			if got := status(t, h, ticket); got.Status != "pending" {
				t.Fatalf("right after submit: %+v", got)
			}
			f.clock.Advance(tt.advance)
			if got := status(t, h, ticket); got != tt.want {
				t.Errorf("status %+v, want %+v", got, tt.want)
			}
			if got := f.Holds("eu", "customers", tt.subject); got != tt.held {
				t.Errorf("Holds = %v, want %v", got, tt.held)
			}
			// A finished erasure stays finished.
			f.clock.Advance(time.Hour)
			if got := status(t, h, ticket); tt.want.Status == "deleted" && got != tt.want {
				t.Errorf("later: %+v", got)
			}
			calls := f.recorded()
			if last := calls[len(calls)-1]; last.RequestID != "er_eu_x" || last.Path != "/erasures/"+ticket {
				t.Errorf("check call %+v", last)
			}
		})
	}
}

func TestAsyncCheckErrors(t *testing.T) {
	f := newFarm(t)
	h := f.Subsystem("eu", orders, config.DemoSubsystem{})
	ticket := submit(t, h, "er_eu_1", "alice")
	other := f.Subsystem("eu", customers, config.DemoSubsystem{})
	tests := []struct {
		name     string
		h        http.Handler
		method   string
		path     string
		want     int
		wantCode string
	}{
		{name: "unknown ticket", h: h, method: "GET", path: "/erasures/nope", want: 404, wantCode: "unknown_ticket"},
		{name: "another subsystem's ticket", h: other, method: "GET", path: "/erasures/" + ticket, want: 404, wantCode: "unknown_ticket"},
		{name: "empty ticket", h: h, method: "GET", path: "/erasures/", want: 400, wantCode: "invalid_ticket"},
		{name: "DELETE on a ticket is 405", h: h, method: "DELETE", path: "/erasures/" + ticket, want: 405, wantCode: "method_not_allowed"},
		{name: "too deep", h: h, method: "GET", path: "/erasures/" + ticket + "/x", want: 404, wantCode: "no_route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := serve(tt.h, tt.method, tt.path, "")
			if r.status != tt.want || r.errorBody(t).Code != tt.wantCode {
				t.Errorf("%d %s, want %d %s", r.status, r.body, tt.want, tt.wantCode)
			}
		})
	}
}

// Two requests for one subject: the first to finish erases it, the second
// finds nothing held, and both report deleted.
func TestTwoErasuresOfOneSubject(t *testing.T) {
	f := newFarm(t)
	h := f.Subsystem("eu", orders, config.DemoSubsystem{FinishAfterSeconds: 60})
	a := submit(t, h, "er_eu_a", "alice")
	f.clock.Advance(10 * time.Second)
	b := submit(t, h, "er_eu_b", "alice")
	f.clock.Advance(time.Hour)
	// Checked in reverse order: settling finishes every due erasure in
	// submission order, whichever ticket is asked about.
	if got := status(t, h, b); got != (StatusBody{"deleted", "nothing held"}) {
		t.Errorf("second: %+v", got)
	}
	if got := status(t, h, a); got != (StatusBody{"deleted", "deleted"}) {
		t.Errorf("first: %+v", got)
	}
}

// Holds finishes due erasures without a check: the subsystem's job runs on
// its own.
func TestHoldsFinishesDueErasures(t *testing.T) {
	f := newFarm(t)
	h := f.Subsystem("eu", orders, config.DemoSubsystem{FinishAfterSeconds: 60})
	submit(t, h, "er_eu_a", "bob")
	if !f.Holds("eu", "orders", "bob") {
		t.Fatal("bob erased before due")
	}
	f.clock.Advance(time.Minute)
	if f.Holds("eu", "orders", "bob") {
		t.Error("bob still held after the erasure was due")
	}
	if f.Holds("eu", "nosuch", "bob") || f.Holds("xx", "orders", "alice") {
		t.Error("an unknown subsystem holds subjects")
	}
}

// Subsystems of one farm, and of two regions, keep separate subjects.
func TestSubsystemsAreSeparate(t *testing.T) {
	f := newFarm(t)
	eu := f.Subsystem("eu", projects, config.DemoSubsystem{})
	f.Subsystem("us", projects, config.DemoSubsystem{})
	f.Subsystem("eu", orders, config.DemoSubsystem{})
	if r := serve(eu, "DELETE", "/subjects/alice", ""); r.status != 204 {
		t.Fatal(r.status)
	}
	for _, c := range []struct {
		region, sub string
		want        bool
	}{{"eu", "projects", false}, {"us", "projects", true}, {"eu", "orders", true}} {
		if got := f.Holds(c.region, c.sub, "alice"); got != c.want {
			t.Errorf("%s/%s holds alice = %v, want %v", c.region, c.sub, got, c.want)
		}
	}
	for _, c := range f.recorded() {
		if c.Region != "eu" || c.Subsystem != "projects" {
			t.Errorf("call to %s/%s", c.Region, c.Subsystem)
		}
	}
}

func TestTicketNeverContainsTheSubject(t *testing.T) {
	for _, subject := range []string{"a", "0", "z", "A", "é", "ab"} {
		for range 200 {
			tk, err := newTicket(subject)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(strings.ToLower(tk), strings.ToLower(subject)) || len(tk) != ticketLength {
				t.Fatalf("ticket %q for subject %q", tk, subject)
			}
		}
	}
}

// Concurrent submits of one request (a retry racing the original) file one
// erasure.
func TestConcurrentSubmitsFileOnce(t *testing.T) {
	f := newFarm(t)
	h := f.Subsystem("eu", orders, config.DemoSubsystem{})
	var wg sync.WaitGroup
	tickets := make([]string, 20)
	for i := range tickets {
		wg.Go(func() {
			r := serve(h, "POST", "/erasures", `{"requestId":"er_eu_race","subjectId":"alice"}`)
			tickets[i] = r.body
		})
	}
	wg.Wait()
	for _, tk := range tickets {
		if tk != tickets[0] || !strings.Contains(tk, "ticket") {
			t.Fatalf("answers differ: %q vs %q", tk, tickets[0])
		}
	}
	if n := f.tickets(t, "eu/orders"); n != 1 {
		t.Errorf("%d tickets, want 1", n)
	}
}
