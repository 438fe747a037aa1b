package asl

// succeedState ends the execution (or the branch) successfully (spec
// "Succeed State").
type succeedState struct {
	stateCommon
}

func (p *parser) succeedState(o *obj, c stateCommon) *succeedState {
	s := &succeedState{stateCommon: c}
	o.io(&s.stateCommon)
	s.end = true
	return s
}

func (s *succeedState) exec(x *Execution, th *thread) (any, *Failure) {
	ctx := x.contextObject(th, &s.stateCommon)
	in, f := applyInputPath(s.inputPath, th.Input, ctx)
	if f != nil {
		return nil, f
	}
	return applyOutputPath(s.outputPath, in, ctx)
}
