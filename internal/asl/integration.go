package asl

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"time"
)

// TaskCall is what an Integration receives for one Task attempt.
type TaskCall struct {
	// Resource is the Task's Resource as written in the definition.
	Resource string
	// Service and Action name the integration as AWS's history does
	// (resourceType "sns", resource "publish"); Pattern is "", "sync",
	// "sync:2" or "waitForTaskToken".
	Service string
	Action  string
	Pattern string
	// Parameters is the task's input after InputPath and Parameters.
	Parameters any
	// TaskToken is $$.Task.Token for the waitForTaskToken pattern.
	TaskToken    string
	ExecutionArn string
	StateName    string
}

// Integration serves the Task resources it is registered for. The result is
// the task's result (before ResultSelector). Returning a *Failure fails the
// task with that error name; any other error is named from the error itself
// (an ErrorCode() string method, as AWS SDK errors have, or its Go type
// name, prefixed with the service name) or States.TaskFailed.
type Integration interface {
	Invoke(ctx context.Context, call *TaskCall) (any, error)
}

// IntegrationFunc adapts a function to Integration.
type IntegrationFunc func(ctx context.Context, call *TaskCall) (any, error)

// Invoke calls f.
func (f IntegrationFunc) Invoke(ctx context.Context, call *TaskCall) (any, error) {
	return f(ctx, call)
}

// RegisterIntegration serves a Task resource with a custom integration. key
// is either a whole resource ARN or "service:action" (e.g.
// "sqs:sendMessage", matching arn:aws:states:::sqs:sendMessage with any
// pattern suffix).
func (e *Engine) RegisterIntegration(key string, in Integration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.integrations[key] = in
	e.resolvedBy = nil
}

// resolved is a Task resource resolved to its integration.
type resolved struct {
	resource   string
	service    string
	action     string
	pattern    string
	callAction string // action without the pattern, as TaskCall.Action
	lambdaBare bool   // arn:aws:lambda:...:function:NAME, with its own history events
	run        func(ctx context.Context, x *Execution, call *TaskCall) (any, *Failure)
}

func (r *resolved) waitForToken() bool { return r.pattern == "waitForTaskToken" }
func (r *resolved) sync() bool         { return r.pattern == "sync" || r.pattern == "sync:2" }

// resolve maps a Resource ARN to the code that serves it. The answer is
// kept (resolved values are never changed) until RegisterIntegration, the
// only registration that changes it; the other integrations look up what
// they serve (functions, machines, stores) at call time.
func (e *Engine) resolve(resource string) *resolved {
	e.mu.Lock()
	r, ok := e.resolvedBy[resource]
	e.mu.Unlock()
	if ok {
		return r
	}
	r = e.resolveAnew(resource)
	e.mu.Lock()
	if e.resolvedBy == nil {
		e.resolvedBy = map[string]*resolved{}
	}
	e.resolvedBy[resource] = r
	e.mu.Unlock()
	return r
}

func (e *Engine) resolveAnew(resource string) *resolved {
	r := &resolved{resource: resource}
	parts := strings.Split(resource, ":")
	if len(parts) >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function" {
		r.lambdaBare, r.service, r.action, r.callAction = true, "lambda", "invoke", "invoke"
		name := parts[6]
		r.run = func(ctx context.Context, x *Execution, call *TaskCall) (any, *Failure) {
			return e.invokeLambdaBare(ctx, name, call.Parameters)
		}
		return r
	}
	if len(parts) >= 7 && parts[0] == "arn" && parts[2] == "states" {
		r.service = parts[5]
		action := strings.Join(parts[6:], ":")
		r.action = action
		if i := strings.Index(action, "."); i >= 0 {
			r.pattern = action[i+1:]
			action = action[:i]
		}
		r.callAction = action
		e.mu.Lock()
		custom, ok := e.integrations[resource]
		if !ok {
			custom, ok = e.integrations[r.service+":"+action]
		}
		e.mu.Unlock()
		if ok {
			r.run = func(ctx context.Context, x *Execution, call *TaskCall) (any, *Failure) {
				v, err := custom.Invoke(ctx, call)
				if err != nil {
					return nil, serviceFailure(r.service, err)
				}
				return v, nil
			}
			return r
		}
		switch r.service + ":" + action {
		case "lambda:invoke":
			r.run = func(ctx context.Context, x *Execution, call *TaskCall) (any, *Failure) {
				return e.invokeLambdaService(ctx, call.Parameters)
			}
			return r
		case "sns:publish":
			r.run = e.snsPublish
			return r
		case "dynamodb:getItem", "dynamodb:putItem", "dynamodb:updateItem", "dynamodb:deleteItem":
			r.run = e.dynamoDB(action)
			return r
		case "states:startExecution":
			r.run = e.startChild(r.pattern)
			return r
		}
	}
	e.mu.Lock()
	custom, ok := e.integrations[resource]
	e.mu.Unlock()
	if ok {
		r.service, r.action, r.callAction = "custom", resource, strings.SplitN(resource, ".", 2)[0]
		r.run = func(ctx context.Context, x *Execution, call *TaskCall) (any, *Failure) {
			v, err := custom.Invoke(ctx, call)
			if err != nil {
				return nil, serviceFailure("", err)
			}
			return v, nil
		}
		return r
	}
	r.run = func(context.Context, *Execution, *TaskCall) (any, *Failure) {
		return nil, fail(ErrRuntime, "no integration serves the resource %q", resource)
	}
	return r
}

