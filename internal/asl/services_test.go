package asl

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// outbox is an in-memory Publisher that records what was published.
type outbox struct {
	mu   sync.Mutex
	msgs []PublishInput
}

func (o *outbox) Publish(_ context.Context, in PublishInput) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, in)
	return fmt.Sprintf("msg-%d", len(o.msgs)), nil
}

// ConditionalCheckFailedException mimics the AWS SDK error (ErrorCode).
type ConditionalCheckFailedException struct{}

func (ConditionalCheckFailedException) Error() string     { return "The conditional request failed" }
func (ConditionalCheckFailedException) ErrorCode() string { return "ConditionalCheckFailedException" }

// memTable is an in-memory ItemStore keyed by the "id" attribute.
type memTable struct {
	mu    sync.Mutex
	items map[string]map[string]any
}

func keyOf(m map[string]any) string { return jsonString(m["id"]) }

func (t *memTable) GetItem(_ context.Context, r map[string]any) (map[string]any, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	it, ok := t.items[keyOf(r["Key"].(map[string]any))]
	if !ok {
		return map[string]any{}, nil
	}
	return map[string]any{"Item": it}, nil
}

func (t *memTable) PutItem(_ context.Context, r map[string]any) (map[string]any, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	item := r["Item"].(map[string]any)
	if r["ConditionExpression"] == "attribute_not_exists(id)" {
		if _, ok := t.items[keyOf(item)]; ok {
			return nil, ConditionalCheckFailedException{}
		}
	}
	t.items[keyOf(item)] = item
	return map[string]any{}, nil
}

func (t *memTable) UpdateItem(_ context.Context, r map[string]any) (map[string]any, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := keyOf(r["Key"].(map[string]any))
	it := t.items[k]
	it["data"] = r["ExpressionAttributeValues"].(map[string]any)[":r"]
	return map[string]any{"Attributes": map[string]any{"data": it["data"]}}, nil
}

func (t *memTable) DeleteItem(_ context.Context, r map[string]any) (map[string]any, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.items, keyOf(r["Key"].(map[string]any)))
	return map[string]any{}, nil
}

func TestSNSPublish(t *testing.T) {
	box := &outbox{}
	e, _ := newTestEngine(t, func(o *Options) { o.Publisher = box })
	def := `{"StartAt":"Publish","States":{"Publish":{"Type":"Task","Resource":"arn:aws:states:::sns:publish",
		"Parameters":{"TopicArn":"arn:aws:sns:eu-west-1:111111111111:alerts","Subject":"s","Message.$":"$.m"},"End":true}}}`
	res := runDef(t, e, def, `{"m":{"Message":"HelloWorld!"}}`)
	if res.Status != StatusSucceeded {
		t.Fatalf("%s %s", res.Error, res.Cause)
	}
	out := res.Output.(map[string]any)
	if out["MessageId"] != "msg-1" || out["SdkHttpMetadata"] == nil || out["SdkResponseMetadata"] == nil {
		t.Fatalf("output %s", jsonString(out))
	}
	want := []PublishInput{{TopicArn: "arn:aws:sns:eu-west-1:111111111111:alerts", Subject: "s", Message: `{"Message":"HelloWorld!"}`}}
	if diff := cmp.Diff(want, box.msgs); diff != "" {
		t.Fatalf("published (-want +got):\n%s", diff)
	}
	sched := res.History.Events()[2].Details
	if sched["resourceType"] != "sns" || sched["resource"] != "publish" {
		t.Fatalf("TaskScheduled %v", sched)
	}
}

