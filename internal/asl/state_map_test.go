package asl

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestMap(t *testing.T) {
	runTable(t, []caseRow{
		{
			name: "ItemProcessor over ItemsPath",
			definition: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","ItemProcessor":{"StartAt":"Double",
				"States":{"Double":{"Type":"Pass","Parameters":{"v.$":"States.MathAdd($.n, $.n)"},"End":true}}},"End":true}}}`,
			input: `{"items":[{"n":1},{"n":2},{"n":3}]}`,
			want:  `[{"v":2},{"v":4},{"v":6}]`,
		},
		{
			name: "legacy Iterator and Parameters with $$.Map.Item",
			definition: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":1,
				"Parameters":{"i.$":"$$.Map.Item.Index","v.$":"$$.Map.Item.Value","k.$":"$.k"},
				"Iterator":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"ResultPath":"$.out","End":true}}}`,
			input: `{"k":"K","items":["a","b"]}`,
			want:  `{"k":"K","items":["a","b"],"out":[{"i":0,"v":"a","k":"K"},{"i":1,"v":"b","k":"K"}]}`,
		},
		{
			// Developer guide "ItemSelector" example shape.
			name: "ItemSelector and ResultSelector",
			definition: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.detail.shipped",
				"ItemSelector":{"parcel.$":"$$.Map.Item.Value","courier.$":"$.delivery-partner"},
				"ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"P","States":{"P":{"Type":"Pass","OutputPath":"$.courier","End":true}}},
				"ResultSelector":{"n.$":"States.ArrayLength($)"},"End":true}}}`,
			input: `{"delivery-partner":"UQS","detail":{"shipped":[{"prod":"R31"},{"prod":"S39"}]}}`,
			want:  `{"n":2}`,
		},
		{
			name:       "empty array",
			definition: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}`,
			input:      `[]`,
			want:       `[]`,
		},
		{
			name:       "ItemsPath not an array is States.Runtime",
			definition: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.a","ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}`,
			input:      `{"a":{}}`,
			wantErr:    ErrRuntime,
		},
		{
			name: "a Fail in an iteration fails the Map with its Error and Cause",
			definition: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"C","States":{
				"C":{"Type":"Choice","Choices":[{"Variable":"$","NumericEquals":2,"Next":"F"}],"Default":"P"},
				"P":{"Type":"Pass","End":true},
				"F":{"Type":"Fail","Error":"HandleItemFailError","Cause":"HandleItemFailCause"}}},"End":true}}}`,
			input:     `[1,2,3]`,
			wantErr:   "HandleItemFailError",
			wantCause: "HandleItemFailCause",
		},
		{
			name: "Map failure caught",
			definition: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"F","States":{
				"F":{"Type":"Fail","ErrorPath":"$.e","CausePath":"States.Format('item {}', $.c)"}}},
				"Catch":[{"ErrorEquals":["ItemError"],"Next":"Caught"}],"End":true},"Caught":{"Type":"Pass","End":true}}}`,
			input: `[{"e":"ItemError","c":"one"}]`,
			want:  `{"Error":"ItemError","Cause":"item one"}`,
		},
		{
			name: "nested Map",
			definition: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"Inner","States":{
				"Inner":{"Type":"Map","ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"x.$":"$$.Map.Item.Index"},"End":true}}},"End":true}}},"End":true}}}`,
			input: `[[1,2],[3]]`,
			want:  `[[{"x":0},{"x":1}],[{"x":0}]]`,
		},
	}, nil)
}

