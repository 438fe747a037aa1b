package asl

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// item is one Map iteration's script: how many times its task fails before
// it succeeds, how long it first waits, and how much real time each call
// takes (so that other iterations' goroutines get to run meanwhile).
type item struct {
	Name  string `json:"name"`
	Fails int    `json:"fails"`
	Wait  int    `json:"wait"`
	Real  int    `json:"realMillis"`
}

const scheduleDef = `{"StartAt":"Each","States":{"Each":{"Type":"Map","ItemsPath":"$.items",
	"ItemProcessor":{"StartAt":"Pause","States":{
		"Pause":{"Type":"Wait","SecondsPath":"$.wait","Next":"Call"},
		"Call":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Flaky",
			"Parameters":{"name.$":"$.name","fails.$":"$.fails","realMillis.$":"$.realMillis","attempt.$":"$$.State.RetryCount"},
			"TimeoutSeconds":5,
			"Retry":[{"ErrorEquals":["SubsystemUnavailable"],"IntervalSeconds":3,"BackoffRate":2,"MaxAttempts":4,"JitterStrategy":"FULL"}],
			"End":true}}},
	"End":true}}}`

const scheduleInput = `{"items":[
	{"name":"a","fails":3,"wait":0,"realMillis":2},
	{"name":"b","fails":1,"wait":7,"realMillis":0},
	{"name":"c","fails":2,"wait":1,"realMillis":1}]}`

func registerFlaky(e *Engine) {
	e.RegisterLambda("Flaky", func(_ context.Context, in struct {
		Name    string `json:"name"`
		Fails   int    `json:"fails"`
		Real    int    `json:"realMillis"`
		Attempt int    `json:"attempt"`
	}) (string, error) {
		time.Sleep(time.Duration(in.Real) * time.Millisecond) // an HTTP call: real time, no virtual time
		if in.Attempt < in.Fails {
			return "", SubsystemUnavailable{Subsystem: in.Name}
		}
		return in.Name + " done", nil
	})
}

// signature is an event without its ids, which depend on how concurrent
// iterations interleave at one instant.
func signature(ev Event) string {
	return ev.Timestamp.UTC().Format(time.RFC3339Nano) + " " + ev.Type + " " + jsonString(ev.Details)
}

// iterationChains follows each Map iteration's chain of previousEventIds
// back to its MapIterationStarted: one iteration's events in order.
func iterationChains(h []Event) map[string][]string {
	byID := map[int64]Event{}
	for _, ev := range h {
		byID[ev.ID] = ev
	}
	out := map[string][]string{}
	for _, ev := range h {
		if ev.Type != "MapIterationSucceeded" && ev.Type != "MapIterationFailed" {
			continue
		}
		var chain []string
		for cur := ev; ; cur = byID[cur.PreviousEventID] {
			chain = append([]string{signature(cur)}, chain...)
			if cur.Type == "MapIterationStarted" || cur.PreviousEventID == 0 {
				break
			}
		}
		out[fmt.Sprint(ev.Details["index"])] = chain
	}
	return out
}

