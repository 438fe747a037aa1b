package demo

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/config"
)

func TestFaults(t *testing.T) {
	tests := []struct {
		name  string
		knobs config.DemoSubsystem
		// want503 is how many of 50 deletes of an unknown subject are
		// answered 503 (the others 404).
		want503 int
		code    string
	}{
		{name: "no faults", want503: 0},
		{name: "outage", knobs: config.DemoSubsystem{Outage: true}, want503: 50, code: "outage"},
		{name: "outage wins over error rate 0", knobs: config.DemoSubsystem{Outage: true, ErrorRate: 0}, want503: 50, code: "outage"},
		{name: "error rate 1", knobs: config.DemoSubsystem{ErrorRate: 1}, want503: 50, code: "injected_error"},
		{name: "error rate 0", knobs: config.DemoSubsystem{ErrorRate: 0}, want503: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFarm(t)
			h := f.Subsystem("eu", projects, tt.knobs)
			got := 0
			for range 50 {
				r := serve(h, "DELETE", "/subjects/mallory", "")
				switch r.status {
				case 503:
					got++
					if e := r.errorBody(t); e.Code != tt.code || r.header.Get("Retry-After") == "" {
						t.Fatalf("503 %s, want code %s and Retry-After", r.body, tt.code)
					}
				case 404:
				default:
					t.Fatalf("status %d", r.status)
				}
			}
			if got != tt.want503 {
				t.Errorf("%d answers 503, want %d", got, tt.want503)
			}
		})
	}
}

// TestReject: a rejecting subsystem answers every call 403 and deletes
// nothing, sync and async alike.
func TestReject(t *testing.T) {
	f := newFarm(t)
	sync := f.Subsystem("eu", projects, config.DemoSubsystem{Reject: true})
	async := f.Subsystem("eu", orders, config.DemoSubsystem{Reject: true})
	for _, r := range []answerOf{
		serve(sync, "DELETE", "/subjects/alice", ""),
		serve(async, "POST", "/erasures", `{"requestId":"er_eu_1","subjectId":"alice"}`),
		serve(async, "GET", "/erasures/t-1", ""),
	} {
		if e := r.errorBody(t); r.status != 403 || e.Code != "rejected" {
			t.Errorf("answer %d %s, want 403 rejected", r.status, r.body)
		}
	}
	if !f.Holds("eu", "projects", "alice") || !f.Holds("eu", "orders", "alice") {
		t.Error("a rejecting subsystem deleted the subject")
	}
}

// An injected 503 changes nothing: the subject is still held, no ticket is
// issued.
func TestFaultChangesNothing(t *testing.T) {
	f := newFarm(t)
	sync := f.Subsystem("eu", projects, config.DemoSubsystem{Outage: true})
	async := f.Subsystem("eu", orders, config.DemoSubsystem{ErrorRate: 1})
	if r := serve(sync, "DELETE", "/subjects/alice", ""); r.status != 503 {
		t.Fatal(r.status)
	}
	if r := serve(async, "POST", "/erasures", `{"requestId":"er_eu_1","subjectId":"alice"}`); r.status != 503 {
		t.Fatal(r.status)
	}
	if !f.Holds("eu", "projects", "alice") {
		t.Error("an outage deleted the subject")
	}
	f.SetFaults("eu", "orders", config.DemoSubsystem{FinishAfterSeconds: 1})
	ticket := submit(t, async, "er_eu_1", "alice")
	f.clock.Advance(time.Second)
	if got := status(t, async, ticket); got.Status != "deleted" {
		t.Errorf("after the fault was cleared: %+v", got)
	}
}

func TestErrorRateIsAShare(t *testing.T) {
	f := newFarm(t)
	draws := []float64{0.1, 0.5, 0.29, 0.3, 0.99}
	f.random = func() float64 { v := draws[0]; draws = draws[1:]; return v }
	h := f.Subsystem("eu", projects, config.DemoSubsystem{ErrorRate: 0.3})
	var got []int
	for range 5 {
		got = append(got, serve(h, "DELETE", "/subjects/mallory", "").status)
	}
	if want := []int{503, 404, 503, 404, 404}; !cmp.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
}

