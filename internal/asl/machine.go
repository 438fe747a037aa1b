package asl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync/atomic"
)

// Machine is a parsed and validated state machine definition. It is
// immutable: any number of executions, on any number of goroutines, share one
// Machine (the way text/template separates parse from exec).
type Machine struct {
	comment        string
	timeoutSeconds int
	root           *branch
	definition     []byte
	states         int // in every branch: sizes a new execution's history
	// historyLen is the length of the last finished execution's history,
	// a sizing hint for the next one's (executions of one machine mostly
	// record about as many events). It changes nothing a Machine means.
	historyLen atomic.Int32
}

// maxHistoryHint bounds the capacity a new history starts with, so one
// long execution does not make every later one allocate as much.
const maxHistoryHint = 1024

// historyCap is the capacity a new execution's history starts with: the
// last finished execution's length and a little room, or, before any has
// finished, about one entry and one exit per state and four more per task.
func (m *Machine) historyCap() int {
	if n := int(m.historyLen.Load()); n > 0 {
		return min(n+n/8+2, maxHistoryHint)
	}
	return 4*m.states + 4
}

// branch is a set of states with a StartAt: the top-level machine, a
// Parallel branch or a Map's item processor.
type branch struct {
	startAt string
	states  map[string]state
}

// state is one parsed state of any type; the per-type structs live in the
// state_*.go files.
type state interface {
	common() *stateCommon
}

// stateCommon holds the fields shared by the state types (spec "Common State
// Fields" and "Input and Output Processing").
type stateCommon struct {
	name       string
	nameValue  any // name as a JSON value, boxed once for $$.State.Name
	typ        string
	next       string
	end        bool
	inputPath  optPath
	outputPath optPath
	resultPath optPath
	parameters *payloadTemplate
	selector   *payloadTemplate // ResultSelector
	retry      []retrier
	catch      []catcher
	// usesContext says that some path or template of the state reads the
	// context object ("$$..."); states that do not run without building it.
	usesContext bool
}

func (c *stateCommon) common() *stateCommon { return c }

// optPath is a path field that may be absent (default "$") or JSON null.
type optPath struct {
	null bool
	p    *compiledPath
}

var dollar = optPath{p: mustCompile("$")}

func mustCompile(p string) *compiledPath {
	c, err := compilePath(p)
	if err != nil {
		panic(err)
	}
	return c
}

// Parse reads and validates a definition. Every problem found is reported in
// one *ValidationError, each naming the state and field.
func Parse(definition []byte) (*Machine, error) {
	dec := json.NewDecoder(bytes.NewReader(definition))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, &ValidationError{Problems: []string{"definition is not valid JSON: " + err.Error()}}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &ValidationError{Problems: []string{"definition has data after the top-level JSON object"}}
	}
	top, ok := raw.(map[string]any)
	if !ok {
		return nil, &ValidationError{Problems: []string{"definition must be a JSON object"}}
	}
	p := &parser{}
	o := p.object("", top)
	m := &Machine{definition: append([]byte(nil), definition...)}
	m.comment = o.str("Comment")
	o.str("Version")
	if o.has("TimeoutSeconds") {
		m.timeoutSeconds = o.positiveInt("TimeoutSeconds")
	}
	p.queryLanguage(o)
	m.root = p.branch("", o)
	m.states = p.states
	o.done()
	if len(p.problems) > 0 {
		return nil, &ValidationError{Problems: p.problems}
	}
	return m, nil
}

// Definition is the text the machine was parsed from.
func (m *Machine) Definition() []byte { return append([]byte(nil), m.definition...) }

