package asl

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// choiceState picks the Next state from the first rule that matches (spec
// "Choice State", "Choice Rules").
type choiceState struct {
	stateCommon
	choices     []*choiceRule
	defaultNext string
}

// choiceRule is a Boolean expression: a comparison of the Variable with a
// literal or with another path, or And/Or/Not of nested rules. Only
// top-level rules carry Next.
type choiceRule struct {
	variable *compiledPath
	op       string // comparator, without the "Path" suffix
	operand  any    // literal value, or nil when operandPath is set
	path     *compiledPath
	and, or  []*choiceRule
	not      *choiceRule
	next     string
}

// comparators maps each comparator to the kind of literal it takes.
var comparators = map[string]string{
	"StringEquals": "string", "StringLessThan": "string", "StringGreaterThan": "string",
	"StringLessThanEquals": "string", "StringGreaterThanEquals": "string", "StringMatches": "string",
	"NumericEquals": "number", "NumericLessThan": "number", "NumericGreaterThan": "number",
	"NumericLessThanEquals": "number", "NumericGreaterThanEquals": "number",
	"BooleanEquals":   "bool",
	"TimestampEquals": "timestamp", "TimestampLessThan": "timestamp", "TimestampGreaterThan": "timestamp",
	"TimestampLessThanEquals": "timestamp", "TimestampGreaterThanEquals": "timestamp",
	"IsNull": "bool", "IsPresent": "bool", "IsNumeric": "bool", "IsString": "bool",
	"IsBoolean": "bool", "IsTimestamp": "bool",
}

func (p *parser) choiceState(o *obj, c stateCommon) *choiceState {
	s := &choiceState{stateCommon: c}
	o.io(&s.stateCommon)
	s.defaultNext = o.str("Default")
	v, ok := o.get("Choices")
	arr, isArr := v.([]any)
	switch {
	case !ok:
		o.errorf("Choices", "is required")
	case !isArr || len(arr) == 0:
		o.errorf("Choices", "must be a non-empty array of Choice Rules")
	}
	for i, e := range arr {
		where := fmt.Sprintf("%s, Choices[%d]", o.where, i)
		if r := p.choiceRule(where, e, true); r != nil {
			s.choices = append(s.choices, r)
		}
	}
	return s
}

func (p *parser) choiceRule(where string, v any, top bool) *choiceRule {
	m, ok := v.(map[string]any)
	if !ok {
		p.errorf(where, "a Choice Rule must be a JSON object")
		return nil
	}
	o := p.object(where, m)
	o.str("Comment")
	r := &choiceRule{}
	if top {
		r.next = o.requiredStr("Next")
	} else if o.has("Next") {
		o.get("Next")
		o.errorf("Next", "only top-level Choice Rules may have Next")
	}
	var ops []string
	for k := range m {
		switch k {
		case "And", "Or", "Not":
			ops = append(ops, k)
		default:
			if _, ok := comparators[strings.TrimSuffix(k, "Path")]; ok {
				ops = append(ops, k)
			}
		}
	}
	if len(ops) != 1 {
		if len(ops) == 0 {
			o.errorf("", "a Choice Rule needs exactly one comparator, And, Or or Not")
		} else {
			o.errorf("", "a Choice Rule has more than one comparator: %s", strings.Join(ops, ", "))
		}
		for _, k := range ops {
			o.get(k)
		}
		o.get("Variable")
		o.done()
		return nil
	}
	op := ops[0]
	val, _ := o.get(op)
	switch op {
	case "And", "Or":
		arr, isArr := val.([]any)
		if !isArr || len(arr) == 0 {
			o.errorf(op, "must be a non-empty array of Choice Rules")
		}
		for i, e := range arr {
			if sub := p.choiceRule(fmt.Sprintf("%s, %s[%d]", where, op, i), e, false); sub != nil {
				if op == "And" {
					r.and = append(r.and, sub)
				} else {
					r.or = append(r.or, sub)
				}
			}
		}
		if o.has("Variable") {
			o.get("Variable")
			o.errorf("Variable", "is not allowed with %s", op)
		}
	case "Not":
		r.not = p.choiceRule(where+", Not", val, false)
		if o.has("Variable") {
			o.get("Variable")
			o.errorf("Variable", "is not allowed with Not")
		}
	default:
		if !o.has("Variable") {
			o.errorf("Variable", "is required with %s", op)
		} else {
			r.variable = o.path("Variable", false, true).p
		}
		base := strings.TrimSuffix(op, "Path")
		if _, isComparator := comparators[op]; isComparator {
			base = op
		}
		r.op = base
		if base != op { // ...Path variant
			if base == "StringMatches" || strings.HasPrefix(base, "Is") {
				o.errorf(op, "unknown comparator")
			}
			r.path = o.path(op, false, true).p
			break
		}
		r.operand = val
		switch kind := comparators[base]; kind {
		case "string":
			if _, ok := val.(string); !ok {
				o.errorf(op, "must be a string")
			}
		case "number":
			if _, ok := val.(json.Number); !ok {
				o.errorf(op, "must be a number")
			}
		case "bool":
			if _, ok := val.(bool); !ok {
				o.errorf(op, "must be a boolean")
			}
		case "timestamp":
			s, ok := val.(string)
			if _, err := parseTimestamp(s); !ok || err != nil {
				o.errorf(op, "must be an RFC 3339 timestamp, got %s", jsonString(val))
			}
		}
	}
	o.done()
	return r
}

