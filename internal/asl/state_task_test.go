package asl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/go-cmp/cmp"
)

// SubsystemUnavailable is a typed handler error: its Go type name is the ASL
// error name, as STYLE.md asks.
type SubsystemUnavailable struct{ Subsystem string }

func (e SubsystemUnavailable) Error() string { return e.Subsystem + " is unavailable" }

type PermanentFailure struct{}

func (*PermanentFailure) Error() string { return "permanent" }

type greetIn struct {
	Name string `json:"name"`
}
type greetOut struct {
	Greeting string `json:"greeting"`
}

func greet(_ context.Context, in greetIn) (greetOut, error) {
	return greetOut{Greeting: "hello " + in.Name}, nil
}

const bareArn = "arn:aws:lambda:us-east-1:123456789012:function:"

func registerTestLambdas(e *Engine) {
	e.RegisterLambda("Greet", greet)
	e.RegisterLambda("Unavailable", func(context.Context, greetIn) (greetOut, error) {
		return greetOut{}, SubsystemUnavailable{Subsystem: "crm"}
	})
	e.RegisterLambda("Permanent", func(context.Context) error { return &PermanentFailure{} })
	e.RegisterLambda("Plain", func(context.Context) error { return errors.New("plain") })
	e.RegisterLambda("Panics", func(context.Context) error { panic("boom") })
	e.RegisterLambda("Arn", func(ctx context.Context) (string, error) {
		lc, _ := lambdacontext.FromContext(ctx)
		return lc.InvokedFunctionArn, nil
	})
}

func TestTaskLambda(t *testing.T) {
	runTable(t, []caseRow{
		{
			name:       "bare function ARN: payload in, result out",
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + bareArn + `Greet","End":true}}}`,
			input:      `{"name":"ada"}`,
			want:       `{"greeting":"hello ada"}`,
		},
		{
			name:       "bare ARN with a qualifier",
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + bareArn + `Greet:$LATEST","End":true}}}`,
			input:      `{"name":"ada"}`,
			want:       `{"greeting":"hello ada"}`,
		},
		{
			name: "lambda:invoke wraps the result in Payload",
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
				"Parameters":{"FunctionName":"Greet","Payload.$":"$"},
				"ResultSelector":{"p.$":"$.Payload","code.$":"$.StatusCode","v.$":"$.ExecutedVersion"},"End":true}}}`,
			input: `{"name":"ada"}`,
			want:  `{"p":{"greeting":"hello ada"},"code":200,"v":"$LATEST"}`,
		},
		{
			name: "lambda:invoke with a function ARN",
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
				"Parameters":{"FunctionName":"` + bareArn + `Greet","Payload":{"name":"bo"}},"OutputPath":"$.Payload","End":true}}}`,
			input: `{}`,
			want:  `{"greeting":"hello bo"}`,
		},
		{
			name:       "the handler sees the Lambda context",
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + bareArn + `Arn","End":true}}}`,
			want:       `"` + bareArn + `Arn"`,
		},
		{
			name:       "typed error is named by its Go type",
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + bareArn + `Unavailable","End":true}}}`,
			wantErr:    "SubsystemUnavailable",
			wantCause:  `{"errorMessage":"crm is unavailable","errorType":"SubsystemUnavailable"}`,
		},
		{
			name:       "pointer error type",
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"Permanent"},"End":true}}}`,
			wantErr:    "PermanentFailure",
		},
		{
			name:       "errors.New is errorString, as on AWS",
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + bareArn + `Plain","End":true}}}`,
			wantErr:    "errorString",
		},
		{
			name:       "panic becomes an error named by the panic value's type",
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + bareArn + `Panics","End":true}}}`,
			wantErr:    "string",
			wantCause:  "boom",
		},
		{
			name:       "unknown function",
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + bareArn + `Nope","End":true}}}`,
			wantErr:    "Lambda.ResourceNotFoundException",
		},
		{
			name: "typed error caught by name",
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + bareArn + `Unavailable",
				"Catch":[{"ErrorEquals":["Other"],"Next":"Bad"},{"ErrorEquals":["SubsystemUnavailable"],"ResultPath":"$.err","Next":"Good"}],"End":true},
				"Bad":{"Type":"Fail"},"Good":{"Type":"Pass","End":true}}}`,
			input: `{"name":"x"}`,
			want:  `{"name":"x","err":{"Error":"SubsystemUnavailable","Cause":"{\"errorMessage\":\"crm is unavailable\",\"errorType\":\"SubsystemUnavailable\"}"}}`,
		},
		{
			name: "States.TaskFailed catches handler errors",
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + bareArn + `Plain",
				"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"Good"}],"End":true},
				"Good":{"Type":"Pass","Parameters":{"e.$":"$.Error"},"End":true}}}`,
			want: `{"e":"errorString"}`,
		},
		{
			name: "States.ALL does not catch States.Runtime",
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + bareArn + `Greet","OutputPath":"$.no.such",
				"Catch":[{"ErrorEquals":["States.ALL"],"Next":"Good"}],"End":true},"Good":{"Type":"Succeed"}}}`,
			input:   `{"name":"x"}`,
			wantErr: ErrRuntime,
		},
		{
			name:       "unknown resource",
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::nope:doIt","End":true}}}`,
			wantErr:    ErrRuntime,
		},
	}, registerTestLambdas)
}

