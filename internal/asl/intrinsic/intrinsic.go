// Package intrinsic parses and evaluates the intrinsic functions of the
// Amazon States Language (JSONPath query language), the "States.Xxx(...)"
// calls allowed as the value of a "key.$" field in Parameters,
// ResultSelector and ItemSelector. Semantics follow the Step Functions
// developer guide ("Intrinsic functions") and, where the guide is silent, the
// executions recorded on AWS in shared/conformance.
//
// A call is parsed once (Parse) into an immutable *Call that many executions
// evaluate concurrently (Call.Eval).
package intrinsic

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/google/uuid"
)

// maxDepth is the nesting AWS allows: "You can nest up to 10 intrinsic
// functions within a field".
const maxDepth = 10

// Error is an intrinsic function that failed at run time (wrong argument
// type, index out of range, invalid Base64, ...). The engine maps it to
// States.IntrinsicFailure, AWS's error name for a failing intrinsic.
type Error struct {
	Func string // e.g. "States.ArrayGetItem"
	Err  error
}

// Error names the function and the cause, for the Cause of the failure.
func (e *Error) Error() string { return e.Func + ": " + e.Err.Error() }

// Unwrap gives access to the cause.
func (e *Error) Unwrap() error { return e.Err }

// SyntaxError is an intrinsic call that cannot be parsed, so the parser
// rejects the definition before any execution.
type SyntaxError struct {
	Expr   string
	Pos    int // byte offset in Expr
	Reason string
}

// Error names the call, the offset and what is wrong, for the definition's author.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid intrinsic function %q at offset %d: %s", e.Expr, e.Pos, e.Reason)
}

// Resolver returns the value of a path argument ("$.a" against the state
// input, "$$.a" against the context object). Errors it returns (such as a
// *jsonpath.NotFoundError) are passed through wrapped, not turned into *Error,
// so the engine reports them as AWS does (States.Runtime).
type Resolver func(path string) (any, error)

// Random is the source of randomness behind States.MathRandom (unseeded) and
// States.UUID, injected so tests are deterministic.
type Random interface {
	// Int64N returns a uniform integer in [0, n); n > 0.
	Int64N(n int64) int64
	// UUID returns a version 4 UUID in canonical text form.
	UUID() string
}

// DefaultRandom is the Random used when Eval is given nil: math/rand/v2 for
// numbers (MathRandom is documented as not cryptographically secure) and
// crypto-random version 4 UUIDs. It is safe for concurrent use.
var DefaultRandom Random = systemRandom{}

type systemRandom struct{}

func (systemRandom) Int64N(n int64) int64 { return rand.Int64N(n) }
func (systemRandom) UUID() string         { return uuid.NewString() }

// Call is a parsed intrinsic function call. It is immutable.
type Call struct {
	name string // "States.Format"
	fn   function
	args []arg
	src  string
}

// arg is one argument: a literal, a path, or a nested call.
type arg struct {
	value any    // literal: string, json.Number, bool or nil
	path  string // "$..." or "$$..."
	call  *Call
	parts []string // string literal split at its unescaped "{}" (States.Format)
}

// IsCall reports whether the value of a "key.$" field is an intrinsic call
// rather than a path: intrinsic calls start with "States.".
func IsCall(s string) bool {
	return strings.HasPrefix(strings.TrimLeft(s, " \t\r\n"), "States.")
}

// String returns the call as written.
func (c *Call) String() string { return c.src }

// Paths returns every path argument of the call and its nested calls, so a
// caller can compile them once (the resolver is then given these strings).
func (c *Call) Paths() []string {
	var out []string
	for _, a := range c.args {
		switch {
		case a.call != nil:
			out = append(out, a.call.Paths()...)
		case a.path != "":
			out = append(out, a.path)
		}
	}
	return out
}

// Eval evaluates the call. Path arguments are looked up with resolve; rnd
// (DefaultRandom if nil) feeds States.MathRandom and States.UUID. A failing
// function returns an *Error; a failing resolve returns its error wrapped.
func (c *Call) Eval(resolve Resolver, rnd Random) (any, error) {
	if rnd == nil {
		rnd = DefaultRandom
	}
	vals := make([]any, len(c.args))
	for i, a := range c.args {
		switch {
		case a.call != nil:
			v, err := a.call.Eval(resolve, rnd)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		case a.path != "":
			if resolve == nil {
				return nil, fmt.Errorf("%s argument %d: no resolver for path %s", c.name, i+1, a.path)
			}
			v, err := resolve(a.path)
			if err != nil {
				return nil, fmt.Errorf("%s argument %d: %w", c.name, i+1, err)
			}
			vals[i] = v
		default:
			vals[i] = a.value
		}
	}
	v, err := c.fn.eval(c, vals, rnd)
	if err != nil {
		return nil, &Error{Func: c.name, Err: err}
	}
	return v, nil
}