func (s *choiceState) exec(x *Execution, th *thread) (any, string, *Failure) {
	ctx := x.contextObject(th, &s.stateCommon)
	in, f := applyInputPath(s.inputPath, th.Input, ctx)
	if f != nil {
		return nil, "", f
	}
	next := ""
	for _, r := range s.choices {
		ok, f := r.eval(in, ctx)
		if f != nil {
			return nil, "", f
		}
		if ok {
			next = r.next
			break
		}
	}
	if next == "" {
		next = s.defaultNext
	}
	if next == "" {
		return nil, "", fail(ErrNoChoiceMatched, "No Matches!")
	}
	out, f := applyOutputPath(s.outputPath, in, ctx)
	return out, next, f
}

// eval decides a rule. A comparison whose Variable is absent is a run-time
// error, except for IsPresent; a value of the wrong type does not match.
func (r *choiceRule) eval(in, ctx any) (bool, *Failure) {
	switch {
	case r.and != nil:
		for _, sub := range r.and {
			ok, f := sub.eval(in, ctx)
			if f != nil || !ok {
				return false, f
			}
		}
		return true, nil
	case r.or != nil:
		for _, sub := range r.or {
			ok, f := sub.eval(in, ctx)
			if f != nil || ok {
				return ok, f
			}
		}
		return false, nil
	case r.not != nil:
		ok, f := r.not.eval(in, ctx)
		return !ok, f
	}
	v, f := pathValue(r.variable, "Variable", in, ctx)
	if r.op == "IsPresent" {
		return (f == nil) == r.operand.(bool), nil
	}
	if f != nil {
		return false, fail(ErrRuntime, "Invalid path '%s': The choice state's condition path references an invalid value.", r.variable.String())
	}
	operand := r.operand
	if r.path != nil {
		operand, f = pathValue(r.path, r.op+"Path", in, ctx)
		if f != nil {
			return false, f
		}
	}
	return compare(r.op, v, operand), nil
}

func compare(op string, v, operand any) bool {
	switch op {
	case "IsNull":
		return (v == nil) == operand.(bool)
	case "IsNumeric":
		_, ok := toFloat(v)
		return ok == operand.(bool)
	case "IsString":
		_, ok := v.(string)
		return ok == operand.(bool)
	case "IsBoolean":
		_, ok := v.(bool)
		return ok == operand.(bool)
	case "IsTimestamp":
		s, ok := v.(string)
		if ok {
			_, err := parseTimestamp(s)
			ok = err == nil
		}
		return ok == operand.(bool)
	case "BooleanEquals":
		a, ok1 := v.(bool)
		b, ok2 := operand.(bool)
		return ok1 && ok2 && a == b
	case "StringMatches":
		a, ok1 := v.(string)
		b, ok2 := operand.(string)
		return ok1 && ok2 && stringMatches(a, b)
	}
	switch comparators[op] {
	case "string":
		a, ok1 := v.(string)
		b, ok2 := operand.(string)
		return ok1 && ok2 && ordered(op, strings.Compare(a, b))
	case "number":
		a, ok1 := toFloat(v)
		b, ok2 := toFloat(operand)
		if !ok1 || !ok2 {
			return false
		}
		c := 0
		if a < b {
			c = -1
		} else if a > b {
			c = 1
		}
		return ordered(op, c)
	case "timestamp":
		as, ok1 := v.(string)
		bs, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return false
		}
		a, err1 := parseTimestamp(as)
		b, err2 := parseTimestamp(bs)
		if err1 != nil || err2 != nil {
			return false
		}
		return ordered(op, a.Compare(b))
	}
	return false
}

func ordered(op string, c int) bool {
	switch {
	case strings.HasSuffix(op, "LessThanEquals"):
		return c <= 0
	case strings.HasSuffix(op, "GreaterThanEquals"):
		return c >= 0
	case strings.HasSuffix(op, "LessThan"):
		return c < 0
	case strings.HasSuffix(op, "GreaterThan"):
		return c > 0
	default:
		return c == 0
	}
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil && !math.IsInf(f, 0)
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// parseTimestamp accepts the spec's RFC 3339 profile: an uppercase T between
// date and time, and Z or a numeric offset.
func parseTimestamp(s string) (time.Time, error) {
	if strings.ContainsAny(s, "tz") {
		return time.Time{}, fmt.Errorf("timestamp %q must use uppercase T and Z", s)
	}
	return time.Parse(time.RFC3339Nano, s)
}

// stringMatches implements StringMatches: "*" matches any run of
// characters, "\*" a literal star and "\\" a literal backslash.
func stringMatches(s, pattern string) bool {
	type tok struct {
		star bool
		lit  rune
	}
	var toks []tok
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		switch {
		case rs[i] == '\\' && i+1 < len(rs):
			i++
			toks = append(toks, tok{lit: rs[i]})
		case rs[i] == '*':
			toks = append(toks, tok{star: true})
		default:
			toks = append(toks, tok{lit: rs[i]})
		}
	}
	in := []rune(s)
	// Classic wildcard matching with backtracking over the last star.
	ti, si, starT, starS := 0, 0, -1, 0
	for si < len(in) {
		switch {
		case ti < len(toks) && !toks[ti].star && toks[ti].lit == in[si]:
			ti++
			si++
		case ti < len(toks) && toks[ti].star:
			starT, starS = ti, si
			ti++
		case starT >= 0:
			starS++
			si = starS
			ti = starT + 1
		default:
			return false
		}
	}
	for ti < len(toks) && toks[ti].star {
		ti++
	}
	return ti == len(toks)
}
