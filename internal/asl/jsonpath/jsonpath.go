// Package jsonpath evaluates the Paths of the Amazon States Language (JSONPath
// query language) on JSON values decoded with encoding/json and UseNumber:
// map[string]any, []any, string, json.Number, bool and nil.
//
// General JSONPath is evaluated by github.com/ohler55/ojg/jp; this package adds
// only the ASL rules on top (spec section "Paths"): a Path starts with "$" (or
// "$$" for the context object), a Reference Path selects a single node, and
// ResultPath writes into a copy of the input.
package jsonpath

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/ohler55/ojg/jp"
)

// NotFoundError reports that a Path selected nothing in the data. The engine
// maps it to States.Runtime (InputPath, Parameters, OutputPath, ItemsPath, ...),
// as AWS does: "The JSONPath '$.x' ... could not be found in the input".
type NotFoundError struct {
	Path string
}

// Error words the failure like the cause AWS reports.
func (e *NotFoundError) Error() string {
	return fmt.Sprintf("the JSONPath %q could not be found in the input", e.Path)
}

// SetError reports that ResultPath could not be applied to the input, because
// a step of the path crosses a value that is not an object (or an index beyond
// an array). The engine maps it to States.ResultPathMatchFailure.
type SetError struct {
	Path   string
	Reason string
}

// Error says which step of the path failed and why.
func (e *SetError) Error() string {
	return fmt.Sprintf("cannot apply ResultPath %q: %s", e.Path, e.Reason)
}

// SyntaxError reports a Path that is not valid where it is used, so the parser
// can reject the definition (States.Runtime never sees it).
type SyntaxError struct {
	Path   string
	Reason string
}

// Error names the path and what is wrong with it, for the definition's author.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid path %q: %s", e.Path, e.Reason)
}

// Path is a parsed Path, kept so that a definition parses each path once and
// many executions evaluate it concurrently. A Path is immutable.
type Path struct {
	src      string
	expr     jp.Expr
	context  bool // written "$$...": evaluated against the context object
	definite bool // only child names and indexes: selects at most one node
	steps    []step
}

// step is one element of a definite path after "$": a child name, or an
// array index (negative counts from the end, as in ojg).
type step struct {
	name  string
	index int
	nth   bool
}

