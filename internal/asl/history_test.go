package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The expected sequences below were read off the execution histories that
// localstack recorded on real AWS (tests/aws/services/stepfunctions/v2/...
// *.snapshot.json), for machines of the same shape.

type evRow struct {
	id, prev int64
	typ      string
}

func historyRows(h []Event) []evRow {
	out := make([]evRow, len(h))
	for i, e := range h {
		out[i] = evRow{e.ID, e.PreviousEventID, e.Type}
	}
	return out
}

func TestHistoryLambdaServiceCatch(t *testing.T) {
	// error_handling/test_task_service_lambda.py::test_raise_exception_catch
	e, _ := newTestEngine(t)
	e.RegisterLambda("lambda_func", func(context.Context) error { return SubsystemUnavailable{} })
	def := `{"StartAt":"Start","States":{"Start":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
		"Parameters":{"FunctionName.$":"$.FunctionName","Payload.$":"$.Payload"},
		"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"EndWithStateTaskFailedHandler"}],"End":true},
		"EndWithStateTaskFailedHandler":{"Type":"Pass","Parameters":{"Error.$":"$.Error","Cause.$":"$.Cause","task_failed_error.$":"$"},"End":true}}}`
	res := runDef(t, e, def, `{"FunctionName":"lambda_func","Payload":null}`)
	want := []evRow{
		{1, 0, "ExecutionStarted"}, {2, 0, "TaskStateEntered"}, {3, 2, "TaskScheduled"}, {4, 3, "TaskStarted"},
		{5, 4, "TaskFailed"}, {6, 5, "TaskStateExited"}, {7, 6, "PassStateEntered"}, {8, 7, "PassStateExited"},
		{9, 8, "ExecutionSucceeded"},
	}
	if diff := cmp.Diff(want, historyRows(res.History.Events()), cmp.AllowUnexported(evRow{})); diff != "" {
		t.Fatalf("history (-aws +lethe):\n%s", diff)
	}
	sched := res.History.Events()[2]
	if sched.DetailsKey != "taskScheduledEventDetails" || sched.Details["resourceType"] != "lambda" || sched.Details["resource"] != "invoke" ||
		sched.Details["region"] != "us-east-1" || sched.Details["parameters"] != `{"FunctionName":"lambda_func","Payload":null}` {
		t.Fatalf("TaskScheduled details %v", sched.Details)
	}
	failed := res.History.Events()[4].Details
	if failed["error"] != "SubsystemUnavailable" || failed["resourceType"] != "lambda" {
		t.Fatalf("TaskFailed details %v", failed)
	}
	if res.History.Events()[1].Details["name"] != "Start" || res.History.Events()[1].Details["input"] != `{"FunctionName":"lambda_func","Payload":null}` {
		t.Fatalf("TaskStateEntered details %v", res.History.Events()[1].Details)
	}
}

func TestHistoryLambdaBareRetry(t *testing.T) {
	// scenarios/test_base_scenarios.py::test_lambda_invoke_with_retry_base:
	// a bare function ARN records LambdaFunction* events, one
	// Scheduled/Started/Failed triple per attempt.
	e, _ := newTestEngine(t)
	e.RegisterLambda("f", func(context.Context) error { return SubsystemUnavailable{} })
	def := `{"StartAt":"InvokeLambdaWithRetry","States":{"InvokeLambdaWithRetry":{"Type":"Task","Resource":"` + bareArn + `f",
		"Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":3,"MaxAttempts":3,"BackoffRate":2}],
		"Catch":[{"ErrorEquals":["States.ALL"],"Next":"HandleError"}],"End":true},"HandleError":{"Type":"Pass","End":true}}}`
	res := runDef(t, e, def, `{"Value1":"HelloWorld!","Value2":null}`)
	want := []evRow{{1, 0, "ExecutionStarted"}, {2, 0, "TaskStateEntered"}}
	id := int64(3)
	for range 4 {
		want = append(want, evRow{id, id - 1, "LambdaFunctionScheduled"}, evRow{id + 1, id, "LambdaFunctionStarted"}, evRow{id + 2, id + 1, "LambdaFunctionFailed"})
		id += 3
	}
	want = append(want, evRow{15, 14, "TaskStateExited"}, evRow{16, 15, "PassStateEntered"}, evRow{17, 16, "PassStateExited"}, evRow{18, 17, "ExecutionSucceeded"})
	if diff := cmp.Diff(want, historyRows(res.History.Events()), cmp.AllowUnexported(evRow{})); diff != "" {
		t.Fatalf("history (-aws +lethe):\n%s", diff)
	}
	// 2 states entered + 3 retries.
	if res.BilledTransitions != 5 {
		t.Fatalf("billed transitions %d, want 5", res.BilledTransitions)
	}
}