func TestDynamoDB(t *testing.T) {
	table := &memTable{items: map[string]map[string]any{}}
	e, _ := newTestEngine(t, func(o *Options) { o.ItemStore = table })
	// The developer guide's put/get/update/delete round trip.
	def := `{"StartAt":"Put","States":{
		"Put":{"Type":"Task","Resource":"arn:aws:states:::dynamodb:putItem","Parameters":{"TableName":"t","Item":{"id":{"S":"id1"},"data":{"S":"HelloWorld"}}},"ResultPath":null,"Next":"Update"},
		"Update":{"Type":"Task","Resource":"arn:aws:states:::dynamodb:updateItem","Parameters":{"TableName":"t","Key":{"id":{"S":"id1"}},
			"UpdateExpression":"set data=:r","ExpressionAttributeValues":{":r":{"S":"Updated"}},"ReturnValues":"UPDATED_NEW"},"ResultSelector":{"a.$":"$.Attributes"},"ResultPath":"$.update","Next":"Get"},
		"Get":{"Type":"Task","Resource":"arn:aws:states:::dynamodb:getItem","Parameters":{"TableName":"t","Key":{"id":{"S":"id1"}}},"ResultSelector":{"item.$":"$.Item"},"ResultPath":"$.get","Next":"Delete"},
		"Delete":{"Type":"Task","Resource":"arn:aws:states:::dynamodb:deleteItem","Parameters":{"TableName":"t","Key":{"id":{"S":"id1"}}},"ResultPath":null,"Next":"PutAgain"},
		"PutAgain":{"Type":"Task","Resource":"arn:aws:states:::dynamodb:putItem","Parameters":{"TableName":"t","Item":{"id":{"S":"id1"}}},"ResultPath":null,"Next":"PutOnce"},
		"PutOnce":{"Type":"Task","Resource":"arn:aws:states:::dynamodb:putItem","Parameters":{"TableName":"t","Item":{"id":{"S":"id1"}},"ConditionExpression":"attribute_not_exists(id)"},
			"Catch":[{"ErrorEquals":["DynamoDB.ConditionalCheckFailedException"],"ResultPath":"$.conflict","Next":"Done"}],"End":true},
		"Done":{"Type":"Pass","End":true}}}`
	res := runDef(t, e, def, `{}`)
	checkResult(t, res, caseRow{want: `{"update":{"a":{"data":{"S":"Updated"}}},"get":{"item":{"id":{"S":"id1"},"data":{"S":"Updated"}}},
		"conflict":{"Error":"DynamoDB.ConditionalCheckFailedException","Cause":"The conditional request failed"}}`})
}

