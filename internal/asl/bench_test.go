package asl

import (
	"context"
	"testing"
)

const benchDef = `{"StartAt":"Load","States":{
	"Load":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"Load","Payload.$":"$"},"ResultSelector":{"items.$":"$.Payload"},"ResultPath":"$.subsystems","Next":"Each"},
	"Each":{"Type":"Map","ItemsPath":"$.subsystems.items","ItemSelector":{"name.$":"$$.Map.Item.Value","id.$":"$.id"},"ItemProcessor":{"StartAt":"Delete","States":{
		"Delete":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Delete","Retry":[{"ErrorEquals":["States.TaskFailed"],"MaxAttempts":2}],"Next":"Deleted?"},
		"Deleted?":{"Type":"Choice","Choices":[{"Variable":"$.deleted","BooleanEquals":true,"Next":"Ok"}],"Default":"Failed"},
		"Ok":{"Type":"Pass","Result":"deleted","End":true},
		"Failed":{"Type":"Fail","Error":"NotDeleted"}}},"ResultPath":"$.results","Next":"Done"},
	"Done":{"Type":"Succeed"}}}`

type deleteIn struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

func benchEngine(b *testing.B) (*Engine, *Machine) {
	e := NewEngine(Options{Clock: NewFakeClock(epoch)})
	e.RegisterLambda("Load", func(context.Context) ([]string, error) { return []string{"crm", "billing", "support"}, nil })
	e.RegisterLambda("Delete", func(_ context.Context, in deleteIn) (map[string]bool, error) {
		return map[string]bool{"deleted": true}, nil
	})
	m, err := Parse([]byte(benchDef))
	if err != nil {
		b.Fatal(err)
	}
	return e, m
}

// BenchmarkExecution measures executions per second of a small machine
// (a Lambda task, a Map over three items each running a Lambda task, a
// Choice and a Pass) with instant tasks, one execution at a time.
func BenchmarkExecution(b *testing.B) {
	e, m := benchEngine(b)
	ctx := context.Background()
	input := map[string]any{"id": "subject-1"}
	b.ReportAllocs()
	for b.Loop() {
		res, err := e.Run(ctx, m, input)
		if err != nil || res.Status != StatusSucceeded {
			b.Fatalf("%v %s %s", err, res.Error, res.Cause)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "execs/s")
}

// BenchmarkExecutionParallel runs many executions of the same Machine at
// once, as the local runtime does.
func BenchmarkExecutionParallel(b *testing.B) {
	e, m := benchEngine(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		input := map[string]any{"id": "subject-1"}
		for pb.Next() {
			res, err := e.Run(ctx, m, input)
			if err != nil || res.Status != StatusSucceeded {
				b.Fatalf("%v %s %s", err, res.Error, res.Cause)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "execs/s")
}

// BenchmarkExecutionCheckpointed adds an in-memory checkpoint after every
// transition: the cost of durability without the disk.
func BenchmarkExecutionCheckpointed(b *testing.B) {
	e, m := benchEngine(b)
	e.store = newMemCheckpoints()
	ctx := context.Background()
	input := map[string]any{"id": "subject-1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Run(ctx, m, input); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "execs/s")
}

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := Parse([]byte(benchDef)); err != nil {
			b.Fatal(err)
		}
	}
}