func TestHistoryMapCatch(t *testing.T) {
	// scenarios/test_base_scenarios.py::test_map_state_catch
	e, _ := newTestEngine(t)
	def := `{"StartAt":"StartState","States":{"StartState":{"Type":"Pass","Result":{"arr":[1]},"Next":"MapState"},
		"MapState":{"Type":"Map","ItemsPath":"$.arr","ItemProcessor":{"StartAt":"HandleItemFail","States":{
			"HandleItemFail":{"Type":"Fail","Error":"HandleItemFailError","Cause":"HandleItemFailCause"}}},
			"Catch":[{"ErrorEquals":["States.ALL"],"Next":"FinalCaught"}],"End":true},
		"FinalCaught":{"Type":"Pass","End":true}}}`
	res := runDef(t, e, def, `{}`)
	want := []evRow{{1, 0, "ExecutionStarted"}, {2, 0, "PassStateEntered"}, {3, 2, "PassStateExited"}, {4, 3, "MapStateEntered"},
		{5, 4, "MapStateStarted"}, {6, 5, "MapIterationStarted"}, {7, 6, "FailStateEntered"}, {8, 7, "MapIterationFailed"},
		{9, 7, "MapStateFailed"}, {10, 9, "MapStateExited"}, {11, 10, "PassStateEntered"}, {12, 11, "PassStateExited"},
		{13, 12, "ExecutionSucceeded"}}
	if diff := cmp.Diff(want, historyRows(res.History.Events()), cmp.AllowUnexported(evRow{})); diff != "" {
		t.Fatalf("history (-aws +lethe):\n%s", diff)
	}
	if got := res.History.Events()[4].Details["length"]; fmt.Sprint(got) != "1" {
		t.Fatalf("MapStateStarted length %v", got)
	}
	if got := res.History.Events()[5].Details; got["name"] != "MapState" || fmt.Sprint(got["index"]) != "0" {
		t.Fatalf("MapIterationStarted details %v", got)
	}
	if jsonString(res.Output) != `{"Cause":"HandleItemFailCause","Error":"HandleItemFailError"}` {
		t.Fatalf("output %s", jsonString(res.Output))
	}
	// StartState, MapState, HandleItemFail, FinalCaught.
	if res.BilledTransitions != 4 {
		t.Fatalf("billed transitions %d, want 4", res.BilledTransitions)
	}
}

func TestHistoryParallelFail(t *testing.T) {
	// scenarios/test_base_scenarios.py::test_parallel_state_fail
	e, _ := newTestEngine(t)
	def := `{"StartAt":"ParallelState","States":{"ParallelState":{"Type":"Parallel","End":true,"Branches":[
		{"StartAt":"Branch1","States":{"Branch1":{"Type":"Fail","Error":"FailureType"}}}]}}}`
	res := runDef(t, e, def, `{}`)
	want := []evRow{{1, 0, "ExecutionStarted"}, {2, 0, "ParallelStateEntered"}, {3, 2, "ParallelStateStarted"},
		{4, 3, "FailStateEntered"}, {5, 4, "ParallelStateFailed"}, {6, 5, "ExecutionFailed"}}
	if diff := cmp.Diff(want, historyRows(res.History.Events()), cmp.AllowUnexported(evRow{})); diff != "" {
		t.Fatalf("history (-aws +lethe):\n%s", diff)
	}
	if d := res.History.Events()[5].Details; d["error"] != "FailureType" {
		t.Fatalf("ExecutionFailed details %v", d)
	}
}