// TestVirtualTimeIsDeterministic runs a Map whose three iterations wait and
// retry on different schedules, with handlers that take real time, 50
// times: every run must give the same events at the same virtual times, in
// time order, and the same end.
func TestVirtualTimeIsDeterministic(t *testing.T) {
	type run struct {
		status, output string
		stop           time.Time
		transitions    int
		events         []string
		chains         map[string][]string
	}
	var first *run
	for i := range 50 {
		e, _ := newTestEngine(t)
		registerFlaky(e)
		res := runDef(t, e, scheduleDef, scheduleInput)
		r := &run{status: res.Status, output: jsonString(res.Output), stop: res.StopDate, transitions: res.BilledTransitions,
			chains: iterationChains(res.History.Events())}
		for j, ev := range res.History.Events() {
			r.events = append(r.events, signature(ev))
			if j > 0 && ev.Timestamp.Before(res.History.Events()[j-1].Timestamp) {
				t.Fatalf("run %d: event %d (%s) is earlier than the event before it", i, ev.ID, ev.Type)
			}
		}
		sort.Strings(r.events)
		if first == nil {
			first = r
			if r.status != StatusSucceeded || r.output != `["a done","b done","c done"]` {
				t.Fatalf("status %s output %s: %s %s", r.status, r.output, res.Error, res.Cause)
			}
			// a: retries after 1.5s, 3s, 6s (jitter 0.5) from 0; b: waits 7s then
			// one retry of 1.5s; c: waits 1s, retries 1.5s and 3s.
			if got := r.stop.Sub(epoch); got != 10500*time.Millisecond {
				t.Fatalf("finished after %v of virtual time, want 10.5s", got)
			}
			if len(r.chains) != 3 {
				t.Fatalf("%d iteration chains", len(r.chains))
			}
			continue
		}
		if diff := cmp.Diff(first, r, cmp.AllowUnexported(run{})); diff != "" {
			t.Fatalf("run %d differs from run 0 (-first +this):\n%s", i, diff)
		}
	}
}

// TestWaitInOneBranchDoesNotTimeOutAnother is the bug virtual time had when
// a Sleep moved the shared clock at once: one branch's long Wait made the
// other branch's in-flight call exceed its TimeoutSeconds.
func TestWaitInOneBranchDoesNotTimeOutAnother(t *testing.T) {
	for range 20 {
		e, clock := newTestEngine(t)
		e.RegisterLambda("Slow", func(context.Context) (string, error) {
			time.Sleep(5 * time.Millisecond) // real time only
			return "called", nil
		})
		def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
			{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}},
			{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Slow","TimeoutSeconds":5,"End":true}}}]}}}`
		res := runDef(t, e, def, `{}`)
		if res.Status != StatusSucceeded || jsonString(res.Output) != `[{},"called"]` {
			t.Fatalf("%s %s %s: %s", res.Status, jsonString(res.Output), res.Error, res.Cause)
		}
		if got := clock.Now().Sub(epoch); got != time.Hour {
			t.Fatalf("virtual time %v, want 1h", got)
		}
		for _, ev := range res.History.Events() {
			if ev.Type == "LambdaFunctionSucceeded" && !ev.Timestamp.Equal(epoch) {
				t.Fatalf("the call ended at %v of virtual time, want 0", ev.Timestamp.Sub(epoch))
			}
		}
	}
}

// TestTaskTimeoutWhenHandlerWaitsOnVirtualTime: a handler that itself waits
// on the clock longer than TimeoutSeconds times out with no help from the
// test.
func TestTaskTimeoutWhenHandlerWaitsOnVirtualTime(t *testing.T) {
	e, clock := newTestEngine(t)
	e.RegisterLambda("Sleepy", func(ctx context.Context) (string, error) {
		if err := clock.Sleep(ctx, time.Minute); err != nil {
			return "", err
		}
		return "woke", nil
	})
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Sleepy","TimeoutSeconds":5,"End":true}}}`
	res := runDef(t, e, def, `{}`)
	if res.Error != ErrTimeout {
		t.Fatalf("%s %s %s", res.Status, res.Error, jsonString(res.Output))
	}
	if got := res.StopDate.Sub(epoch); got != 5*time.Second {
		t.Fatalf("timed out after %v, want 5s", got)
	}
	// The same handler within its timeout succeeds after its minute.
	res = runDef(t, e, strings.Replace(def, `"TimeoutSeconds":5`, `"TimeoutSeconds":120`, 1), `{}`)
	if res.Status != StatusSucceeded || res.StopDate.Sub(res.StartDate) != time.Minute {
		t.Fatalf("%s %s after %v", res.Status, res.Error, res.StopDate.Sub(res.StartDate))
	}
}

