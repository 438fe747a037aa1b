package asl

import (
	"context"
	"strings"
	"time"
)

// taskState runs one unit of work through an integration chosen by its
// Resource (spec "Task State"; developer guide "Service integrations").
type taskState struct {
	stateCommon
	resource      string
	timeout       int
	timeoutPath   *compiledPath
	heartbeat     int
	heartbeatPath *compiledPath
}

func (p *parser) taskState(o *obj, c stateCommon) *taskState {
	s := &taskState{stateCommon: c}
	o.io(&s.stateCommon)
	o.transition(&s.stateCommon)
	o.result(&s.stateCommon, true)
	s.resource = o.requiredStr("Resource")
	if s.resource != "" && !strings.HasPrefix(s.resource, "arn:") && !strings.HasPrefix(s.resource, "${") {
		o.errorf("Resource", "must be an ARN, got %q", s.resource)
	}
	if o.has("TimeoutSeconds") {
		s.timeout = o.positiveInt("TimeoutSeconds")
	}
	if o.has("HeartbeatSeconds") {
		s.heartbeat = o.positiveInt("HeartbeatSeconds")
	}
	s.timeoutPath = o.optionalPath("TimeoutSecondsPath", true)
	s.heartbeatPath = o.optionalPath("HeartbeatSecondsPath", true)
	if o.has("TimeoutSeconds") && o.has("TimeoutSecondsPath") {
		o.errorf("TimeoutSecondsPath", "TimeoutSeconds and TimeoutSecondsPath are mutually exclusive")
	}
	if o.has("HeartbeatSeconds") && o.has("HeartbeatSecondsPath") {
		o.errorf("HeartbeatSecondsPath", "HeartbeatSeconds and HeartbeatSecondsPath are mutually exclusive")
	}
	if s.timeout > 0 && s.heartbeat > 0 && s.heartbeat >= s.timeout {
		o.errorf("HeartbeatSeconds", "must be smaller than TimeoutSeconds")
	}
	o.get("Credentials") // accepted; identities do not exist locally
	s.retry = p.retriers(o)
	s.catch = p.catchers(o)
	return s
}

// timeouts resolves TimeoutSeconds(Path) and HeartbeatSeconds(Path).
func (s *taskState) timeouts(in, ctx any) (timeout, heartbeat time.Duration, f *Failure) {
	get := func(fixed int, p *compiledPath, field string) (time.Duration, *Failure) {
		if p == nil {
			return time.Duration(fixed) * time.Second, nil
		}
		v, f := pathValue(p, field, in, ctx)
		if f != nil {
			return 0, f
		}
		n, ok := toFloat(v)
		if !ok || n < 1 || n != float64(int64(n)) {
			return 0, fail(ErrRuntime, "The value of %s must be a positive integer, got %s", field, jsonString(v))
		}
		return time.Duration(n) * time.Second, nil
	}
	if timeout, f = get(s.timeout, s.timeoutPath, "TimeoutSecondsPath"); f != nil {
		return
	}
	heartbeat, f = get(s.heartbeat, s.heartbeatPath, "HeartbeatSecondsPath")
	return
}

// attempt runs the task once: input processing, the integration call and
// output processing. A result already checkpointed is reused, never fetched
// again.
func (s *taskState) attempt(ctx context.Context, x *Execution, th *thread) (any, *Failure, error) {
	var result any
	var cobj map[string]any // the same before and after the call: same entry, retry count and token
	if th.Task != nil && th.Task.Phase == phaseSucceeded {
		result = th.Task.Result
		cobj = x.contextObject(th, &s.stateCommon)
	} else {
		call := x.e.resolve(s.resource)
		if call.waitForToken() && (th.Task == nil || th.Task.Token == "") {
			x.mutate(func() { th.Task = &taskProgress{Phase: phaseStarted, Token: x.e.newToken()} })
		}
		cobj = x.contextObject(th, &s.stateCommon)
		in, f := applyInputPath(s.inputPath, th.Input, cobj)
		if f != nil {
			return nil, f, nil
		}
		params, f := applyParameters(s.parameters, in, cobj)
		if f != nil {
			return nil, f, nil
		}
		timeout, heartbeat, f := s.timeouts(in, cobj)
		if f != nil {
			return nil, f, nil
		}
		r, f, err := x.invoke(ctx, th, call, params, timeout, heartbeat)
		if err != nil || f != nil {
			return nil, f, err
		}
		x.mutate(func() {
			tok := ""
			if th.Task != nil {
				tok = th.Task.Token
			}
			th.Task = &taskProgress{Phase: phaseSucceeded, Result: r, Token: tok}
		})
		result = r
	}
	sel, f := applyResultSelector(s.selector, result, cobj)
	if f != nil {
		return nil, f, nil
	}
	out, f := applyResultPath(s.resultPath, th.Input, sel)
	if f != nil {
		return nil, f, nil
	}
	out, f = applyOutputPath(s.outputPath, out, cobj)
	return out, f, nil
}