// Compile parses any ASL Path: the value of a Parameters "key.$" field, of
// ItemsPath, or a Reference Path. Paths that may select several nodes
// (wildcards, filters, slices, unions, descent) are allowed.
func Compile(path string) (*Path, error) {
	p, err := compile(path)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// CompileReference parses a Reference Path (InputPath, ResultPath, OutputPath,
// Choice Variable, *Path fields): the spec requires it to identify a single
// node, so only child names and array indexes are allowed.
func CompileReference(path string) (*Path, error) {
	p, err := compile(path)
	if err != nil {
		return nil, err
	}
	if !p.definite {
		return nil, &SyntaxError{Path: path, Reason: "a Reference Path must select a single node: " +
			"wildcards, filters, slices, unions and '..' are not allowed"}
	}
	return p, nil
}

// ValidatePath reports whether path is a valid ASL Path, for the parser.
func ValidatePath(path string) error {
	_, err := Compile(path)
	return err
}

// ValidateReference reports whether path is a valid Reference Path, for the
// parser.
func ValidateReference(path string) error {
	_, err := CompileReference(path)
	return err
}

func compile(path string) (*Path, error) {
	body, context := path, false
	switch {
	case strings.HasPrefix(path, "$$"):
		body, context = path[1:], true
	case strings.HasPrefix(path, "$"):
	default:
		return nil, &SyntaxError{Path: path, Reason: `a path must start with "$" or "$$"`}
	}
	x, err := parse(body)
	if err != nil {
		return nil, &SyntaxError{Path: path, Reason: err.Error()}
	}
	if len(x) == 0 {
		return nil, &SyntaxError{Path: path, Reason: "empty path"}
	}
	if _, ok := x[0].(jp.Root); !ok {
		return nil, &SyntaxError{Path: path, Reason: `a path must start with "$"`}
	}
	p := &Path{src: path, expr: x, context: context, definite: true}
	for _, f := range x[1:] {
		switch f := f.(type) {
		case jp.Child:
			p.steps = append(p.steps, step{name: string(f)})
		case jp.Nth:
			p.steps = append(p.steps, step{index: int(f), nth: true})
		case jp.Wildcard, jp.Descent, *jp.Filter, jp.Slice, jp.Union:
			p.definite = false
		default:
			return nil, &SyntaxError{Path: path, Reason: fmt.Sprintf("unsupported JSONPath element %q", jp.Expr{f}.String())}
		}
	}
	return p, nil
}

// parse hands the path to ojg after quoting dot-notation names that ojg does
// not accept but AWS does, such as "$.request-id" (becomes "$['request-id']").
func parse(path string) (x jp.Expr, err error) {
	defer func() {
		// ojg is not expected to panic, but a definition must never crash
		// the interpreter.
		if r := recover(); r != nil {
			x, err = nil, fmt.Errorf("unparsable JSONPath: %v", r)
		}
	}()
	return jp.ParseString(quoteNames(path))
}

func quoteNames(path string) string {
	var b strings.Builder
	depth, quote := 0, rune(0)
	rs := []rune(path)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote != 0:
			if r == '\\' && i+1 < len(rs) {
				b.WriteRune(r)
				i++
				r = rs[i]
			} else if r == quote {
				quote = 0
			}
		case depth > 0 && (r == '\'' || r == '"'):
			quote = r
		case r == '[':
			depth++
		case r == ']' && depth > 0:
			depth--
		case r == '.' && depth == 0 && i+1 < len(rs) && rs[i+1] != '.':
			j := i + 1
			for j < len(rs) && rs[j] != '.' && rs[j] != '[' && !unicode.IsSpace(rs[j]) {
				j++
			}
			name := string(rs[i+1 : j])
			if needsQuotes(name) {
				if i > 0 && rs[i-1] == '.' { // "..name": keep the descent
					b.WriteRune('.')
				}
				b.WriteString("['" + name + "']")
				i = j - 1
				continue
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

func needsQuotes(name string) bool {
	if name == "" || name == "*" || strings.ContainsAny(name, `'\"]()`) {
		return false
	}
	for _, r := range name {
		if r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

// String returns the path as written in the definition.
func (p *Path) String() string { return p.src }

// IsContext reports whether the path was written "$$...", so the caller
// evaluates it against the context object instead of the state input.
func (p *Path) IsContext() bool { return p.context }

// IsReference reports whether the path selects at most one node, which
// decides whether Get returns a value or a list.
func (p *Path) IsReference() bool { return p.definite }

// Get evaluates the path with Parameters semantics: a Reference Path returns
// its node (a *NotFoundError if absent); any other path returns the list of
// selected nodes, possibly empty, as AWS does. A "$$" path is evaluated
// against data as the context object.
func (p *Path) Get(data any) (any, error) {
	if p.definite {
		return p.GetReference(data)
	}
	out, err := query(p.expr, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.src, err)
	}
	return out, nil
}

// GetReference evaluates a Reference Path and returns its single node, or a
// *NotFoundError when the node does not exist.
func (p *Path) GetReference(data any) (any, error) {
	if !p.definite {
		return nil, &SyntaxError{Path: p.src, Reason: "not a Reference Path"}
	}
	v, ok, plain := p.walk(data)
	if !plain {
		v, ok = p.expr.FirstFound(data)
	}
	if !ok {
		return nil, &NotFoundError{Path: p.src}
	}
	return v, nil
}

// walk follows a definite path through plain JSON values (what the engine
// holds) without ojg, which allocates a stack for every lookup. It reports
// plain=false when it meets any other Go type, for ojg to handle; on plain
// values it selects exactly what ojg's FirstFound selects.
func (p *Path) walk(data any) (v any, found, plain bool) {
	v = data
	for _, s := range p.steps {
		switch t := v.(type) {
		case map[string]any:
			if s.nth {
				return nil, false, true
			}
			if v, found = t[s.name]; !found {
				return nil, false, true
			}
		case []any:
			if !s.nth {
				return nil, false, true
			}
			i := s.index
			if i < 0 {
				i += len(t)
			}
			if i < 0 || i >= len(t) {
				return nil, false, true
			}
			v = t[i]
		case nil, string, bool, json.Number, float64:
			return nil, false, true
		default:
			return nil, false, false
		}
	}
	return v, true, true
}

// Get compiles and evaluates path with Parameters semantics (see Path.Get).
// Prefer Compile once and Path.Get at run time.
func Get(data any, path string) (any, error) {
	p, err := Compile(path)
	if err != nil {
		return nil, err
	}
	return p.Get(data)
}

// GetReference compiles and evaluates a Reference Path (see
// Path.GetReference).
func GetReference(data any, path string) (any, error) {
	p, err := CompileReference(path)
	if err != nil {
		return nil, err
	}
	return p.GetReference(data)
}

// IsNotFound reports whether err says that a path selected nothing.
func IsNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}

// Decode reads one JSON text into the value representation every ASL
// package works on: objects as map[string]any, arrays as []any and numbers
// as json.Number (so no precision is lost), and refuses text after the
// value.
func Decode(text string) (any, error) {
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("text after the JSON value")
	}
	return v, nil
}