// serviceFailure names an integration's error as Step Functions names the
// errors of service integrations: "<Service>.<ErrorCode>".
func serviceFailure(service string, err error) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	var coded interface{ ErrorCode() string }
	name := ""
	if errors.As(err, &coded) {
		name = coded.ErrorCode()
	} else {
		inner := err
		for {
			u := errors.Unwrap(inner)
			if u == nil {
				break
			}
			inner = u
		}
		t := reflect.TypeOf(inner)
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		name = t.Name()
		if name == "" || name == "errorString" {
			return &Failure{Name: ErrTaskFailed, Cause: err.Error()}
		}
	}
	prefix := map[string]string{"sns": "SNS", "dynamodb": "DynamoDB", "states": "StepFunctions", "lambda": "Lambda", "sqs": "SQS"}[service]
	if prefix != "" {
		name = prefix + "." + name
	}
	return &Failure{Name: name, Cause: err.Error()}
}

// invoke runs one integration call with the history events AWS records,
// the task timeout and, for waitForTaskToken, the wait for the token with
// its heartbeat.
func (x *Execution) invoke(ctx context.Context, th *thread, r *resolved, params any, timeout, heartbeat time.Duration) (any, *Failure, error) {
	submitted := th.Task != nil && th.Task.Phase == phaseSubmitted
	token := ""
	if th.Task != nil {
		token = th.Task.Token
	}
	ev := x.taskEvents(r)
	if !submitted {
		x.mutate(func() {
			if r.lambdaBare {
				d := inputDetails(params, str("resource", r.resource))
				if timeout > 0 {
					d = append(d, value("timeoutInSeconds", int64(timeout/time.Second)))
				}
				x.emitLocked(th, "LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails", d)
				x.emitLocked(th, "LambdaFunctionStarted", "", nil)
			} else {
				d := ev(str("region", x.e.region), text("parameters", params))
				if timeout > 0 {
					d = append(d, value("timeoutInSeconds", int64(timeout/time.Second)))
				}
				if heartbeat > 0 {
					d = append(d, value("heartbeatInSeconds", int64(heartbeat/time.Second)))
				}
				x.emitLocked(th, "TaskScheduled", "taskScheduledEventDetails", d)
				x.emitLocked(th, "TaskStarted", "taskStartedEventDetails", ev())
			}
			th.Task = &taskProgress{Phase: phaseStarted, Token: token}
		})
	}
	var tokens chan tokenMessage
	if r.waitForToken() {
		tokens = x.e.tokenChannel(token)
		defer x.e.dropToken(token)
	}
	s := x.e.sched
	// TimeoutSeconds counts from the task's start, across the call, the
	// child execution and the wait for a token.
	var timeoutAt time.Time
	if timeout > 0 {
		timeoutAt = x.now().Add(timeout)
	}
	// The handler's context is cancelled when the task times out; without
	// a timeout it is the thread's own (cancelled when the execution stops),
	// saving a cancelCtx per call.
	ictx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		ictx, cancel = context.WithCancel(ctx)
		defer cancel()
	}

	var out any
	var f *Failure
	if !submitted {
		type reply struct {
			v any
			f *Failure
		}
		done := make(chan reply, 1)
		call := &TaskCall{Resource: r.resource, Service: r.service, Action: r.callAction, Pattern: r.pattern,
			Parameters: params, TaskToken: token, ExecutionArn: x.arn, StateName: th.State}
		// The handler is busy work of its own; this goroutine is idle until
		// it answers, the timeout comes or the execution stops. On virtual
		// time the timeout can only come while the handler itself waits on
		// the clock.
		var woke wakeCause
		if timeout == 0 {
			// Nothing but the execution's end can interrupt the call, and
			// the handler sees that in its context: the thread runs the
			// handler itself, without a goroutine handoff. (On virtual time
			// the thread stays busy work while it does, as the handler's own
			// goroutine would be.)
			out, f = r.run(ictx, x, call)
			woke = wokeSignal
		} else if _, real := s.(realTime); real {
			// Time runs by itself: a plain select, without a park's
			// bookkeeping (busy work is counted only on virtual time).
			spawn(func() {
				v, f := r.run(ictx, x, call)
				done <- reply{v, f}
			})
			var timeoutC <-chan time.Time
			if timeout > 0 {
				c, stop := s.timer(timeout)
				defer stop()
				timeoutC = c
			}
			select {
			case rep := <-done:
				woke, out, f = wokeSignal, rep.v, rep.f
			case <-timeoutC:
				woke = wokeTimer
			case <-ctx.Done():
				woke = wokeCancel
			}
		} else {
			p := s.newPark(ctx, timeout, timeout > 0)
			s.enter()
			spawn(func() {
				v, f := r.run(ictx, x, call)
				done <- reply{v, f}
				p.signal(true)
			})
			if woke = p.wait(); woke == wokeSignal {
				rep := <-done
				out, f = rep.v, rep.f
			}
		}
		switch woke {
		case wokeSignal:
		case wokeTimer:
			cancel()
			return nil, x.timedOut(th, r, ev, ErrTimeout), nil
		default:
			return nil, nil, ctx.Err()
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if f == nil && (r.waitForToken() || r.sync()) {
			child := ""
			if cs, ok := out.(childStarted); ok {
				out, child = cs.output, cs.arn
			}
			x.mutate(func() {
				x.emitLocked(th, "TaskSubmitted", "taskSubmittedEventDetails", outputDetails(out, ev()...))
				th.Task = &taskProgress{Phase: phaseSubmitted, Token: token, Child: child}
			})
		}
	}
	if f == nil && r.sync() {
		out, f = x.awaitChild(ctx, th.Task.Child, r.pattern)
		if f == nil && ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
	}
	if fc, ok := s.(*FakeClock); ok && f == nil && r.waitForToken() && fc.simulatesWorkers() {
		// The worker answering the token runs on the clock: the wait is
		// idle until the token or the timeout.
		var remaining time.Duration
		if timeout > 0 {
			remaining = timeoutAt.Sub(x.now())
		}
		m, woke := x.e.awaitToken(ctx, fc, token, tokens, remaining, timeout > 0)
		switch woke {
		case wokeSignal:
			out, f = m.output, m.failure
		case wokeTimer:
			return nil, x.timedOut(th, r, ev, ErrTimeout), nil
		default:
			return nil, nil, ctx.Err()
		}
	} else if f == nil && r.waitForToken() {
		// Waiting for a token stays busy work: on virtual time, only a
		// test's Advance reaches the heartbeat or the timeout (see FakeClock).
		var hbC, timeoutC <-chan time.Time
		stopHB := func() {}
		if heartbeat > 0 {
			hbC, stopHB = s.workerTimer(heartbeat)
		}
		defer func() { stopHB() }()
		if timeout > 0 {
			c, stop := s.workerTimer(timeoutAt.Sub(x.now()))
			timeoutC = c
			defer stop()
		}
	wait:
		for {
			select {
			case m := <-tokens:
				if m.heartbeat {
					if heartbeat > 0 {
						stopHB()
						hbC, stopHB = s.workerTimer(heartbeat)
					}
					continue
				}
				out, f = m.output, m.failure
				break wait
			case <-hbC:
				return nil, x.timedOut(th, r, ev, ErrHeartbeatTimeout), nil
			case <-timeoutC:
				return nil, x.timedOut(th, r, ev, ErrTimeout), nil
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
		}
	}
	x.mutate(func() {
		switch {
		case f != nil && r.lambdaBare:
			x.emitLocked(th, "LambdaFunctionFailed", "lambdaFunctionFailedEventDetails", errorDetails(f))
		case f != nil:
			x.emitLocked(th, "TaskFailed", "taskFailedEventDetails", errorDetails(f, ev()...))
		case r.lambdaBare:
			x.emitLocked(th, "LambdaFunctionSucceeded", "lambdaFunctionSucceededEventDetails", outputDetails(out))
		default:
			x.emitLocked(th, "TaskSucceeded", "taskSucceededEventDetails", outputDetails(out, ev()...))
		}
	})
	return out, f, nil
}

// awaitToken waits idle on a simulating FakeClock for the token's answer
// (heartbeats are passed over) or, when timed, for d to pass. The sender
// wakes the wait itself (Engine.tokenWakes), while it is busy work, so
// that time cannot reach the timeout between the answer and the wake-up.
func (e *Engine) awaitToken(ctx context.Context, c *FakeClock, token string, tokens chan tokenMessage, d time.Duration, timed bool) (tokenMessage, wakeCause) {
	p := c.newPark(ctx, d, timed)
	e.mu.Lock()
	e.tokenWakes[token] = func() { p.signal(false) }
	e.mu.Unlock()
	// An answer that came before the wait was armed.
	for {
		select {
		case m := <-tokens:
			if m.heartbeat {
				continue
			}
			p.signal(false)
			p.wait()
			return m, wokeSignal
		default:
		}
		break
	}
	woke := p.wait()
	e.mu.Lock()
	delete(e.tokenWakes, token)
	e.mu.Unlock()
	if woke != wokeSignal {
		return tokenMessage{}, woke
	}
	for {
		if m := <-tokens; !m.heartbeat {
			return m, wokeSignal
		}
	}
}

// taskEvents returns a helper that makes the details of the Task* events:
// resourceType and resource, then the given fields.
func (x *Execution) taskEvents(r *resolved) func(more ...field) []field {
	return func(more ...field) []field {
		return append(append(make([]field, 0, 2+len(more)), str("resourceType", r.service), str("resource", r.action)), more...)
	}
}

func (x *Execution) timedOut(th *thread, r *resolved, ev func(more ...field) []field, name string) *Failure {
	f := &Failure{Name: name, Cause: ""}
	x.mutate(func() {
		if r.lambdaBare {
			x.emitLocked(th, "LambdaFunctionTimedOut", "lambdaFunctionTimedOutEventDetails", errorDetails(f))
			return
		}
		x.emitLocked(th, "TaskTimedOut", "taskTimedOutEventDetails", errorDetails(f, ev()...))
	})
	return f
}

// contentType is one response Content-Type as the immutable JSON values
// that every result carrying it shares (JSON values are never mutated in
// place: jsonpath.Set copies what it changes).
type contentType struct {
	value any // HttpHeaders' "Content-Type"
	all   any // AllHttpHeaders' "Content-Type": a one-element list
}

func newContentType(ct string) contentType { return contentType{value: ct, all: []any{ct}} }

var (
	contentJSON    = newContentType("application/json")
	contentAmzJSON = newContentType("application/x-amz-json-1.0")
	contentXML     = newContentType("text/xml")
	// status200 is the shared HTTP status of successful results.
	status200 any = jsonInt(200)
)

// sdkMetadata is the SdkHttpMetadata/SdkResponseMetadata pair that AWS
// service integrations add to their results. Only the request id is made
// per call; the constant parts are shared.
func sdkMetadata(out map[string]any, ct contentType, requestID string) map[string]any {
	var id any = requestID
	out["SdkHttpMetadata"] = map[string]any{
		"AllHttpHeaders": map[string]any{"Content-Type": ct.all, "x-amzn-RequestId": []any{id}},
		"HttpHeaders":    map[string]any{"Content-Type": ct.value, "x-amzn-RequestId": id},
		"HttpStatusCode": status200,
	}
	out["SdkResponseMetadata"] = map[string]any{"RequestId": id}
	return out
}

func paramString(params any, key string) (string, bool) {
	m, ok := params.(map[string]any)
	if !ok {
		return "", false
	}
	s, ok := m[key].(string)
	return s, ok
}

func paramsObject(params any, service string) (map[string]any, *Failure) {
	m, ok := params.(map[string]any)
	if !ok {
		return nil, fail(ErrRuntime, "the parameters of %s must be a JSON object, got %s", service, jsonString(params))
	}
	return m, nil
}
