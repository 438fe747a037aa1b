package asl

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// memCheckpoints is an in-memory Checkpoints store that outlives the
// engines of a test, standing in for the disk that survives a crash.
type memCheckpoints struct {
	mu     sync.Mutex
	state  map[string][]byte
	events map[string][][]byte
	done   map[string]bool
	saves  int
	sent   int // events received, over all saves
}

func newMemCheckpoints() *memCheckpoints {
	return &memCheckpoints{state: map[string][]byte{}, events: map[string][][]byte{}, done: map[string]bool{}}
}

func (m *memCheckpoints) Save(_ context.Context, arn string, cp Checkpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	evs := m.events[arn]
	if n := int(cp.FirstEvent) - 1; n < len(evs) {
		evs = evs[:n]
	} else if n > len(evs) {
		return fmt.Errorf("%s: events from %d after %d saved", arn, cp.FirstEvent, len(evs))
	}
	m.events[arn] = append(evs, cp.Events...)
	m.state[arn] = cp.State
	m.done[arn] = cp.Finished
	m.saves++
	m.sent += len(cp.Events)
	return nil
}

func (m *memCheckpoints) Load(_ context.Context, arn string) (Checkpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.state[arn]
	if !ok {
		return Checkpoint{}, fmt.Errorf("%s: %w", arn, ErrNoCheckpoint)
	}
	return Checkpoint{State: st, FirstEvent: 1, Events: append([][]byte(nil), m.events[arn]...), Finished: m.done[arn]}, nil
}

func (m *memCheckpoints) Unfinished(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for arn, fin := range m.done {
		if !fin {
			out = append(out, arn)
		}
	}
	sort.Strings(out)
	return out, nil
}

const durableDef = `{"StartAt":"A","States":{
	"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:A","ResultPath":"$.a","Next":"W"},
	"W":{"Type":"Wait","Seconds":86400,"Next":"B"},
	"B":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"B","Payload.$":"$"},"ResultSelector":{"v.$":"$.Payload"},"ResultPath":"$.b","Next":"M"},
	"M":{"Type":"Map","ItemsPath":"$.items","ItemProcessor":{"StartAt":"C","States":{
		"C":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:C","End":true}}},"ResultPath":"$.c","End":true}}}`

// durableWorld registers the machine and the three functions on an engine;
// block says which function blocks (until the engine's context ends) the
// first time it is called with that argument.
type durableWorld struct {
	a, b, c atomic.Int32
	blockB  atomic.Bool
	blockC  atomic.Int32 // item value that blocks, 0 for none
	blocked chan string
}

func (w *durableWorld) register(e *Engine) {
	e.RegisterMachine("Durable", mustParseNoT(durableDef))
	e.RegisterLambda("A", func(context.Context) (string, error) { w.a.Add(1); return "a", nil })
	e.RegisterLambda("B", func(ctx context.Context) (string, error) {
		w.b.Add(1)
		if w.blockB.Load() {
			w.blocked <- "B"
			<-ctx.Done()
			return "", ctx.Err()
		}
		return "b", nil
	})
	e.RegisterLambda("C", func(ctx context.Context, n int) (int, error) {
		w.c.Add(1)
		if int32(n) == w.blockC.Load() {
			w.blocked <- "C"
			<-ctx.Done()
			return 0, ctx.Err()
		}
		return n * 10, nil
	})
}

func mustParseNoT(def string) *Machine {
	m, err := Parse([]byte(def))
	if err != nil {
		panic(err)
	}
	return m
}

const durableInput = `{"items":[1,2,3]}`
const durableOutput = `{"items":[1,2,3],"a":"a","b":{"v":"b"},"c":[10,20,30]}`

