package demo

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/lethe-erasure/lethe/internal/config"
)

// TestFaultsRoute: PUT sets the knobs named on the current ones, at once;
// "" clears; GET reads; a bad change is a 4xx naming its field and changes
// nothing.
func TestFaultsRoute(t *testing.T) {
	f := newFarm(t)
	sub := f.Subsystem("eu", projects, config.DemoSubsystem{LatencyMillis: 1})
	h := f.FaultsHandler("eu", "projects")
	read := func(a answerOf) config.DemoSubsystem {
		t.Helper()
		var v FaultsView
		if a.status != 200 || json.Unmarshal([]byte(a.body), &v) != nil || v.Region != "eu" || v.Subsystem != "projects" {
			t.Fatalf("answer %d %s", a.status, a.body)
		}
		return v.Faults
	}
	if got := read(serveWith(h, "PUT", "/", `{"faults":"outage"}`, nil)); !got.Outage || got.LatencyMillis != 1 {
		t.Errorf("after outage: %+v, want outage with the latency kept", got)
	}
	if r := serve(sub, "DELETE", "/subjects/alice", ""); r.status != 503 {
		t.Errorf("a subsystem in outage answered %d", r.status)
	}
	if got := read(serveWith(h, "PUT", "/", `{"faults":"reject,outage:false"}`, nil)); got.Outage || !got.Reject {
		t.Errorf("after reject: %+v", got)
	}
	if r := serve(sub, "DELETE", "/subjects/alice", ""); r.status != 403 {
		t.Errorf("a rejecting subsystem answered %d", r.status)
	}
	for _, bad := range []struct{ body, contentType, field string }{
		{`{"faults":"meltdown"}`, "", "faults"},
		{`{"faults":"errorRate:2"}`, "", "faults"},
		{`{}`, "", "faults"},
		{`{"faults":"outage","extra":1}`, "", ""},
		{`["outage"]`, "", ""},
		{`{"faults":"outage"}`, "text/plain", "Content-Type"},
		{`{"faults":"` + strings.Repeat("x", MaxFaultsBody) + `"}`, "", ""},
	} {
		h := map[string]string{}
		if bad.contentType != "" {
			h["Content-Type"] = bad.contentType
		}
		a := serveWith(f.FaultsHandler("eu", "projects"), "PUT", "/", bad.body, h)
		if e := a.errorBody(t); a.status < 400 || a.status >= 500 || e.Field != bad.field {
			t.Errorf("PUT %.40s: %d %s, want a 4xx naming %q", bad.body, a.status, a.body, bad.field)
		}
	}
	if got := read(serve(h, "GET", "/", "")); !got.Reject || got.Outage {
		t.Errorf("refused changes changed the knobs: %+v", got)
	}
	if got := read(serveWith(h, "PUT", "/", `{"faults":""}`, nil)); got.Reject || got.Outage || got.LatencyMillis != 0 {
		t.Errorf("after clearing: %+v", got)
	}
	if r := serve(sub, "DELETE", "/subjects/alice", ""); r.status != 204 && r.status != 200 {
		t.Errorf("a cleared subsystem answered %d", r.status)
	}
	if a := serve(h, "POST", "/", ""); a.status != 405 {
		t.Errorf("POST answered %d", a.status)
	}
}