// SetFaults turns an outage on and off while the subsystem runs, and
// neverFinish holds erasures pending until it is lifted.
func TestSetFaultsWhileRunning(t *testing.T) {
	f := newFarm(t)
	h := f.Subsystem("us", orders, config.DemoSubsystem{FinishAfterSeconds: 60, NeverFinish: true})
	ticket := submit(t, h, "er_us_1", "bob")
	f.clock.Advance(24 * time.Hour)
	if got := status(t, h, ticket); got.Status != "pending" || !f.Holds("us", "orders", "bob") {
		t.Fatalf("neverFinish: %+v", got)
	}
	f.SetFaults("us", "orders", config.DemoSubsystem{FinishAfterSeconds: 60, Outage: true})
	if r := serve(h, "GET", "/erasures/"+ticket, ""); r.status != 503 {
		t.Fatalf("outage: %d", r.status)
	}
	if got := f.Faults("us", "orders"); !got.Outage || got.FinishAfterSeconds != 60 {
		t.Errorf("Faults = %+v", got)
	}
	f.SetFaults("us", "orders", config.DemoSubsystem{})
	if got := f.Faults("us", "orders").FinishAfterSeconds; got != config.DefaultDemoFinishAfterSeconds {
		t.Errorf("FinishAfterSeconds 0 became %d, want the default", got)
	}
	if got := status(t, h, ticket); got != (StatusBody{"deleted", "deleted"}) {
		t.Errorf("after lifting the faults: %+v", got)
	}
}

// Latency is wall time, and a caller that gives up during it gets nothing
// done: its call is reported with status 0.
func TestLatency(t *testing.T) {
	f := newFarm(t)
	h := f.Subsystem("eu", projects, config.DemoSubsystem{LatencyMillis: 50})
	start := time.Now()
	if r := serve(h, "DELETE", "/subjects/alice", ""); r.status != 204 {
		t.Fatal(r.status)
	}
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Errorf("answered after %s, want at least 50ms", el)
	}

	f.SetFaults("eu", "projects", config.DemoSubsystem{LatencyMillis: 60_000})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	r := httptest.NewRequestWithContext(ctx, "DELETE", "/subjects/bob", nil)
	w := httptest.NewRecorder()
	start = time.Now()
	h.ServeHTTP(w, r)
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("a cancelled call waited %s", el)
	}
	if !f.Holds("eu", "projects", "bob") {
		t.Error("a call cancelled during its latency deleted the subject")
	}
	calls := f.recorded()
	if last := calls[len(calls)-1]; last.Status != 0 || last.Path != "/subjects/{subjectId}" {
		t.Errorf("cancelled call %+v", last)
	}
}

// Over a real server, a client timeout shorter than the latency is a
// transport error, which the connector reports as SubsystemUnavailable.
func TestLatencyOverHTTP(t *testing.T) {
	f := newFarm(t)
	srv := httptest.NewServer(f.Subsystem("eu", projects, config.DemoSubsystem{LatencyMillis: 2000}))
	defer srv.Close()
	client := &http.Client{Timeout: 50 * time.Millisecond}
	req, _ := http.NewRequest("DELETE", srv.URL+"/subjects/alice", nil)
	if _, err := client.Do(req); err == nil {
		t.Fatal("no timeout")
	}
	srv.Close() // waits for the handler, which returns once the client is gone
	if !f.Holds("eu", "projects", "alice") {
		t.Error("deleted although the caller gave up")
	}
}