func TestResumeAfterCrashInTask(t *testing.T) {
	store := newMemCheckpoints()
	w := &durableWorld{blocked: make(chan string, 4)}
	w.blockB.Store(true)

	// First process: runs A and the Wait, then dies while B is in flight.
	e1, _ := newTestEngine(t, func(o *Options) { o.Checkpoints = store })
	w.register(e1)
	ctx1, crash := context.WithCancel(context.Background())
	x1, err := e1.Start(ctx1, "Durable", "req-1", []byte(durableInput))
	if err != nil {
		t.Fatal(err)
	}
	<-w.blocked
	crash()
	if _, err := x1.Wait(context.Background()); err == nil {
		t.Fatal("a crashed execution reported success")
	}
	if un, _ := store.Unfinished(context.Background()); len(un) != 1 {
		t.Fatalf("unfinished executions %v", un)
	}

	// Second process: same store, same machine, resumes.
	w.blockB.Store(false)
	e2, _ := newTestEngine(t, func(o *Options) { o.Checkpoints = store })
	w.register(e2)
	xs, err := e2.Resume(context.Background())
	if err != nil || len(xs) != 1 {
		t.Fatalf("Resume: %v, %d executions", err, len(xs))
	}
	res, err := xs[0].Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res, caseRow{want: durableOutput})
	// A completed before the crash: never again. B was in flight: run again
	// (at least once). C: once per item.
	if got := [3]int32{w.a.Load(), w.b.Load(), w.c.Load()}; got != [3]int32{1, 2, 3} {
		t.Fatalf("invocations A, B, C = %v, want [1 2 3]", got)
	}
	if un, _ := store.Unfinished(context.Background()); len(un) != 0 {
		t.Fatalf("still unfinished: %v", un)
	}

	// The history is one continuous history: the uninterrupted run's, plus
	// B's second TaskScheduled/TaskStarted.
	ref := &durableWorld{blocked: make(chan string, 1)}
	e3, _ := newTestEngine(t)
	ref.register(e3)
	x3, _ := e3.Start(context.Background(), "Durable", "req-1", []byte(durableInput))
	want, _ := x3.Wait(context.Background())
	var wantTypes []string
	for _, typ := range eventTypes(want.History.Events()) {
		wantTypes = append(wantTypes, typ)
		if typ == "TaskStarted" && len(wantTypes) < 12 {
			wantTypes = append(wantTypes, "TaskScheduled", "TaskStarted")
		}
	}
	// Map iterations run concurrently: their events interleave freely, so
	// the order is compared up to MapStateStarted and the rest as a multiset.
	gotTypes := eventTypes(res.History.Events())
	cut := 0
	for i, typ := range wantTypes {
		if typ == "MapStateStarted" {
			cut = i + 1
		}
	}
	if diff := cmp.Diff(wantTypes[:cut], gotTypes[:min(cut, len(gotTypes))]); diff != "" {
		t.Fatalf("history (-uninterrupted +resumed):\n%s", diff)
	}
	sorted := func(s []string) []string { s = append([]string(nil), s...); sort.Strings(s); return s }
	if diff := cmp.Diff(sorted(wantTypes[cut:]), sorted(gotTypes[min(cut, len(gotTypes)):])); diff != "" {
		t.Fatalf("history after MapStateStarted (-uninterrupted +resumed):\n%s", diff)
	}
	for i, ev := range res.History.Events() {
		if ev.ID != int64(i+1) {
			t.Fatalf("event %d has id %d", i, ev.ID)
		}
	}
	if res.BilledTransitions != want.BilledTransitions {
		t.Fatalf("billed transitions %d, uninterrupted %d", res.BilledTransitions, want.BilledTransitions)
	}
}

func TestResumeAfterCrashInMap(t *testing.T) {
	store := newMemCheckpoints()
	w := &durableWorld{blocked: make(chan string, 4)}
	w.blockC.Store(2)
	e1, _ := newTestEngine(t, func(o *Options) { o.Checkpoints = store })
	w.register(e1)
	ctx1, crash := context.WithCancel(context.Background())
	x1, _ := e1.Start(ctx1, "Durable", "req-2", []byte(durableInput))
	<-w.blocked
	// Let items 1 and 3 finish before the crash.
	deadline := time.Now().Add(5 * time.Second)
	for n := 0; n < 2 && time.Now().Before(deadline); {
		n = 0
		for _, ev := range x1.Describe().History.Events() {
			if ev.Type == "MapIterationSucceeded" {
				n++
			}
		}
		time.Sleep(time.Millisecond)
	}
	crash()
	x1.Wait(context.Background())

	w.blockC.Store(0)
	e2, _ := newTestEngine(t, func(o *Options) { o.Checkpoints = store })
	w.register(e2)
	xs, err := e2.Resume(context.Background())
	if err != nil || len(xs) != 1 {
		t.Fatalf("Resume: %v", err)
	}
	res, err := xs[0].Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res, caseRow{want: durableOutput})
	// Only the iteration in flight runs again.
	if got := [3]int32{w.a.Load(), w.b.Load(), w.c.Load()}; got != [3]int32{1, 1, 4} {
		t.Fatalf("invocations A, B, C = %v, want [1 1 4]", got)
	}
}

