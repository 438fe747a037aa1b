package asl

// passState passes its input to its output, optionally injecting a fixed
// Result (spec "Pass State").
type passState struct {
	stateCommon
	result    any
	hasResult bool
}

func (p *parser) passState(o *obj, c stateCommon) *passState {
	s := &passState{stateCommon: c}
	o.io(&s.stateCommon)
	o.transition(&s.stateCommon)
	o.result(&s.stateCommon, false)
	s.result, s.hasResult = o.get("Result")
	return s
}

func (s *passState) exec(x *Execution, th *thread) (any, *Failure) {
	ctx := x.contextObject(th, &s.stateCommon)
	in, f := applyInputPath(s.inputPath, th.Input, ctx)
	if f != nil {
		return nil, f
	}
	result, f := applyParameters(s.parameters, in, ctx)
	if f != nil {
		return nil, f
	}
	if s.hasResult {
		result = s.result
	}
	out, f := applyResultPath(s.resultPath, th.Input, result)
	if f != nil {
		return nil, f
	}
	return applyOutputPath(s.outputPath, out, ctx)
}
