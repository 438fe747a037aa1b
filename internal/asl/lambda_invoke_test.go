package asl

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestOnInvoke: Options.OnInvoke is told of each task's Lambda invocation,
// by function name, with its duration and whether it failed.
func TestOnInvoke(t *testing.T) {
	type call struct {
		fn     string
		failed bool
	}
	var mu sync.Mutex
	var calls []call
	e := NewEngine(Options{OnInvoke: func(fn string, took time.Duration, failed bool) {
		mu.Lock()
		defer mu.Unlock()
		if took < 0 {
			t.Errorf("negative duration %s", took)
		}
		calls = append(calls, call{fn, failed})
	}})
	e.RegisterLambda("Ok", func(context.Context) (string, error) { return "ok", nil })
	e.RegisterLambda("Broken", func(context.Context) (string, error) { return "", errors.New("broken") })
	m, err := Parse([]byte(`{"StartAt":"A","States":{
		"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Ok","Next":"B"},
		"B":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Broken","Catch":[{"ErrorEquals":["States.ALL"],"Next":"Done"}],"Next":"Done"},
		"Done":{"Type":"Succeed"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Run(context.Background(), m, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 || calls[0] != (call{"Ok", false}) || calls[1] != (call{"Broken", true}) {
		t.Errorf("OnInvoke calls %+v", calls)
	}
}