// StateNames lists the top-level states, sorted: what a console shows.
func (m *Machine) StateNames() []string {
	names := make([]string, 0, len(m.root.states))
	for n := range m.root.states {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// parser collects problems while building the typed definition.
type parser struct {
	problems []string
	states   int
	// context says that a path or template of the state being parsed reads
	// the context object; it becomes stateCommon.usesContext.
	context bool
}

func (p *parser) errorf(where, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg = where + ": " + msg
	}
	p.problems = append(p.problems, msg)
}

// obj reads the fields of one JSON object and remembers which were read, so
// that done can report the unknown ones.
type obj struct {
	p     *parser
	where string
	m     map[string]any
	seen  map[string]bool
}

func (p *parser) object(where string, m map[string]any) *obj {
	return &obj{p: p, where: where, m: m, seen: map[string]bool{}}
}

func (o *obj) errorf(field, format string, args ...any) {
	w := o.where
	if field != "" {
		if w != "" {
			w += ", field " + field
		} else {
			w = "field " + field
		}
	}
	o.p.errorf(w, format, args...)
}

func (o *obj) has(k string) bool {
	_, ok := o.m[k]
	return ok
}

func (o *obj) get(k string) (any, bool) {
	o.seen[k] = true
	v, ok := o.m[k]
	return v, ok
}

func (o *obj) str(k string) string {
	v, ok := o.get(k)
	if !ok {
		return ""
	}
	s, isStr := v.(string)
	if !isStr {
		o.errorf(k, "must be a string")
	}
	return s
}

func (o *obj) requiredStr(k string) string {
	if !o.has(k) {
		o.errorf(k, "is required")
		o.seen[k] = true
		return ""
	}
	return o.str(k)
}

func (o *obj) boolean(k string) bool {
	v, ok := o.get(k)
	if !ok {
		return false
	}
	b, isBool := v.(bool)
	if !isBool {
		o.errorf(k, "must be a boolean")
	}
	return b
}

func (o *obj) number(k string) (float64, bool) {
	v, ok := o.get(k)
	if !ok {
		return 0, false
	}
	n, isNum := v.(json.Number)
	if !isNum {
		o.errorf(k, "must be a number")
		return 0, false
	}
	f, err := n.Float64()
	if err != nil {
		o.errorf(k, "must be a number")
		return 0, false
	}
	return f, true
}

func (o *obj) positiveInt(k string) int {
	f, ok := o.number(k)
	if !ok {
		return 0
	}
	if f != float64(int64(f)) || f < 1 || f > 99999999 {
		o.errorf(k, "must be a positive integer, got %v", o.m[k])
		return 0
	}
	return int(f)
}

// path reads a Path field (InputPath, OutputPath, ...): absent means "$",
// null is allowed where the spec allows it.
func (o *obj) path(k string, allowNull bool, reference bool) optPath {
	v, ok := o.get(k)
	if !ok {
		return dollar
	}
	if v == nil {
		if !allowNull {
			o.errorf(k, "must be a path, not null")
		}
		return optPath{null: true}
	}
	s, isStr := v.(string)
	if !isStr {
		o.errorf(k, "must be a path string")
		return dollar
	}
	var c *compiledPath
	var err error
	if reference {
		c, err = compileReference(s)
	} else {
		c, err = compilePath(s)
	}
	if err != nil {
		o.errorf(k, "%v", err)
		return dollar
	}
	if c.IsContext() {
		o.p.context = true
	}
	return optPath{p: c}
}

// optionalPath reads a path field that may be absent (nil).
func (o *obj) optionalPath(k string, reference bool) *compiledPath {
	if !o.has(k) {
		return nil
	}
	return o.path(k, false, reference).p
}

func (o *obj) template(k string) *payloadTemplate {
	v, ok := o.get(k)
	if !ok {
		return nil
	}
	t, err := compileTemplate(v)
	if err != nil {
		o.errorf(k, "%v", err)
		return nil
	}
	if t.t.UsesContext() {
		o.p.context = true
	}
	return t
}

func (o *obj) objectField(k string) (map[string]any, bool) {
	v, ok := o.get(k)
	if !ok {
		return nil, false
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		o.errorf(k, "must be a JSON object")
		return nil, false
	}
	return m, true
}

// done reports every field that no reader asked for.
func (o *obj) done() {
	var unknown []string
	for k := range o.m {
		if !o.seen[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		o.errorf(k, "unknown field")
	}
}

// queryLanguage accepts JSONPath (the default) and refuses JSONata.
func (p *parser) queryLanguage(o *obj) {
	if !o.has("QueryLanguage") {
		return
	}
	switch ql := o.str("QueryLanguage"); ql {
	case "JSONPath":
	case "JSONata":
		o.errorf("QueryLanguage", "JSONata is not supported yet (use JSONPath)")
	default:
		o.errorf("QueryLanguage", "must be JSONPath or JSONata, got %q", ql)
	}
}

// branch parses StartAt and States of a machine, Parallel branch or Map
// processor, and checks the transitions within it.
func (p *parser) branch(where string, o *obj) *branch {
	b := &branch{states: map[string]state{}}
	b.startAt = o.requiredStr("StartAt")
	statesRaw, ok := o.objectField("States")
	if !ok {
		if !o.has("States") {
			o.errorf("States", "is required")
		}
		return b
	}
	if len(statesRaw) == 0 {
		o.errorf("States", "must contain at least one state")
	}
	names := make([]string, 0, len(statesRaw))
	for n := range statesRaw {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		sw := fmt.Sprintf("state %q", name)
		if where != "" {
			sw = where + " " + sw
		}
		if len(name) > 80 {
			p.errorf(sw, "state name is longer than 80 characters")
		}
		sm, isObj := statesRaw[name].(map[string]any)
		if !isObj {
			p.errorf(sw, "must be a JSON object")
			continue
		}
		if s := p.state(sw, name, sm); s != nil {
			b.states[name] = s
		}
	}
	if b.startAt != "" && len(statesRaw) > 0 {
		if _, ok := statesRaw[b.startAt]; !ok {
			o.errorf("StartAt", "names state %q, which does not exist", b.startAt)
		}
	}
	// Every Next must name a state of this branch (spec "Transitions"), and
	// every state must be reachable from StartAt.
	reached := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		if reached[n] {
			return
		}
		reached[n] = true
		s, ok := b.states[n]
		if !ok {
			return
		}
		for _, t := range transitions(s) {
			walk(t)
		}
	}
	for _, name := range names {
		s, ok := b.states[name]
		if !ok {
			continue
		}
		sw := fmt.Sprintf("state %q", name)
		if where != "" {
			sw = where + " " + sw
		}
		for _, t := range transitions(s) {
			if _, ok := statesRaw[t]; !ok {
				p.errorf(sw, "transition to state %q, which does not exist", t)
			}
		}
	}
	if _, ok := b.states[b.startAt]; ok {
		walk(b.startAt)
		for _, name := range names {
			if _, parsed := b.states[name]; parsed && !reached[name] {
				sw := fmt.Sprintf("state %q", name)
				if where != "" {
					sw = where + " " + sw
				}
				p.errorf(sw, "is not reachable from StartAt %q", b.startAt)
			}
		}
	}
	return b
}

// transitions lists every state a state can move to.
func transitions(s state) []string {
	var out []string
	c := s.common()
	if c.next != "" {
		out = append(out, c.next)
	}
	for _, ct := range c.catch {
		out = append(out, ct.next)
	}
	if ch, ok := s.(*choiceState); ok {
		for _, r := range ch.choices {
			out = append(out, r.next)
		}
		if ch.defaultNext != "" {
			out = append(out, ch.defaultNext)
		}
	}
	return out
}

// state parses one state, dispatching on Type.
func (p *parser) state(where, name string, m map[string]any) state {
	o := p.object(where, m)
	typ := o.requiredStr("Type")
	o.str("Comment")
	p.queryLanguage(o)
	if o.has("Assign") {
		o.get("Assign")
		o.errorf("Assign", "variables are not supported yet")
	}
	if o.has("Arguments") || o.has("Output") {
		o.get("Arguments")
		o.get("Output")
		o.errorf("Arguments/Output", "are JSONata fields; JSONata is not supported yet")
	}
	c := stateCommon{name: name, nameValue: name, typ: typ, inputPath: dollar, outputPath: dollar, resultPath: dollar}
	outer := p.context // a Map or Parallel parsing its branches' states
	p.context = false
	defer func() { p.context = outer }()
	var s state
	switch typ {
	case "Pass":
		s = p.passState(o, c)
	case "Task":
		s = p.taskState(o, c)
	case "Choice":
		s = p.choiceState(o, c)
	case "Wait":
		s = p.waitState(o, c)
	case "Succeed":
		s = p.succeedState(o, c)
	case "Fail":
		s = p.failState(o, c)
	case "Parallel":
		s = p.parallelState(o, c)
	case "Map":
		s = p.mapState(o, c)
	case "":
		return nil
	default:
		o.errorf("Type", "unknown state type %q", typ)
		return nil
	}
	o.done()
	s.common().usesContext = p.context
	p.states++
	return s
}

// io reads InputPath and OutputPath (spec "Input and Output Processing").
func (o *obj) io(c *stateCommon) {
	c.inputPath = o.path("InputPath", true, false)
	c.outputPath = o.path("OutputPath", true, false)
}

// transition reads Next/End for the state types that have them (spec
// "Transitions": exactly one of Next or End).
func (o *obj) transition(c *stateCommon) {
	c.next = o.str("Next")
	c.end = o.boolean("End")
	switch {
	case o.has("Next") && o.has("End"):
		o.errorf("End", "End and Next are mutually exclusive")
	case !o.has("Next") && !c.end:
		if o.has("End") {
			o.errorf("End", "must be true when there is no Next")
		} else {
			o.errorf("Next", "one of Next or End is required")
		}
	}
	if o.has("Next") && c.next == "" {
		o.errorf("Next", "must not be empty")
	}
}

// result reads Parameters, ResultSelector and ResultPath.
func (o *obj) result(c *stateCommon, selector bool) {
	c.parameters = o.template("Parameters")
	if selector {
		c.selector = o.template("ResultSelector")
	}
	c.resultPath = o.path("ResultPath", true, true)
}
