package asl

// failState stops the execution (or the branch, whose Parallel or Map then
// fails with the same Error and Cause) (spec "Fail State").
type failState struct {
	stateCommon
	errorName string
	cause     string
	errorPath *payloadTemplate // ErrorPath: a path or an intrinsic function
	causePath *payloadTemplate
}

func (p *parser) failState(o *obj, c stateCommon) *failState {
	s := &failState{stateCommon: c, errorName: o.str("Error"), cause: o.str("Cause")}
	s.end = true
	s.errorPath = o.dynamicString("ErrorPath")
	s.causePath = o.dynamicString("CausePath")
	if o.has("Error") && o.has("ErrorPath") {
		o.errorf("ErrorPath", "Error and ErrorPath are mutually exclusive")
	}
	if o.has("Cause") && o.has("CausePath") {
		o.errorf("CausePath", "Cause and CausePath are mutually exclusive")
	}
	return s
}

// dynamicString reads a field whose value is a path or an intrinsic function
// evaluated at run time (ErrorPath, CausePath), compiling it as a one-field
// template so that both forms share the template machinery.
func (o *obj) dynamicString(k string) *payloadTemplate {
	v, ok := o.get(k)
	if !ok {
		return nil
	}
	s, isStr := v.(string)
	if !isStr {
		o.errorf(k, "must be a path or an intrinsic function")
		return nil
	}
	t, err := compileTemplate(map[string]any{k + ".$": s})
	if err != nil {
		o.errorf(k, "%v", err)
		return nil
	}
	if t.t.UsesContext() {
		o.p.context = true
	}
	return t
}

func (s *failState) failure(x *Execution, th *thread) *Failure {
	ctx := x.contextObject(th, &s.stateCommon)
	f := &Failure{Name: s.errorName, Cause: s.cause}
	for _, d := range []struct {
		t     *payloadTemplate
		field string
		dst   *string
	}{{s.errorPath, "ErrorPath", &f.Name}, {s.causePath, "CausePath", &f.Cause}} {
		if d.t == nil {
			continue
		}
		v, ff := d.t.eval(th.Input, ctx)
		if ff != nil {
			return ff
		}
		str, ok := v.(map[string]any)[d.field].(string)
		if !ok {
			return fail(ErrRuntime, "The value of %s must be a string, got %s", d.field, jsonString(v.(map[string]any)[d.field]))
		}
		*d.dst = str
	}
	return f
}
