package asl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lethe-erasure/lethe/internal/asl/jsonpath"
)

// This file is the one place the engine meets its leaf packages (paths,
// payload templates, intrinsic functions), so that their errors are mapped
// to ASL error names in one place.

func validatePath(p string) error          { return jsonpath.ValidatePath(p) }
func validateReferencePath(p string) error { return jsonpath.ValidateReference(p) }

// compiledPath is a Path parsed once at definition time.
type compiledPath = jsonpath.Path

func compilePath(p string) (*compiledPath, error)      { return jsonpath.Compile(p) }
func compileReference(p string) (*compiledPath, error) { return jsonpath.CompileReference(p) }

// pathValue evaluates a path against the state input, or the context object
// for "$$" paths. A path that selects nothing is States.Runtime, with AWS's
// wording of the cause.
func pathValue(p *compiledPath, field string, input, context any) (any, *Failure) {
	data := input
	if p.IsContext() {
		data = context
	}
	v, err := p.Get(data)
	if err != nil {
		if jsonpath.IsNotFound(err) {
			return nil, fail(ErrRuntime, "The JSONPath '%s' specified for the field '%s' could not be found in the input '%s'",
				p.String(), field, jsonString(data))
		}
		return nil, fail(ErrRuntime, "Invalid path '%s': %v", p.String(), err)
	}
	return v, nil
}

// setResult writes value into input at a ResultPath.
func setResult(p *compiledPath, input, value any) (any, *Failure) {
	out, err := p.Set(input, value)
	if err != nil {
		return nil, fail(ErrResultPathMatchFailure, "Unable to apply ResultPath '%s' to input '%s': %v", p.String(), jsonString(input), err)
	}
	return out, nil
}

// mapLeafError names a template or intrinsic failure.
func mapLeafError(err error) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	if jsonpath.IsNotFound(err) {
		return &Failure{Name: ErrRuntime, Cause: err.Error()}
	}
	if strings.Contains(fmt.Sprintf("%T", err), "intrinsic") {
		return &Failure{Name: ErrIntrinsicFailure, Cause: err.Error()}
	}
	return &Failure{Name: ErrRuntime, Cause: err.Error()}
}