// blockingSleeper never returns before its context ends: a process that
// dies during a long Wait.
type blockingSleeper struct{ sleeping chan time.Duration }

func (b blockingSleeper) Sleep(ctx context.Context, d time.Duration) error {
	b.sleeping <- d
	<-ctx.Done()
	return ctx.Err()
}

func TestResumeDuringWaitWaitsOnlyWhatIsLeft(t *testing.T) {
	store := newMemCheckpoints()
	def := `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":2592000,"Next":"E"},"E":{"Type":"Succeed"}}}`
	sl := blockingSleeper{sleeping: make(chan time.Duration, 1)}
	e1 := NewEngine(Options{Clock: NewFakeClock(epoch), Sleeper: sl, Checkpoints: store})
	e1.RegisterMachine("Month", mustParse(t, def))
	ctx1, crash := context.WithCancel(context.Background())
	x1, _ := e1.Start(ctx1, "Month", "m", nil)
	if d := <-sl.sleeping; d != 30*24*time.Hour {
		t.Fatalf("first sleep %v", d)
	}
	crash()
	x1.Wait(context.Background())

	clock := NewFakeClock(epoch.Add(10 * 24 * time.Hour)) // the process was down for 10 days
	e2 := NewEngine(Options{Clock: clock, Checkpoints: store})
	e2.RegisterMachine("Month", mustParse(t, def))
	xs, _ := e2.Resume(context.Background())
	res, err := xs[0].Wait(context.Background())
	if err != nil || res.Status != StatusSucceeded {
		t.Fatalf("%v %s", err, res.Status)
	}
	if diff := cmp.Diff([]time.Duration{20 * 24 * time.Hour}, clock.Sleeps()); diff != "" {
		t.Fatalf("resumed wait (-want +got):\n%s", diff)
	}
}

func TestResumeWaitForTaskToken(t *testing.T) {
	store := newMemCheckpoints()
	var sends atomic.Int32
	tokens := make(chan string, 2)
	setup := func(e *Engine) {
		e.RegisterMachine("Cb", mustParse(t, `{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"arn:aws:states:::sns:publish.waitForTaskToken",
			"Parameters":{"TopicArn":"t","Message.$":"$$.Task.Token"},"End":true}}}`))
		e.SetPublisher(publisherFunc(func(in PublishInput) { sends.Add(1); tokens <- in.Message }))
	}
	e1, _ := newTestEngine(t, func(o *Options) { o.Checkpoints = store })
	setup(e1)
	ctx1, crash := context.WithCancel(context.Background())
	x1, _ := e1.Start(ctx1, "Cb", "cb", nil)
	tok := <-tokens
	waitForEvent(t, x1, "TaskSubmitted")
	crash()
	x1.Wait(context.Background())

	e2, _ := newTestEngine(t, func(o *Options) { o.Checkpoints = store })
	setup(e2)
	xs, _ := e2.Resume(context.Background())
	if err := e2.SendTaskSuccess(tok, []byte(`{"done":true}`)); err != nil {
		t.Fatal(err)
	}
	res, _ := xs[0].Wait(context.Background())
	checkResult(t, res, caseRow{want: `{"done":true}`})
	if sends.Load() != 1 {
		t.Fatalf("the message was sent %d times; a submitted task must not be sent again", sends.Load())
	}
}

type publisherFunc func(PublishInput)

func (f publisherFunc) Publish(_ context.Context, in PublishInput) (string, error) {
	f(in)
	return "id", nil
}

