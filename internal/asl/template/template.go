// Package template evaluates the payload templates of the Amazon States
// Language (JSONPath query language): Parameters, ResultSelector and
// ItemSelector (spec section "Payload Template"). A field whose name ends in
// ".$" takes its value from a path into the state input ("$..."), a path into
// the context object ("$$...") or an intrinsic function call; its name loses
// the ".$". Every other field is copied literally; objects and arrays
// recurse.
//
// Compile validates a template once at parse time; the resulting *Template
// is immutable and safe for concurrent executions.
package template

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/lethe-erasure/lethe/internal/asl/intrinsic"
	"github.com/lethe-erasure/lethe/internal/asl/jsonpath"
)

// FieldError tells which "key.$" field failed at run time, for the cause
// AWS writes ("The JSONPath '$.x' specified for the field 'x.$' could not
// be found in the input"). Unwrap it to decide the ASL error: a
// *jsonpath.NotFoundError is States.Runtime, an *intrinsic.Error is
// States.IntrinsicFailure.
type FieldError struct {
	Field string // the field as written, e.g. "value.$"
	Expr  string // its path or intrinsic call
	Err   error
}

// Error names the field, its expression and the cause.
func (e *FieldError) Error() string {
	return fmt.Sprintf("field %q (%s): %v", e.Field, e.Expr, e.Err)
}

// Unwrap gives access to the cause.
func (e *FieldError) Unwrap() error { return e.Err }

// Template is a compiled payload template.
type Template struct {
	root    *node
	context bool
}

// UsesContext reports whether any path of the template, in a "key.$" field
// or an intrinsic function's argument, reads the context object ("$$..."),
// so that a caller may skip building one for templates that do not.
func (t *Template) UsesContext() bool { return t.context }

func (n *node) usesContext() bool {
	if n.path != nil && n.path.IsContext() {
		return true
	}
	for _, p := range n.paths {
		if p.IsContext() {
			return true
		}
	}
	for _, f := range n.fields {
		if f.node.usesContext() {
			return true
		}
	}
	for _, i := range n.items {
		if i.usesContext() {
			return true
		}
	}
	return false
}

type node struct {
	value  any     // literal scalar, when nothing below is set
	fields []field // object, in key order
	object bool
	items  []*node // array
	array  bool
	// a "key.$" value: a path, or a call with its paths compiled once
	path  *jsonpath.Path
	call  *intrinsic.Call
	paths map[string]*jsonpath.Path
	src   string // the path or call as written
}

type field struct {
	name string // output name, without ".$"
	key  string // as written
	node *node
}

// Compile validates and compiles a template: the JSON value of Parameters,
// ResultSelector or ItemSelector as decoded with UseNumber. A "key.$" field
// must hold a string that is a valid path, context path or intrinsic call,
// and must not clash with a literal field of the same name.
func Compile(tmpl any) (*Template, error) {
	root, err := compile(tmpl)
	if err != nil {
		return nil, err
	}
	return &Template{root: root, context: root.usesContext()}, nil
}

func compile(v any) (*node, error) {
	switch t := v.(type) {
	case map[string]any:
		n := &node{object: true}
		seen := map[string]string{}
		for _, key := range slices.Sorted(maps.Keys(t)) {
			f := field{name: key, key: key}
			var err error
			if name, ok := strings.CutSuffix(key, ".$"); ok {
				f.name = name
				f.node, err = compileDynamic(t[key])
			} else {
				f.node, err = compile(t[key])
			}
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", key, err)
			}
			if other, dup := seen[f.name]; dup {
				return nil, fmt.Errorf("fields %q and %q both produce %q", other, key, f.name)
			}
			seen[f.name] = key
			n.fields = append(n.fields, f)
		}
		return n, nil
	case []any:
		n := &node{array: true, items: make([]*node, len(t))}
		for i, e := range t {
			c, err := compile(e)
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
			n.items[i] = c
		}
		return n, nil
	default:
		return &node{value: v}, nil
	}
}

func compileDynamic(v any) (*node, error) {
	s, ok := v.(string)
	if !ok {
		return nil, errors.New(`the value of a field ending in ".$" must be a string holding a path or an intrinsic function`)
	}
	if intrinsic.IsCall(s) {
		c, err := intrinsic.Parse(s)
		if err != nil {
			return nil, err
		}
		n := &node{call: c, src: s, paths: map[string]*jsonpath.Path{}}
		for _, p := range c.Paths() {
			if n.paths[p], err = jsonpath.Compile(p); err != nil {
				return nil, err
			}
		}
		return n, nil
	}
	p, err := jsonpath.Compile(s)
	if err != nil {
		return nil, err
	}
	return &node{path: p, src: s}, nil
}

// Eval applies the template: "$" paths read input, "$$" paths read context
// (the context object: Execution, State, StateMachine, Task, Map...), and rnd
// (intrinsic.DefaultRandom if nil) feeds States.MathRandom and States.UUID.
// The result shares no object or array with the template, so callers may
// keep it.
func (t *Template) Eval(input, context any, rnd intrinsic.Random) (any, error) {
	return t.root.eval(input, context, rnd)
}

func (n *node) eval(input, context any, rnd intrinsic.Random) (any, error) {
	switch {
	case n.object:
		out := make(map[string]any, len(n.fields))
		for _, f := range n.fields {
			v, err := f.node.eval(input, context, rnd)
			if err != nil {
				var fe *FieldError
				if f.node.src != "" && !errors.As(err, &fe) {
					err = &FieldError{Field: f.key, Expr: f.node.src, Err: err}
				}
				return nil, err
			}
			out[f.name] = v
		}
		return out, nil
	case n.array:
		out := make([]any, len(n.items))
		for i, item := range n.items {
			v, err := item.eval(input, context, rnd)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case n.path != nil:
		return get(n.path, input, context)
	case n.call != nil:
		return n.call.Eval(func(path string) (any, error) {
			p, ok := n.paths[path]
			if !ok { // cannot happen: Paths() listed every path at Compile
				return nil, fmt.Errorf("path %s was not compiled", path)
			}
			return get(p, input, context)
		}, rnd)
	default:
		return n.value, nil
	}
}

func get(p *jsonpath.Path, input, context any) (any, error) {
	if p.IsContext() {
		return p.Get(context)
	}
	return p.Get(input)
}
