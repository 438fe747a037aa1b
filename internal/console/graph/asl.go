package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// machine is one scope of states: the top level of a definition, a Map's
// ItemProcessor (or Iterator) or one branch of a Parallel. Transitions never
// leave their scope, which is why each scope is laid out on its own.
type machine struct {
	startAt string
	states  []*state // in the order of the file
	byName  map[string]*state
	owner   *state // the Map or Parallel holding this scope; nil at the top
}

// state is what the graph needs of one ASL state: its type and where it may
// go next. Everything else in the file (parameters, retries…) is ignored.
type state struct {
	name, typ string
	next      string
	def       string   // Choice Default
	choices   []string // Next of each Choice rule, in order
	catches   []string // Next of each Catcher, in order
	end       bool
	scope     *machine
	children  []*machine // Map: its ItemProcessor; Parallel: its Branches
}

// stateTypes are the ASL state types. An unknown type is an error rather
// than a grey box: the file would not deploy either.
var stateTypes = map[string]bool{
	"Task": true, "Choice": true, "Wait": true, "Pass": true,
	"Succeed": true, "Fail": true, "Map": true, "Parallel": true,
}

type rawMachine struct {
	StartAt *string       `json:"StartAt"`
	States  orderedStates `json:"States"`
}

type rawState struct {
	Type    string `json:"Type"`
	Next    string `json:"Next"`
	End     bool   `json:"End"`
	Default string `json:"Default"`
	Choices []struct {
		Next string `json:"Next"`
	} `json:"Choices"`
	Catch []struct {
		Next string `json:"Next"`
	} `json:"Catch"`
	ItemProcessor *rawMachine  `json:"ItemProcessor"`
	Iterator      *rawMachine  `json:"Iterator"`
	Branches      []rawMachine `json:"Branches"`
}

// namedRaw is one member of a States object, kept undecoded until its
// name is known so that errors can name the state.
type namedRaw struct {
	name string
	raw  json.RawMessage
}

// orderedStates keeps the members of a States object in the order of the
// file: a Go map would lose it, and States() promises a stable order that a
// reader of the file recognises.
type orderedStates []namedRaw

// UnmarshalJSON reads a States object member by member.
func (o *orderedStates) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("States is not an object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name := tok.(string) // object keys are always strings
		if seen[name] {
			return fmt.Errorf("state %q is defined twice", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("state %q: %w", name, err)
		}
		*o = append(*o, namedRaw{name: name, raw: raw})
	}
	_, err = dec.Token() // the closing brace
	return err
}

// parser turns the decoded JSON into machines, checking names across the
// whole definition: ASL state names are unique machine-wide, and the SVG
// relies on it (data-state identifies one element).
type parser struct {
	all   map[string]*state
	order []*state // every state, depth first, in the order of the file
}

// parseDefinition parses and checks a whole definition.
func parseDefinition(definition []byte) (*machine, *parser, error) {
	var rm rawMachine
	if err := json.Unmarshal(definition, &rm); err != nil {
		return nil, nil, fmt.Errorf("definition: %w", err)
	}
	p := &parser{all: map[string]*state{}}
	m, err := p.machine(&rm, "definition", nil)
	if err != nil {
		return nil, nil, err
	}
	return m, p, nil
}

// machine parses one scope; where says which in error messages.
func (p *parser) machine(rm *rawMachine, where string, owner *state) (*machine, error) {
	if rm.StartAt == nil || *rm.StartAt == "" {
		return nil, fmt.Errorf("%s: no StartAt", where)
	}
	if len(rm.States) == 0 {
		return nil, fmt.Errorf("%s: no States", where)
	}
	m := &machine{startAt: *rm.StartAt, byName: map[string]*state{}, owner: owner}
	for _, nr := range rm.States {
		if _, dup := p.all[nr.name]; dup {
			return nil, fmt.Errorf("state %q is defined twice", nr.name)
		}
		var rs rawState
		if err := json.Unmarshal(nr.raw, &rs); err != nil {
			return nil, fmt.Errorf("state %q: %w", nr.name, err)
		}
		if !stateTypes[rs.Type] {
			return nil, fmt.Errorf("state %q: Type %q is not an ASL state type", nr.name, rs.Type)
		}
		s := &state{name: nr.name, typ: rs.Type, next: rs.Next, def: rs.Default, end: rs.End, scope: m}
		for _, c := range rs.Choices {
			s.choices = append(s.choices, c.Next)
		}
		for _, c := range rs.Catch {
			s.catches = append(s.catches, c.Next)
		}
		p.all[s.name] = s
		p.order = append(p.order, s)
		m.states = append(m.states, s)
		m.byName[s.name] = s
		if err := p.children(s, &rs); err != nil {
			return nil, err
		}
	}
	if m.byName[m.startAt] == nil {
		return nil, fmt.Errorf("%s: StartAt %q names no state in its scope", where, m.startAt)
	}
	for _, s := range m.states {
		if err := m.checkTargets(s); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// children parses the nested scopes of a Map or Parallel.
func (p *parser) children(s *state, rs *rawState) error {
	switch s.typ {
	case "Map":
		sub := rs.ItemProcessor
		field := "ItemProcessor"
		if sub == nil {
			sub, field = rs.Iterator, "Iterator"
		}
		if sub == nil {
			return fmt.Errorf("state %q: Map has no ItemProcessor", s.name)
		}
		m, err := p.machine(sub, fmt.Sprintf("state %q: %s", s.name, field), s)
		if err != nil {
			return err
		}
		s.children = []*machine{m}
	case "Parallel":
		if len(rs.Branches) == 0 {
			return fmt.Errorf("state %q: Parallel has no Branches", s.name)
		}
		for i := range rs.Branches {
			m, err := p.machine(&rs.Branches[i], fmt.Sprintf("state %q: Branches[%d]", s.name, i), s)
			if err != nil {
				return err
			}
			s.children = append(s.children, m)
		}
	case "Choice":
		if len(s.choices) == 0 {
			return fmt.Errorf("state %q: Choice has no Choices", s.name)
		}
	}
	return nil
}

// checkTargets verifies that every transition of s names a state of its own
// scope; a name defined in another scope is as wrong as an unknown one.
func (m *machine) checkTargets(s *state) error {
	check := func(field, target string) error {
		if m.byName[target] == nil {
			return fmt.Errorf("state %q: %s %q names no state in its scope", s.name, field, target)
		}
		return nil
	}
	if s.next != "" {
		if err := check("Next", s.next); err != nil {
			return err
		}
	}
	if s.def != "" {
		if err := check("Default", s.def); err != nil {
			return err
		}
	}
	for i, t := range s.choices {
		if err := check(fmt.Sprintf("Choices[%d].Next", i), t); err != nil {
			return err
		}
	}
	for i, t := range s.catches {
		if err := check(fmt.Sprintf("Catch[%d].Next", i), t); err != nil {
			return err
		}
	}
	return nil
}
