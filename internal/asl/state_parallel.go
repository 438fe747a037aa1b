package asl

import (
	"context"
	"fmt"
)

// parallelState runs its branches concurrently on the same input; its
// result is the array of the branches' outputs (spec "Parallel State"). A
// failing branch stops the others and fails the state with the branch's
// error.
type parallelState struct {
	stateCommon
	branches []*branch
}

func (p *parser) parallelState(o *obj, c stateCommon) *parallelState {
	s := &parallelState{stateCommon: c}
	o.io(&s.stateCommon)
	o.transition(&s.stateCommon)
	o.result(&s.stateCommon, true)
	v, ok := o.get("Branches")
	arr, isArr := v.([]any)
	switch {
	case !ok:
		o.errorf("Branches", "is required")
	case !isArr || len(arr) == 0:
		o.errorf("Branches", "must be a non-empty array")
	}
	for i, e := range arr {
		where := fmt.Sprintf("%s, Branches[%d]", o.where, i)
		m, isObj := e.(map[string]any)
		if !isObj {
			p.errorf(where, "must be a JSON object")
			continue
		}
		bo := p.object(where, m)
		bo.str("Comment")
		p.queryLanguage(bo)
		s.branches = append(s.branches, p.branch(where, bo))
		bo.done()
	}
	s.retry = p.retriers(o)
	s.catch = p.catchers(o)
	return s
}

func (s *parallelState) attempt(ctx context.Context, x *Execution, th *thread) (any, *Failure, error) {
	if th.Task != nil && th.Task.Phase == phaseSucceeded {
		return finishResult(s.stateCommon, x, th, th.Task.Result)
	}
	cobj := x.contextObject(th, &s.stateCommon)
	if th.Fanout == nil {
		in, f := applyInputPath(s.inputPath, th.Input, cobj)
		if f != nil {
			return nil, f, nil
		}
		in, f = applyParameters(s.parameters, in, cobj)
		if f != nil {
			return nil, f, nil
		}
		x.mutate(func() {
			x.emitLocked(th, "ParallelStateStarted", "", nil)
			fo := &fanout{}
			for _, b := range s.branches {
				fo.Children = append(fo.Children, &thread{State: b.startAt, Input: in, LastEvent: th.LastEvent})
			}
			th.Fanout = fo
		})
	}
	f, failed, err := x.runChildren(ctx, th.Fanout, func(i int) *branch { return s.branches[i] }, 0, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	if f != nil {
		x.mutate(func() {
			th.LastEvent = th.Fanout.Children[failed].LastEvent
			th.Fanout = nil
		})
		return nil, f, nil
	}
	results := make([]any, len(th.Fanout.Children))
	for i, c := range th.Fanout.Children {
		results[i] = c.Output
	}
	x.mutate(func() {
		th.LastEvent = int64(len(x.history))
		x.emitAside(th.LastEvent, "ParallelStateSucceeded", "", nil)
		th.Fanout = nil
		th.Task = &taskProgress{Phase: phaseSucceeded, Result: results}
	})
	return finishResult(s.stateCommon, x, th, results)
}

// finishResult is the tail of output processing shared by Task, Parallel and
// Map: ResultSelector, ResultPath, OutputPath.
func finishResult(c stateCommon, x *Execution, th *thread, result any) (any, *Failure, error) {
	cobj := x.contextObject(th, &c)
	sel, f := applyResultSelector(c.selector, result, cobj)
	if f != nil {
		return nil, f, nil
	}
	out, f := applyResultPath(c.resultPath, th.Input, sel)
	if f != nil {
		return nil, f, nil
	}
	out, f = applyOutputPath(c.outputPath, out, cobj)
	return out, f, nil
}