func TestParseFault(t *testing.T) {
	base := func(region, sub string) config.DemoSubsystem {
		if region == "eu" && sub == "orders" {
			return config.DemoSubsystem{FinishAfterSeconds: 600, ErrorRate: 0.1, Subjects: []string{"dave"}}
		}
		return config.DemoSubsystem{FinishAfterSeconds: 600}
	}
	tests := []struct {
		spec    string
		wantKey string
		want    config.DemoSubsystem
		// wantErr is a part of the error's text, which must also quote the spec.
		wantErr string
	}{
		{spec: "eu/orders=outage", wantKey: "eu/orders", want: config.DemoSubsystem{FinishAfterSeconds: 600, ErrorRate: 0.1, Outage: true, Subjects: []string{"dave"}}},
		{spec: "eu/orders=errorRate:0.3,latency:200ms,neverFinish,finishAfter:3600s", wantKey: "eu/orders",
			want: config.DemoSubsystem{FinishAfterSeconds: 3600, ErrorRate: 0.3, LatencyMillis: 200, NeverFinish: true, Subjects: []string{"dave"}}},
		{spec: "us/customers=finishAfter:20d", wantKey: "us/customers", want: config.DemoSubsystem{FinishAfterSeconds: 20 * 86400}},
		{spec: "us/customers=finishAfter:1.5h", wantKey: "us/customers", want: config.DemoSubsystem{FinishAfterSeconds: 5400}},
		{spec: " us/projects = Outage:true , errorrate:1 ", wantKey: "us/projects", want: config.DemoSubsystem{FinishAfterSeconds: 600, Outage: true, ErrorRate: 1}},
		{spec: "eu/orders=outage:false,errorRate:0", wantKey: "eu/orders", want: config.DemoSubsystem{FinishAfterSeconds: 600, Subjects: []string{"dave"}}},
		{spec: "eu/projects=reject", wantKey: "eu/projects", want: config.DemoSubsystem{FinishAfterSeconds: 600, Reject: true}},
		{spec: "eu/orders=reject,outage,clear", wantKey: "eu/orders", want: config.DemoSubsystem{FinishAfterSeconds: 600, Subjects: []string{"dave"}}},
		{spec: "eu/orders=outage,latency:5s,clear", wantKey: "eu/orders", want: config.DemoSubsystem{FinishAfterSeconds: 600, Subjects: []string{"dave"}}},
		{spec: "eu/orders=latency:0s", wantKey: "eu/orders", want: config.DemoSubsystem{FinishAfterSeconds: 600, ErrorRate: 0.1, Subjects: []string{"dave"}}},
		{spec: "eu/orders=neverFinish:true,neverFinish:false", wantKey: "eu/orders", want: config.DemoSubsystem{FinishAfterSeconds: 600, ErrorRate: 0.1, Subjects: []string{"dave"}}},

		{spec: "eu/orders", wantErr: "want <region>/<subsystem>=<knobs>"},
		{spec: "orders=outage", wantErr: `"orders" is not <region>/<subsystem>`},
		{spec: "/orders=outage", wantErr: "is not <region>/<subsystem>"},
		{spec: "eu/=outage", wantErr: "is not <region>/<subsystem>"},
		{spec: "eu/orders/x=outage", wantErr: "is not <region>/<subsystem>"},
		{spec: "eu/orders=", wantErr: "no knobs"},
		{spec: "eu/orders=outage,", wantErr: "empty knob"},
		{spec: "eu/orders=explode", wantErr: "explode: unknown knob"},
		{spec: "eu/orders=outage:maybe", wantErr: "outage:maybe: want true or false"},
		{spec: "eu/orders=errorRate", wantErr: "errorRate: needs a share"},
		{spec: "eu/orders=errorRate:1.5", wantErr: "errorRate:1.5: must be a number between 0 and 1"},
		{spec: "eu/orders=errorRate:-0.1", wantErr: "between 0 and 1"},
		{spec: "eu/orders=errorRate:NaN", wantErr: "between 0 and 1"},
		{spec: "eu/orders=errorRate:30%", wantErr: "between 0 and 1"},
		{spec: "eu/orders=latency", wantErr: "latency: needs a duration"},
		{spec: "eu/orders=latency:200", wantErr: `"200" is not a duration`},
		{spec: "eu/orders=latency:-5ms", wantErr: "is negative"},
		{spec: "eu/orders=latency:10us", wantErr: "at least 1ms"},
		{spec: "eu/orders=latency:2h", wantErr: "at most 1h"},
		{spec: "eu/orders=finishAfter:0s", wantErr: "at least 1s"},
		{spec: "eu/orders=finishAfter:1500ms", wantErr: "whole number of seconds"},
		{spec: "eu/orders=finishAfter:xd", wantErr: "not a number of days"},
		{spec: "eu/orders=finishAfter", wantErr: "needs a duration"},
		{spec: "eu/orders=clear:yes", wantErr: "takes no value"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			key, got, err := ParseFault(tt.spec, base)
			if tt.wantErr != "" {
				var fe *FaultError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.spec) {
					t.Fatalf("error %v, want a FaultError containing %q and the spec", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if key != tt.wantKey {
				t.Errorf("key %q, want %q", key, tt.wantKey)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("knobs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFaultWithoutBase(t *testing.T) {
	_, got, err := ParseFault("eu/orders=latency:1s", nil)
	if err != nil || !cmp.Equal(got, config.DemoSubsystem{LatencyMillis: 1000}) {
		t.Errorf("%+v, %v", got, err)
	}
}

func TestApplyFaults(t *testing.T) {
	load := func(t *testing.T) *config.Config {
		t.Helper()
		cfg, err := config.Load(filepath.Join("..", "..", "cdk.json"))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	t.Run("flags add up per subsystem", func(t *testing.T) {
		cfg := load(t)
		err := ApplyFaults(cfg, []string{"eu/orders=outage", "eu/orders=latency:200ms", "us/projects=errorRate:0.5"})
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Demo("eu", "orders"); !got.Outage || got.LatencyMillis != 200 || got.FinishAfterSeconds != config.DefaultDemoFinishAfterSeconds {
			t.Errorf("eu/orders %+v", got)
		}
		if got := cfg.Demo("us", "projects"); got.ErrorRate != 0.5 || got.Outage {
			t.Errorf("us/projects %+v", got)
		}
		if got := cfg.Demo("eu", "customers"); !cmp.Equal(got, config.DemoSubsystem{FinishAfterSeconds: config.DefaultDemoFinishAfterSeconds}) {
			t.Errorf("eu/customers touched: %+v", got)
		}
	})
	for _, tt := range []struct{ spec, wantErr string }{
		{"mars/orders=outage", `no region named "mars"`},
		{"eu/billing=outage", `region eu has no subsystem "billing"`},
		{"eu/orders=errorRate:2", "between 0 and 1"},
	} {
		t.Run(tt.spec, func(t *testing.T) {
			cfg := load(t)
			err := ApplyFaults(cfg, []string{tt.spec})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
			if len(cfg.Local.Subsystems) != 0 {
				t.Errorf("a refused flag changed the configuration: %+v", cfg.Local.Subsystems)
			}
		})
	}
}

// TestCallbackKnob: callback has Lethe offer the async subsystem callbacks
// (with the sparse checks of a subsystem that calls back); callback:false
// keeps the demo subsystem silent; a sync subsystem cannot call back.
func TestCallbackKnob(t *testing.T) {
	cfg, err := config.Load(filepath.Join("..", "..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ApplyFaults(cfg, []string{"eu/orders=callback,finishAfter:72h", "eu/customers=callback:false"}); err != nil {
		t.Fatal(err)
	}
	eu, _ := cfg.Region("eu")
	orders, _ := eu.Subsystem("orders")
	customers, _ := eu.Subsystem("customers")
	if !orders.Callback || orders.Poll.InitialSeconds != config.DefaultCallbackPollInitialSeconds || customers.Callback {
		t.Fatalf("orders callback %v poll %+v, customers callback %v", orders.Callback, orders.Poll, customers.Callback)
	}
	if d := cfg.Local.Subsystems["eu/orders"]; d.NoCallback || d.FinishAfterSeconds != 72*3600 {
		t.Fatalf("orders knobs %+v", d)
	}
	if d := cfg.Local.Subsystems["eu/customers"]; !d.NoCallback {
		t.Fatalf("customers knobs %+v", d)
	}
	var fe *FaultError
	if err := ApplyFaults(cfg, []string{"eu/projects=callback"}); !errors.As(err, &fe) || !strings.Contains(err.Error(), "only async") {
		t.Fatalf("callback on a sync subsystem: %v", err)
	}
}
