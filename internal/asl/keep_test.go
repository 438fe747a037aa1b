package asl

import (
	"context"
	"fmt"
	"testing"
)

// KeepFinished forgets the oldest finished executions beyond the bound.
func TestKeepFinishedForgetsTheOldest(t *testing.T) {
	e, _ := newTestEngine(t, func(o *Options) { o.KeepFinished = 2 })
	m := registerAs(e, "M", `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`)
	var arns []string
	for i := range 5 {
		x, err := e.Start(context.Background(), m, fmt.Sprintf("x%d", i), []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		arns = append(arns, x.Arn())
	}
	for i, arn := range arns {
		_, kept := e.Execution(arn)
		if want := i >= 3; kept != want {
			t.Errorf("execution %d kept = %v, want %v", i, kept, want)
		}
	}
}

// A child that KeepFinished drops before its .sync parent has read it stays
// until the parent has (pin/unpin), then goes.
func TestKeepFinishedKeepsAChildUntilItsParentReadIt(t *testing.T) {
	e, _ := newTestEngine(t, func(o *Options) { o.KeepFinished = 1 })
	m := registerAs(e, "M", `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`)
	run := func(name string) *Execution {
		x, err := e.Start(context.Background(), m, name, []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		return x
	}
	child := run("child")
	e.pin(child.Arn())
	run("other1")
	run("other2")
	if _, ok := e.Execution(child.Arn()); !ok {
		t.Fatal("a pinned child was forgotten")
	}
	e.unpin(child.Arn())
	if _, ok := e.Execution(child.Arn()); ok {
		t.Error("the child was kept after its parent read it")
	}
}

// With the smallest bound, a parent whose Map starts many .sync:2 children
// still reads every child's output.
func TestKeepFinishedWithSyncChildren(t *testing.T) {
	e, _ := newTestEngine(t, func(o *Options) { o.KeepFinished = 1 })
	registerAs(e, "Child", `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"doubled.$":"States.MathAdd($.n, $.n)"},"End":true}}}`)
	parent := registerAs(e, "Parent", `{"StartAt":"Each","States":{"Each":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":0,
		"ItemSelector":{"n.$":"$$.Map.Item.Value","i.$":"States.Format('c{}', $$.Map.Item.Index)"},
		"ItemProcessor":{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync:2",
			"Parameters":{"StateMachineArn":"Child","Input":{"n.$":"$.n"},"Name.$":"$.i"},"OutputPath":"$.Output.doubled","End":true}}},"End":true}}}`)
	for round := range 3 {
		x, err := e.Start(context.Background(), parent, fmt.Sprintf("p%d", round), []byte(`{"items":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]}`))
		if err != nil {
			t.Fatal(err)
		}
		res, err := x.Wait(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != StatusSucceeded {
			t.Fatalf("round %d: %s %s", round, res.Error, res.Cause)
		}
		if got := jsonString(res.Output); got != "[2,4,6,8,10,12,14,16,18,20,22,24,26,28,30,32,34,36,38,40]" {
			t.Fatalf("round %d: output %s", round, got)
		}
		e.mu.Lock()
		kept := len(e.executions)
		e.mu.Unlock()
		if kept != 1 {
			t.Errorf("round %d: %d executions kept in memory, want 1 (the parent)", round, kept)
		}
	}
}
