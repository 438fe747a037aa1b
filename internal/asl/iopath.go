package asl

// Input and output processing, one function per step in the order of the
// spec's section "Input and Output Processing": InputPath, Parameters,
// ResultSelector, ResultPath, OutputPath. Each returns a *Failure named as
// AWS names the failure of that step.

var emptyObject = func() any { return map[string]any{} }

// applyInputPath selects the state's effective input from its raw input
// (spec "InputPath"): absent means "$", null means an empty object.
func applyInputPath(p optPath, raw, ctx any) (any, *Failure) {
	if p.null {
		return emptyObject(), nil
	}
	return pathValue(p.p, "InputPath", raw, ctx)
}

// applyParameters builds the task's input from the effective input (spec
// "Parameters", "Payload Templates"). No template leaves the input as is.
func applyParameters(t *payloadTemplate, input, ctx any) (any, *Failure) {
	if t == nil {
		return input, nil
	}
	return t.eval(input, ctx)
}

// applyResultSelector reshapes a task's result before ResultPath (spec
// "ResultSelector"); it sees the result, not the input.
func applyResultSelector(t *payloadTemplate, result, ctx any) (any, *Failure) {
	if t == nil {
		return result, nil
	}
	return t.eval(result, ctx)
}

// applyResultPath combines the raw input with the result (spec "ResultPath"):
// "$" (the default) replaces the input with the result, null discards the
// result and keeps the raw input, any other Reference Path writes the result
// into a copy of the input.
func applyResultPath(p optPath, raw, result any) (any, *Failure) {
	if p.null {
		return raw, nil
	}
	return setResult(p.p, raw, result)
}

// applyOutputPath selects the state's output (spec "OutputPath"): absent
// means "$", null means an empty object.
func applyOutputPath(p optPath, v, ctx any) (any, *Failure) {
	if p.null {
		return emptyObject(), nil
	}
	return pathValue(p.p, "OutputPath", v, ctx)
}
