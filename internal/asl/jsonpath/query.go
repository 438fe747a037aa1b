package jsonpath

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/ohler55/ojg/jp"
)

// query evaluates a path that may select several nodes and returns them as a
// list in document order (object members by key, since Go maps keep no
// order), so that results do not depend on map iteration.
//
// ojg compares numbers in filters only as int64/float64, and iterates plain
// maps in random order, so the path is located in a shadow copy with
// converted numbers and sorted keys; the nodes returned are then read from
// the original data, so json.Number values keep their exact text.
//
// ojg can panic on odd combinations (a filter applied to null, found by
// FuzzPath); such a panic becomes an error instead of crashing an execution.
func query(x jp.Expr, data any) (out []any, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("evaluate JSONPath %s: %v", x, r)
		}
	}()
	locs := x.Locate(shadow(data), 0)
	slices.SortStableFunc(locs, compareLocations)
	out = make([]any, 0, len(locs))
	for _, loc := range locs {
		if v, ok := loc.FirstFound(data); ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// compareLocations orders normalized paths (only Root, Child and Nth) in
// pre-order document order.
func compareLocations(a, b jp.Expr) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		var c int
		switch fa := a[i].(type) {
		case jp.Child:
			if fb, ok := b[i].(jp.Child); ok {
				c = cmp.Compare(fa, fb)
			}
		case jp.Nth:
			if fb, ok := b[i].(jp.Nth); ok {
				c = cmp.Compare(fa, fb)
			}
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// object is a read-only view of a JSON object whose keys iterate in sorted
// order; it implements jp.Keyed.
type object struct {
	keys []string
	m    map[string]any
}

func (o *object) ValueForKey(k string) (any, bool) { v, ok := o.m[k]; return v, ok }
func (o *object) SetValueForKey(string, any)       {}
func (o *object) RemoveValueForKey(string)         {}
func (o *object) Keys() []string                   { return o.keys }

func shadow(v any) any {
	switch t := v.(type) {
	case map[string]any:
		o := &object{keys: make([]string, 0, len(t)), m: make(map[string]any, len(t))}
		for k, c := range t {
			o.keys = append(o.keys, k)
			o.m[k] = shadow(c)
		}
		slices.Sort(o.keys)
		return o
	case []any:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = shadow(c)
		}
		return out
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		if f, err := t.Float64(); err == nil {
			return f
		}
		return string(t)
	}
	return v
}