func TestMapHistoryAndConcurrency(t *testing.T) {
	e, _ := newTestEngine(t)
	var active, peak atomic.Int32
	e.RegisterLambda("Work", func(ctx context.Context, n int) (int, error) {
		cur := active.Add(1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		active.Add(-1)
		return n * 10, nil
	})
	def := `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":2,"ItemProcessor":{"StartAt":"W","States":{
		"W":{"Type":"Task","Resource":"` + bareArn + `Work","End":true}}},"End":true}}}`
	res := runDef(t, e, def, `[1,2,3,4,5]`)
	if jsonString(res.Output) != `[10,20,30,40,50]` {
		t.Fatalf("output %s", jsonString(res.Output))
	}
	if peak.Load() > 2 {
		t.Fatalf("%d iterations ran at once, MaxConcurrency is 2", peak.Load())
	}
	count := map[string]int{}
	for _, ev := range res.History.Events() {
		count[ev.Type]++
	}
	for typ, n := range map[string]int{"MapStateEntered": 1, "MapStateStarted": 1, "MapIterationStarted": 5, "MapIterationSucceeded": 5,
		"TaskStateEntered": 5, "LambdaFunctionSucceeded": 5, "MapStateSucceeded": 1, "MapStateExited": 1, "ExecutionSucceeded": 1} {
		if count[typ] != n {
			t.Errorf("%d %s events, want %d", count[typ], typ, n)
		}
	}
	// The Map state and the Task of each of the 5 iterations.
	if res.BilledTransitions != 6 {
		t.Fatalf("billed transitions %d, want 6", res.BilledTransitions)
	}
}

func TestParallel(t *testing.T) {
	runTable(t, []caseRow{
		{
			name: "outputs in branch order",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[
				{"StartAt":"A","States":{"A":{"Type":"Pass","Result":"a","End":true}}},
				{"StartAt":"B","States":{"B":{"Type":"Wait","Seconds":5,"Next":"B2"},"B2":{"Type":"Pass","Result":"b","End":true}}}],
				"ResultPath":"$.r","End":true}}}`,
			input: `{"x":1}`,
			want:  `{"x":1,"r":["a","b"]}`,
		},
		{
			name: "Parameters and ResultSelector",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Parallel","Parameters":{"v.$":"$.x"},"ResultSelector":{"first.$":"$[0].v"},
				"Branches":[{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}],"End":true}}}`,
			input: `{"x":7}`,
			want:  `{"first":7}`,
		},
		{
			name: "a Fail in a branch fails the Parallel with its Error",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[
				{"StartAt":"A","States":{"A":{"Type":"Wait","Seconds":100,"End":true}}},
				{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"FailureType","Cause":"Cause description"}}}],"End":true}}}`,
			wantErr:   "FailureType",
			wantCause: "Cause description",
		},
		{
			name: "retry then catch on Parallel",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[
				{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"FailureType"}}}],
				"Retry":[{"ErrorEquals":["FailureType"],"MaxAttempts":2}],
				"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.error","Next":"C"}],"End":true},"C":{"Type":"Pass","End":true}}}`,
			input: `{"k":1}`,
			want:  `{"k":1,"error":{"Error":"FailureType","Cause":""}}`,
		},
		{
			name: "Parallel inside Map inside Parallel",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[
				{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"Q","States":{"Q":{"Type":"Parallel","Branches":[
					{"StartAt":"X","States":{"X":{"Type":"Pass","End":true}}}],"End":true}}},"End":true}}}],"End":true}}}`,
			input: `[1,2]`,
			want:  `[[[1],[2]]]`,
		},
	}, nil)
}

func TestParallelRetryHistory(t *testing.T) {
	// localstack's AWS-recorded snapshot test_parallel_state_retry: each
	// attempt records ParallelStateStarted, the Fail state is entered
	// (never exited), and only the last attempt records ParallelStateFailed.
	e, _ := newTestEngine(t)
	def := `{"StartAt":"ParallelState","States":{"ParallelState":{"Type":"Parallel","End":true,
		"Retry":[{"ErrorEquals":["FailureType"],"IntervalSeconds":1,"MaxAttempts":2}],
		"Branches":[{"StartAt":"Branch1","States":{"Branch1":{"Type":"Fail","Error":"FailureType","Cause":"Cause description"}}}]}}}`
	res := runDef(t, e, def, `{}`)
	want := []string{"ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted", "FailStateEntered",
		"ParallelStateStarted", "FailStateEntered", "ParallelStateStarted", "FailStateEntered", "ParallelStateFailed", "ExecutionFailed"}
	got := eventTypes(res.History.Events())
	if !equalStrings(got, want) {
		t.Fatalf("history %v\nwant     %v", got, want)
	}
	if res.Error != "FailureType" || res.Cause != "Cause description" {
		t.Fatalf("error %s %s", res.Error, res.Cause)
	}
}