func TestRetryBackoff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		retry  string
		fails  int
		want   []time.Duration
		status string
		calls  int32
	}{
		{"defaults: 1s, x2, 3 attempts", `{"ErrorEquals":["SubsystemUnavailable"]}`, 10,
			[]time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second}, StatusFailed, 4},
		{"interval, rate and success on third try", `{"ErrorEquals":["States.ALL"],"IntervalSeconds":3,"BackoffRate":1.5,"MaxAttempts":5}`, 2,
			[]time.Duration{3 * time.Second, 4500 * time.Millisecond}, StatusSucceeded, 3},
		{"MaxDelaySeconds caps", `{"ErrorEquals":["States.TaskFailed"],"IntervalSeconds":10,"BackoffRate":3,"MaxAttempts":4,"MaxDelaySeconds":50}`, 10,
			[]time.Duration{10 * time.Second, 30 * time.Second, 50 * time.Second, 50 * time.Second}, StatusFailed, 5},
		{"FULL jitter scales by the random draw (0.5 here)", `{"ErrorEquals":["States.ALL"],"IntervalSeconds":4,"MaxAttempts":2,"JitterStrategy":"FULL"}`, 10,
			[]time.Duration{2 * time.Second, 4 * time.Second}, StatusFailed, 3},
		{"MaxAttempts 0 never retries", `{"ErrorEquals":["States.ALL"],"MaxAttempts":0}`, 10, nil, StatusFailed, 1},
		{"non-matching retrier", `{"ErrorEquals":["Other"]}`, 10, nil, StatusFailed, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, clock := newTestEngine(t)
			var calls atomic.Int32
			e.RegisterLambda("Flaky", func(context.Context) (string, error) {
				if calls.Add(1) <= int32(tc.fails) {
					return "", SubsystemUnavailable{Subsystem: "crm"}
				}
				return "ok", nil
			})
			def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + bareArn + `Flaky","Retry":[` + tc.retry + `],"End":true}}}`
			res := runDef(t, e, def, `{}`)
			if res.Status != tc.status {
				t.Fatalf("status %s (%s), want %s", res.Status, res.Error, tc.status)
			}
			if diff := cmp.Diff(tc.want, clock.Sleeps()); diff != "" {
				t.Fatalf("retry delays (-want +got):\n%s", diff)
			}
			if calls.Load() != tc.calls {
				t.Fatalf("%d invocations, want %d", calls.Load(), tc.calls)
			}
			// One transition for entering the state, one per retry.
			if want := 1 + len(tc.want); res.BilledTransitions != want {
				t.Fatalf("billed transitions %d, want %d", res.BilledTransitions, want)
			}
		})
	}
}

