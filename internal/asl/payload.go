package asl

import (
	"errors"

	"github.com/lethe-erasure/lethe/internal/asl/intrinsic"
	"github.com/lethe-erasure/lethe/internal/asl/jsonpath"
	"github.com/lethe-erasure/lethe/internal/asl/template"
)

// payloadTemplate is a compiled Parameters, ResultSelector, ItemSelector
// (spec "Payload Template"), or a one-field template standing for a
// path-or-intrinsic field such as ErrorPath.
type payloadTemplate struct {
	t *template.Template
}

func compileTemplate(v any) (*payloadTemplate, error) {
	t, err := template.Compile(v)
	if err != nil {
		return nil, err
	}
	return &payloadTemplate{t: t}, nil
}

// eval applies the template. A path that selects nothing is States.Runtime
// (with AWS's cause), a failing intrinsic function States.IntrinsicFailure.
func (p *payloadTemplate) eval(input, ctx any) (any, *Failure) {
	v, err := p.t.Eval(input, ctx, nil)
	if err == nil {
		return v, nil
	}
	var ie *intrinsic.Error
	if errors.As(err, &ie) {
		return nil, &Failure{Name: ErrIntrinsicFailure, Cause: err.Error()}
	}
	var fe *template.FieldError
	if errors.As(err, &fe) && jsonpath.IsNotFound(err) {
		var nf *jsonpath.NotFoundError
		errors.As(err, &nf)
		data := input
		if len(nf.Path) > 1 && nf.Path[:2] == "$$" {
			data = ctx
		}
		return nil, fail(ErrRuntime, "The JSONPath '%s' specified for the field '%s' could not be found in the input '%s'",
			nf.Path, fe.Field, jsonString(data))
	}
	return nil, mapLeafError(err)
}