func TestEventJSONShape(t *testing.T) {
	e, _ := newTestEngine(t)
	res := runDef(t, e, `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`, `{"a":1}`)
	b, err := json.Marshal(res.History.Events()[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": 2.0, "previousEventId": 0.0, "timestamp": "2026-01-01T00:00:00Z", "type": "PassStateEntered",
		"stateEnteredEventDetails": map[string]any{"name": "P", "input": `{"a":1}`, "inputDetails": map[string]any{"truncated": false}}}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Fatalf("event JSON (-want +got):\n%s", diff)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil || back.Type != "PassStateEntered" || back.DetailsKey != "stateEnteredEventDetails" {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}

// The history renders its JSON text when read: marshalling the History, its
// Events and a checkpoint's events all give the same JSON, and reading the
// events leaves the recorded values as they were.
func TestHistoryRendersLazily(t *testing.T) {
	store := newMemCheckpoints()
	e, _ := newTestEngine(t, func(o *Options) { o.Checkpoints = store })
	def := `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"b.$":"$.a"},"Next":"Q"},"Q":{"Type":"Pass","ResultPath":"$.c","End":true}}}`
	res := runDef(t, e, def, `{"a":[1,{"x":"y"}]}`)
	whole, err := json.Marshal(res.History)
	if err != nil {
		t.Fatal(err)
	}
	evs := res.History.Events()
	rendered, err := json.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	if string(whole) != string(rendered) {
		t.Fatalf("History marshals as\n%s\nits Events as\n%s", whole, rendered)
	}
	cp, err := store.Load(context.Background(), res.ExecutionArn)
	if err != nil || len(cp.Events) != len(evs) {
		t.Fatalf("checkpoint: %v, %d events for a history of %d", err, len(cp.Events), len(evs))
	}
	for i, ev := range evs {
		if want := must(json.Marshal(ev)); string(cp.Events[i]) != string(want) {
			t.Fatalf("event %d: checkpoint holds %s, the history shows %s", i+1, cp.Events[i], want)
		}
	}
	s, err := loadSnapshot(context.Background(), store, res.ExecutionArn)
	if err != nil {
		t.Fatal(err)
	}
	if back := must(json.Marshal(historyOf(s.History))); string(back) != string(whole) {
		t.Fatalf("history read back from the checkpoint shows\n%s\nthe execution's\n%s", back, whole)
	}
	if got := evs[len(evs)-1].Details["output"]; got != `{"b":[1,{"x":"y"}],"c":{"b":[1,{"x":"y"}]}}` {
		t.Fatalf("ExecutionSucceeded output %v", got)
	}
	evs[1].Details["input"] = "changed"
	if again := res.History.Events()[1].Details["input"]; again != `{"a":[1,{"x":"y"}]}` {
		t.Fatalf("a reader's change leaked into the history: %v", again)
	}
	var back []Event
	if err := json.Unmarshal(whole, &back); err != nil || len(back) != res.History.Len() {
		t.Fatalf("round trip: %v, %d events", err, len(back))
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestHistoryMapSuccess(t *testing.T) {
	// scenarios/test_base_scenarios.py::test_map_state, two items.
	e, _ := newTestEngine(t)
	def := `{"StartAt":"MapState","States":{"MapState":{"Type":"Map","MaxConcurrency":1,"ItemProcessor":{"StartAt":"HandleItem",
		"States":{"HandleItem":{"Type":"Pass","End":true}}},"End":true}}}`
	res := runDef(t, e, def, `[1,"Hello"]`)
	want := []evRow{{1, 0, "ExecutionStarted"}, {2, 0, "MapStateEntered"}, {3, 2, "MapStateStarted"},
		{4, 3, "MapIterationStarted"}, {5, 4, "PassStateEntered"}, {6, 5, "PassStateExited"}, {7, 6, "MapIterationSucceeded"},
		{8, 6, "MapIterationStarted"}, {9, 8, "PassStateEntered"}, {10, 9, "PassStateExited"}, {11, 10, "MapIterationSucceeded"},
		{12, 11, "MapStateSucceeded"}, {13, 11, "MapStateExited"}, {14, 13, "ExecutionSucceeded"}}
	if diff := cmp.Diff(want, historyRows(res.History.Events()), cmp.AllowUnexported(evRow{})); diff != "" {
		t.Fatalf("history (-aws +lethe):\n%s", diff)
	}
}