func TestRetryThenCatchAndRetryCount(t *testing.T) {
	e, _ := newTestEngine(t)
	var counts []string
	e.RegisterLambda("Flaky", func(ctx context.Context, in map[string]any) (string, error) {
		counts = append(counts, fmt.Sprint(in["n"]))
		return "", SubsystemUnavailable{}
	})
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + bareArn + `Flaky",
		"Parameters":{"n.$":"$$.State.RetryCount"},
		"Retry":[{"ErrorEquals":["SubsystemUnavailable"],"MaxAttempts":2},{"ErrorEquals":["States.ALL"],"MaxAttempts":5}],
		"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":null,"Next":"Done"}],"End":true},
		"Done":{"Type":"Pass","Result":"caught","End":true}}}`
	res := runDef(t, e, def, `{}`)
	if res.Status != StatusSucceeded || jsonString(res.Output) != `"caught"` {
		t.Fatalf("got %s %s", res.Status, jsonString(res.Output))
	}
	// The first matching retrier alone decides: after its 2 retries, the
	// error goes to Catch even though the second retrier would allow more.
	if got := strings.Join(counts, ","); got != "0,1,2" {
		t.Fatalf("RetryCount seen by the handler %s, want 0,1,2", got)
	}
}

func TestTaskTimeout(t *testing.T) {
	e, clock := newTestEngine(t)
	started := make(chan struct{}, 1)
	e.RegisterLambda("Slow", func(ctx context.Context) (string, error) {
		started <- struct{}{}
		<-ctx.Done()
		return "", ctx.Err()
	})
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"Slow"},
		"TimeoutSeconds":5,"Catch":[{"ErrorEquals":["States.Timeout"],"Next":"TimedOut"}],"End":true},
		"TimedOut":{"Type":"Pass","End":true}}}`
	x, err := e.Start(context.Background(), registerAs(e, "Timeout", def), "", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	clock.Advance(4 * time.Second)
	select {
	case <-x.Done():
		t.Fatal("timed out before TimeoutSeconds")
	case <-time.After(20 * time.Millisecond):
	}
	clock.Advance(time.Second)
	res, err := x.Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if jsonString(res.Output) != `{"Cause":"","Error":"States.Timeout"}` {
		t.Fatalf("output %s", jsonString(res.Output))
	}
	want := []string{"ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskTimedOut", "TaskStateExited",
		"PassStateEntered", "PassStateExited", "ExecutionSucceeded"}
	if got := eventTypes(res.History.Events()); !equalStrings(got, want) {
		t.Fatalf("history %v", got)
	}
}

func registerAs(e *Engine, name, def string) string {
	m, err := Parse([]byte(def))
	if err != nil {
		panic(err)
	}
	return e.RegisterMachine(name, m)
}

func TestTimeoutSecondsPath(t *testing.T) {
	runTable(t, []caseRow{{
		name: "TimeoutSecondsPath missing is States.Runtime",
		definition: `{"StartAt":"task","States":{"task":{"Type":"Task","Resource":"` + bareArn + `Greet",
			"TimeoutSecondsPath":"$.NoSuchTimeoutSecondsPath","End":true}}}`,
		wantErr:   ErrRuntime,
		wantCause: "NoSuchTimeoutSecondsPath",
	}}, registerTestLambdas)
}

func TestExecutionTimeout(t *testing.T) {
	e, _ := newTestEngine(t)
	def := `{"TimeoutSeconds":60,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}`
	res := runDef(t, e, def, `{}`)
	if res.Status != StatusTimedOut || res.Error != ErrTimeout {
		t.Fatalf("status %s error %s", res.Status, res.Error)
	}
	if last := res.History.Events()[res.History.Len()-1].Type; last != "ExecutionTimedOut" {
		t.Fatalf("last event %s", last)
	}
}

func TestContextObject(t *testing.T) {
	e, _ := newTestEngine(t)
	arn := registerAs(e, "Ctx", `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{
		"id.$":"$$.Execution.Id","name.$":"$$.Execution.Name","in.$":"$$.Execution.Input","start.$":"$$.Execution.StartTime",
		"sm.$":"$$.StateMachine.Name","state.$":"$$.State.Name","entered.$":"$$.State.EnteredTime","retries.$":"$$.State.RetryCount"},"End":true}}}`)
	x, err := e.Start(context.Background(), arn, "exec-1", []byte(`{"k":1}`))
	if err != nil {
		t.Fatal(err)
	}
	res, _ := x.Wait(context.Background())
	checkResult(t, res, caseRow{want: `{"id":"arn:aws:states:us-east-1:123456789012:execution:Ctx:exec-1","name":"exec-1","in":{"k":1},
		"start":"2026-01-01T00:00:00.000Z","sm":"Ctx","state":"P","entered":"2026-01-01T00:00:00.000Z","retries":0}`})
}