// TestHoldStartsExecutionsAtOneInstant: without Hold, time may move between
// a test's Starts; with it, all start together and their waits overlap.
func TestHoldStartsExecutionsAtOneInstant(t *testing.T) {
	e, clock := newTestEngine(t)
	arn := registerAs(e, "Waiter", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":60,"End":true}}}`)
	release := clock.Hold()
	var xs []*Execution
	for i := range 5 {
		x, err := e.Start(context.Background(), arn, fmt.Sprint("w", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		xs = append(xs, x)
	}
	time.Sleep(5 * time.Millisecond)
	if !clock.Now().Equal(epoch) {
		t.Fatalf("time moved while held: %v", clock.Now())
	}
	release()
	release() // idempotent
	for _, x := range xs {
		res, err := x.Wait(context.Background())
		if err != nil || !res.StartDate.Equal(epoch) || res.StopDate.Sub(epoch) != time.Minute {
			t.Fatalf("%v: started %v, stopped %v", err, res.StartDate, res.StopDate)
		}
	}
}

// TestSyncChildWaitsOnVirtualTime: a parent waiting for its .sync child is
// idle, so the child's Waits run; a sibling branch's call is not timed out by
// them.
func TestSyncChildWaitsOnVirtualTime(t *testing.T) {
	e, _ := newTestEngine(t)
	registerAs(e, "Child", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":86400,"End":true}}}`)
	e.RegisterLambda("Quick", func(context.Context) (string, error) { time.Sleep(2 * time.Millisecond); return "q", nil })
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
		{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync:2",
			"Parameters":{"StateMachineArn":"Child","Input":{}},"OutputPath":"$.Status","End":true}}},
		{"StartAt":"R","States":{"R":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Quick","TimeoutSeconds":1,
			"Retry":[{"ErrorEquals":["States.Timeout"],"MaxAttempts":0}],"End":true}}}]}}}`
	res := runDef(t, e, def, `{}`)
	if res.Status != StatusSucceeded || jsonString(res.Output) != `["SUCCEEDED","q"]` {
		t.Fatalf("%s %s %s %s", res.Status, jsonString(res.Output), res.Error, res.Cause)
	}
	if got := res.StopDate.Sub(epoch); got != 24*time.Hour {
		t.Fatalf("finished after %v, want 24h", got)
	}
}

func TestForget(t *testing.T) {
	e, _ := newTestEngine(t)
	started := make(chan struct{})
	release := make(chan struct{})
	e.RegisterLambda("Block", func(context.Context) (string, error) {
		close(started)
		<-release
		return "ok", nil
	})
	arn := registerAs(e, "Forgettable", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Block","End":true}}}`)
	x, err := e.Start(context.Background(), arn, "f1", nil)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if err := e.Forget(x.Arn()); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("forgetting a running execution: %v", err)
	}
	close(release)
	if _, err := x.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.Forget(x.Arn()); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Execution(x.Arn()); ok {
		t.Fatal("a forgotten execution is still known")
	}
	if err := e.Forget(x.Arn()); err == nil || !strings.Contains(err.Error(), "ExecutionDoesNotExist") {
		t.Fatalf("forgetting twice: %v", err)
	}
	// The name is free again in this engine.
	if _, err := e.Start(context.Background(), arn, "f1", nil); err != nil {
		t.Fatalf("start again after Forget: %v", err)
	}
}

// TestRealClockTimeouts: on an accelerated wall clock, time runs by itself:
// a blocked handler times out and an execution's TimeoutSeconds ends a long
// Wait.
func TestRealClockTimeouts(t *testing.T) {
	e := NewEngine(Options{Clock: NewRealClock(1000)})
	e.RegisterLambda("Stuck", func(ctx context.Context) (string, error) { <-ctx.Done(); return "", ctx.Err() })
	start := time.Now()
	res := runDef(t, e, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Stuck","TimeoutSeconds":2,"End":true}}}`, `{}`)
	if res.Error != ErrTimeout {
		t.Fatalf("%s %s", res.Status, res.Error)
	}
	res = runDef(t, e, `{"TimeoutSeconds":3,"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
		{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}]}}}`, `{}`)
	if res.Status != StatusTimedOut {
		t.Fatalf("%s %s", res.Status, res.Error)
	}
	if real := time.Since(start); real > 2*time.Second {
		t.Fatalf("took %v of real time", real)
	}
}
