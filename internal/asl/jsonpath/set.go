package jsonpath

import (
	"fmt"
	"maps"
	"slices"

	"github.com/ohler55/ojg/jp"
)

// Set returns data with value written at path, following ResultPath (spec
// section "ResultPath"): "$" replaces the whole input, "$.a.b" creates the
// objects a and b when missing. The caller's data is never mutated: the
// objects and arrays along the path are copied and everything else is
// shared, so JSON values must be treated as immutable. A step through a
// value that is not an object (or an index outside an array) is a *SetError.
func Set(data any, path string, value any) (any, error) {
	p, err := CompileReference(path)
	if err != nil {
		return nil, err
	}
	return p.Set(data, value)
}

// Set is the compiled form of Set, for paths parsed once with
// CompileReference.
func (p *Path) Set(data, value any) (any, error) {
	if !p.definite {
		return nil, &SyntaxError{Path: p.src, Reason: "not a Reference Path"}
	}
	if p.context {
		return nil, &SyntaxError{Path: p.src, Reason: "ResultPath cannot write to the context object"}
	}
	return p.set(data, p.expr[1:], 1, value)
}

func (p *Path) set(node any, rest jp.Expr, depth int, value any) (any, error) {
	if len(rest) == 0 {
		return value, nil
	}
	switch f := rest[0].(type) {
	case jp.Child:
		m, ok := node.(map[string]any)
		if !ok {
			return nil, &SetError{Path: p.src, Reason: fmt.Sprintf("%s is %s, not an object", p.expr[:depth], Kind(node))}
		}
		child, ok := m[string(f)]
		if !ok && len(rest) > 1 {
			child = map[string]any{}
		}
		v, err := p.set(child, rest[1:], depth+1, value)
		if err != nil {
			return nil, err
		}
		out := maps.Clone(m)
		if out == nil {
			out = map[string]any{}
		}
		out[string(f)] = v
		return out, nil
	case jp.Nth:
		a, ok := node.([]any)
		if !ok {
			return nil, &SetError{Path: p.src, Reason: fmt.Sprintf("%s is %s, not an array", p.expr[:depth], Kind(node))}
		}
		i := int(f)
		if i < 0 {
			i += len(a)
		}
		if i < 0 || i >= len(a) {
			return nil, &SetError{Path: p.src, Reason: fmt.Sprintf("index %d is outside %s (length %d)", int(f), p.expr[:depth], len(a))}
		}
		v, err := p.set(a[i], rest[1:], depth+1, value)
		if err != nil {
			return nil, err
		}
		out := slices.Clone(a)
		out[i] = v
		return out, nil
	}
	return nil, &SyntaxError{Path: p.src, Reason: "not a Reference Path"}
}

// kind names a JSON value's type for error messages.
func Kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}