// TestCheckpointsAreIncremental: each event is sent to the store once, and
// the state saved does not grow with the history (a loop of 100 turns).
func TestCheckpointsAreIncremental(t *testing.T) {
	store := newMemCheckpoints()
	e, _ := newTestEngine(t, func(o *Options) { o.Checkpoints = store })
	var sizes []int
	rec := &recordingStore{memCheckpoints: store, onSave: func(cp Checkpoint) { sizes = append(sizes, len(cp.State)) }}
	e.store = rec
	def := `{"StartAt":"Inc","States":{
		"Inc":{"Type":"Pass","Parameters":{"n.$":"States.MathAdd($.n, 1)"},"Next":"Done?"},
		"Done?":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericGreaterThanEquals":100,"Next":"End"}],"Default":"Inc"},
		"End":{"Type":"Succeed"}}}`
	res := runDef(t, e, def, `{"n":0}`)
	if res.Status != StatusSucceeded {
		t.Fatalf("%s %s", res.Status, res.Error)
	}
	if store.sent != res.History.Len() {
		t.Fatalf("%d events sent for a history of %d: each must be sent once", store.sent, res.History.Len())
	}
	if first, last := sizes[1], sizes[len(sizes)-1]; last > 2*first {
		t.Fatalf("the saved state grew from %d to %d bytes over %d saves", first, last, len(sizes))
	}
	got, err := loadSnapshot(context.Background(), store, res.ExecutionArn)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(eventTypes(res.History.Events()), eventTypes(got.History)); diff != "" || got.Status != StatusSucceeded {
		t.Fatalf("stored %s, history (-run +stored):\n%s", got.Status, diff)
	}
}

type recordingStore struct {
	*memCheckpoints
	onSave func(Checkpoint)
	fail   func(n int) bool // fail the n-th save (from 1)
	n      int
}

func (r *recordingStore) Save(ctx context.Context, arn string, cp Checkpoint) error {
	r.n++
	if r.fail != nil && r.fail(r.n) {
		return fmt.Errorf("disk full")
	}
	if r.onSave != nil {
		r.onSave(cp)
	}
	return r.memCheckpoints.Save(ctx, arn, cp)
}

// TestFailedSaveIsSentAgain: the events of a save that failed go with the
// next one, so that the store ends with the whole history; Wait reports that
// durability was lost meanwhile.
func TestFailedSaveIsSentAgain(t *testing.T) {
	store := newMemCheckpoints()
	e, _ := newTestEngine(t)
	e.store = &recordingStore{memCheckpoints: store, fail: func(n int) bool { return n == 3 || n == 4 }}
	e.RegisterMachine("Steps", mustParse(t, `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Pass","Next":"C"},"C":{"Type":"Succeed"}}}`))
	x, err := e.Start(context.Background(), "Steps", "s", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.Wait(context.Background())
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Wait: %v, want the lost checkpoint reported", err)
	}
	got, err := loadSnapshot(context.Background(), store, res.ExecutionArn)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(eventTypes(res.History.Events()), eventTypes(got.History)); diff != "" {
		t.Fatalf("history (-run +stored):\n%s", diff)
	}
}

// TestResumeIgnoresEventsBeyondTheState: a store that appended a save's
// events but died before writing its state holds more events than the
// state knows; resuming uses the state's history only.
func TestResumeIgnoresEventsBeyondTheState(t *testing.T) {
	store := newMemCheckpoints()
	def := `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":60,"Next":"E"},"E":{"Type":"Succeed"}}}`
	sl := blockingSleeper{sleeping: make(chan time.Duration, 1)}
	e1 := NewEngine(Options{Clock: NewFakeClock(epoch), Sleeper: sl, Checkpoints: store})
	e1.RegisterMachine("Minute", mustParse(t, def))
	ctx1, crash := context.WithCancel(context.Background())
	x1, _ := e1.Start(ctx1, "Minute", "m", nil)
	<-sl.sleeping
	crash()
	x1.Wait(context.Background())
	arn := x1.Arn()
	store.mu.Lock()
	n := len(store.events[arn])
	store.events[arn] = append(store.events[arn], []byte(fmt.Sprintf(`{"id":%d,"type":"WaitStateExited","timestamp":"2026-01-01T00:00:00Z"}`, n+1)))
	store.mu.Unlock()

	e2, _ := newTestEngine(t, func(o *Options) { o.Checkpoints = store })
	e2.RegisterMachine("Minute", mustParse(t, def))
	xs, err := e2.Resume(context.Background())
	if err != nil || len(xs) != 1 {
		t.Fatalf("Resume: %v", err)
	}
	res, err := xs[0].Wait(context.Background())
	if err != nil || res.Status != StatusSucceeded {
		t.Fatalf("%v %s", err, res.Status)
	}
	want := []string{"ExecutionStarted", "WaitStateEntered", "WaitStateExited", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"}
	if diff := cmp.Diff(want, eventTypes(res.History.Events())); diff != "" {
		t.Fatalf("history (-want +got):\n%s", diff)
	}
	for i, ev := range res.History.Events() {
		if ev.ID != int64(i+1) {
			t.Fatalf("event %d has id %d", i+1, ev.ID)
		}
	}
}