func TestStartExecutionSync2(t *testing.T) {
	e, _ := newTestEngine(t)
	child := registerAs(e, "Child", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":60,"Next":"P"},
		"P":{"Type":"Pass","Parameters":{"Arg1":"argument1","in.$":"$"},"End":true}}}`)
	registerAs(e, "FailingChild", `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"SomeFailure","Cause":"This state machines raises a 'SomeFailure' failure."}}}`)
	parent := registerAs(e, "Parent", `{"StartAt":"StartExecution","States":{
		"StartExecution":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync:2",
			"Parameters":{"StateMachineArn":"`+child+`","Input.$":"$.input","Name":"TestStartTarget"},"Next":"Fire"},
		"Fire":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution","Parameters":{"StateMachineArn":"Child","Input":"{\"x\":1}"},
			"ResultSelector":{"has.$":"States.ArrayLength(States.Array($.ExecutionArn, $.StartDate))"},"ResultPath":"$.fire","Next":"Fails"},
		"Fails":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync","Parameters":{"StateMachineArn":"FailingChild"},
			"Catch":[{"ErrorEquals":["States.TaskFailed"],"ResultPath":"$.childError","Next":"Done"}],"End":true},
		"Done":{"Type":"Pass","End":true}}}`)
	x, err := e.Start(context.Background(), parent, "p1", []byte(`{"input":{"a":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusSucceeded {
		t.Fatalf("%s %s", res.Error, res.Cause)
	}
	out := res.Output.(map[string]any)
	want := map[string]any{
		"ExecutionArn": "arn:aws:states:us-east-1:123456789012:execution:Child:TestStartTarget",
		"Input":        map[string]any{"a": jsonInt(1)}, "InputDetails": map[string]any{"Included": true},
		"Name": "TestStartTarget", "Output": map[string]any{"Arg1": "argument1", "in": map[string]any{"a": jsonInt(1)}},
		"OutputDetails": map[string]any{"Included": true}, "StateMachineArn": child, "Status": "SUCCEEDED",
		"StartDate": epochMillis(epoch), "StopDate": epochMillis(epoch.Add(time.Minute)),
	}
	for k, v := range want {
		if diff := cmp.Diff(v, out[k]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}
	if fmt.Sprint(out["fire"]) != "map[has:2]" {
		t.Errorf("fire-and-forget result %v", out["fire"])
	}
	ce := out["childError"].(map[string]any)
	if ce["Error"] != ErrTaskFailed || !contains(ce["Cause"].(string), `"Error":"SomeFailure"`) || !contains(ce["Cause"].(string), `"Status":"FAILED"`) {
		t.Errorf("child failure %v", ce)
	}
	var types []string
	for _, ev := range res.History.Events()[:8] {
		types = append(types, ev.Type)
	}
	wantTypes := []string{"ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded", "TaskStateExited", "TaskStateEntered"}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Errorf("history (-aws +lethe):\n%s", diff)
	}
	if res.History.Events()[2].Details["resource"] != "startExecution.sync:2" || res.History.Events()[2].Details["resourceType"] != "states" {
		t.Errorf("TaskScheduled %v", res.History.Events()[2].Details)
	}
	cx, ok := e.Execution("arn:aws:states:us-east-1:123456789012:execution:Child:TestStartTarget")
	if !ok || cx.Describe().BilledTransitions != 2 {
		t.Errorf("child execution not found or wrong transitions")
	}
}

func TestWaitForTaskToken(t *testing.T) {
	box := &tokenBox{tokens: make(chan string, 4)}
	e, clock := newTestEngine(t)
	e.RegisterIntegration("sqs:sendMessage", IntegrationFunc(func(ctx context.Context, c *TaskCall) (any, error) {
		box.tokens <- c.Parameters.(map[string]any)["MessageBody"].(map[string]any)["TaskToken"].(string)
		return map[string]any{"MessageId": "m1"}, nil
	}))
	def := `{"StartAt":"Send","States":{"Send":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken",
		"Parameters":{"QueueUrl":"q","MessageBody":{"Message.$":"$.m","TaskToken.$":"$$.Task.Token"}},
		"HeartbeatSeconds":60,"TimeoutSeconds":3600,
		"Catch":[{"ErrorEquals":["States.HeartbeatTimeout"],"Next":"Lost"}],"End":true},"Lost":{"Type":"Pass","Result":"lost","End":true}}}`
	arn := registerAs(e, "Callback", def)

	t.Run("success", func(t *testing.T) {
		x, _ := e.Start(context.Background(), arn, "ok", []byte(`{"m":"hi"}`))
		tok := <-box.tokens
		if err := e.SendTaskHeartbeat(tok); err != nil {
			t.Fatal(err)
		}
		if err := e.SendTaskSuccess(tok, []byte(`"test_message_txt"`)); err != nil {
			t.Fatal(err)
		}
		res, _ := x.Wait(context.Background())
		if jsonString(res.Output) != `"test_message_txt"` {
			t.Fatalf("output %s %s", jsonString(res.Output), res.Error)
		}
		want := []string{"ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"}
		if diff := cmp.Diff(want, eventTypes(res.History.Events())); diff != "" {
			t.Fatalf("history (-aws +lethe):\n%s", diff)
		}
		if err := e.SendTaskSuccess(tok, []byte(`{}`)); err != ErrTaskDoesNotExist {
			t.Fatalf("second completion: %v", err)
		}
	})
	t.Run("failure", func(t *testing.T) {
		x, _ := e.Start(context.Background(), arn, "fail", []byte(`{"m":"hi"}`))
		tok := <-box.tokens
		if err := e.SendTaskFailure(tok, "Rejected", "no"); err != nil {
			t.Fatal(err)
		}
		res, _ := x.Wait(context.Background())
		if res.Error != "Rejected" || res.Cause != "no" {
			t.Fatalf("got %s %s", res.Error, res.Cause)
		}
	})
	t.Run("heartbeat timeout", func(t *testing.T) {
		x, _ := e.Start(context.Background(), arn, "hb", []byte(`{"m":"hi"}`))
		<-box.tokens
		waitForEvent(t, x, "TaskSubmitted")
		clock.Advance(61 * time.Second)
		res, _ := x.Wait(context.Background())
		if jsonString(res.Output) != `"lost"` {
			t.Fatalf("output %s %s", jsonString(res.Output), res.Error)
		}
	})
}

type tokenBox struct{ tokens chan string }

// waitForEvent polls until the execution has recorded an event of typ.
func waitForEvent(t *testing.T, x *Execution, typ string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, ev := range x.Describe().History.Events() {
			if ev.Type == typ {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no %s event", typ)
}

// TestSimulatedWorkers: on a clock that simulates the workers answering
// task tokens, a token wait is idle: a worker answering after 30 minutes
// of virtual time completes the task then, one answering after two hours
// is too late for the one-hour timeout, and neither takes real time.
func TestSimulatedWorkers(t *testing.T) {
	e, clock := newTestEngine(t)
	clock.SimulateWorkers()
	var after time.Duration
	e.RegisterIntegration("sqs:sendMessage", IntegrationFunc(func(ctx context.Context, c *TaskCall) (any, error) {
		tok := c.Parameters.(map[string]any)["MessageBody"].(map[string]any)["TaskToken"].(string)
		clock.Go(after, func() {
			if err := e.SendTaskSuccess(tok, []byte(`"done"`)); err != nil && err != ErrTaskDoesNotExist {
				t.Error(err)
			}
		})
		return map[string]any{"MessageId": "m1"}, nil
	}))
	def := `{"StartAt":"Send","States":{"Send":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken",
		"Parameters":{"QueueUrl":"q","MessageBody":{"TaskToken.$":"$$.Task.Token"}},"TimeoutSeconds":3600,
		"Catch":[{"ErrorEquals":["States.Timeout"],"Next":"Late"}],"End":true},"Late":{"Type":"Pass","Result":"late","End":true}}}`
	arn := registerAs(e, "Simulated", def)
	for _, tc := range []struct {
		after time.Duration
		out   string
		took  time.Duration
	}{{30 * time.Minute, `"done"`, 30 * time.Minute}, {2 * time.Hour, `"late"`, time.Hour}} {
		after = tc.after
		start := clock.Now()
		x, err := e.Start(context.Background(), arn, tc.after.String(), []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		res, _ := x.Wait(context.Background())
		if jsonString(res.Output) != tc.out || clock.Now().Sub(start) < tc.took {
			t.Errorf("worker after %s: output %s after %s of virtual time, want %s after %s", tc.after, jsonString(res.Output), clock.Now().Sub(start), tc.out, tc.took)
		}
	}
}

// wallAfterClock is a clock like lethe local's: Now and Sleep run speed
// times faster than real time, but After counts wall time (it bounds
// handlers, whose HTTP calls are not accelerated).
type wallAfterClock struct{ rc *RealClock }

func (c wallAfterClock) Now() time.Time                                   { return c.rc.Now() }
func (c wallAfterClock) After(d time.Duration) <-chan time.Time           { return time.After(d) }
func (c wallAfterClock) Sleep(ctx context.Context, d time.Duration) error { return c.rc.Sleep(ctx, d) }

// TestTokenWaitTimesOutOnTheClocksTime: the wait of a task for its token
// ends at its TimeoutSeconds of the clock's (accelerated) time, as the
// worker that never answers lives on that time, even on a clock whose
// After is wall time.
func TestTokenWaitTimesOutOnTheClocksTime(t *testing.T) {
	e := NewEngine(Options{Clock: wallAfterClock{NewRealClock(100000)}})
	e.RegisterIntegration("sqs:sendMessage", IntegrationFunc(func(ctx context.Context, c *TaskCall) (any, error) {
		return map[string]any{"MessageId": "m1"}, nil // no worker will answer
	}))
	def := `{"StartAt":"Send","States":{"Send":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken",
		"Parameters":{"QueueUrl":"q","MessageBody":{"TaskToken.$":"$$.Task.Token"}},"TimeoutSeconds":3600,
		"Catch":[{"ErrorEquals":["States.Timeout"],"Next":"Late"}],"End":true},"Late":{"Type":"Pass","Result":"late","End":true}}}`
	arn := registerAs(e, "Accelerated", def)
	x, err := e.Start(context.Background(), arn, "x", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := x.Wait(ctx)
	if err != nil {
		t.Fatalf("an hour of the clock's time (36 ms of wall time) did not time the wait out within 5 s: %v", err)
	}
	if jsonString(res.Output) != `"late"` {
		t.Errorf("output %s, want the timeout's", jsonString(res.Output))
	}
}
