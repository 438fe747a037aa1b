package intrinsic

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/lethe-erasure/lethe/internal/asl/jsonpath"
)

// Parse parses an intrinsic function call such as
// "States.Format('Hello, {}', $.name)". Arguments are string literals in
// single quotes (escapes \' \{ \} \\ as the developer guide's "Reserved
// characters" section lists), numbers, true, false, null, paths ("$..." or
// "$$...") and nested calls, up to 10 deep. Arity, paths and literal
// States.Format templates are checked here, so a bad definition fails at
// parse time.
func Parse(expr string) (*Call, error) {
	p := &parser{src: expr}
	p.space()
	c, err := p.call()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.src) {
		return nil, p.errorf("unexpected %q after the call", p.src[p.pos:])
	}
	return c, nil
}

type parser struct {
	src   string
	pos   int
	depth int
}

func (p *parser) errorf(format string, a ...any) error {
	return &SyntaxError{Expr: p.src, Pos: p.pos, Reason: fmt.Sprintf(format, a...)}
}

func (p *parser) space() {
	for p.pos < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *parser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *parser) call() (*Call, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errorf("more than %d nested intrinsic functions", maxDepth)
	}
	start := p.pos
	if !strings.HasPrefix(p.src[p.pos:], "States.") {
		return nil, p.errorf("expected States.<Function>")
	}
	p.pos += len("States.")
	nameStart := p.pos
	for p.pos < len(p.src) && isIdent(p.src[p.pos]) {
		p.pos++
	}
	name := p.src[start:p.pos]
	fn, ok := functions[p.src[nameStart:p.pos]]
	if !ok {
		p.pos = start
		return nil, p.errorf("unknown intrinsic function %q", name)
	}
	p.space()
	if p.peek() != '(' {
		return nil, p.errorf("expected '(' after %s", name)
	}
	p.pos++
	var args []arg
	p.space()
	if p.peek() == ')' {
		p.pos++
	} else {
		for {
			a, err := p.arg()
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			p.space()
			switch p.peek() {
			case ',':
				p.pos++
				p.space()
				continue
			case ')':
				p.pos++
			default:
				return nil, p.errorf("expected ',' or ')' in the arguments of %s", name)
			}
			break
		}
	}
	c := &Call{name: name, fn: fn, args: args, src: p.src[start:p.pos]}
	if len(args) < fn.minArgs || (fn.maxArgs >= 0 && len(args) > fn.maxArgs) {
		return nil, &SyntaxError{Expr: p.src, Pos: start, Reason: fmt.Sprintf("%s takes %s, got %d", name, fn.arity(), len(args))}
	}
	if fn.check != nil {
		if err := fn.check(c); err != nil {
			return nil, &SyntaxError{Expr: p.src, Pos: start, Reason: fmt.Sprintf("%s: %v", name, err)}
		}
	}
	return c, nil
}

func (p *parser) arg() (arg, error) {
	switch ch := p.peek(); {
	case ch == '\'':
		return p.str()
	case ch == '$':
		return p.path()
	case ch == 'S':
		c, err := p.call()
		return arg{call: c}, err
	case ch == '-' || ('0' <= ch && ch <= '9'):
		return p.number()
	case 'a' <= ch && ch <= 'z':
		start := p.pos
		for p.pos < len(p.src) && isIdent(p.src[p.pos]) {
			p.pos++
		}
		switch word := p.src[start:p.pos]; word {
		case "true":
			return arg{value: true}, nil
		case "false":
			return arg{value: false}, nil
		case "null":
			return arg{value: nil}, nil
		default:
			p.pos = start
			return arg{}, p.errorf("unexpected %q: expected a string, number, true, false, null, path or call", word)
		}
	case ch == 0:
		return arg{}, p.errorf("unexpected end: unclosed argument list")
	default:
		return arg{}, p.errorf("unexpected %q: expected a string, number, true, false, null, path or call", ch)
	}
}

// str reads a single-quoted literal. Besides its value it keeps the text
// split at each unescaped "{}", so that States.Format can tell a placeholder
// from an escaped brace.
func (p *parser) str() (arg, error) {
	start := p.pos
	p.pos++ // opening quote
	var value, part strings.Builder
	var parts []string
	for p.pos < len(p.src) {
		ch := p.src[p.pos]
		switch {
		case ch == '\'':
			p.pos++
			return arg{value: value.String(), parts: append(parts, part.String())}, nil
		case ch == '\\':
			if p.pos+1 >= len(p.src) {
				return arg{}, p.errorf("open escape '\\' at the end of the string")
			}
			esc := p.src[p.pos+1]
			if strings.IndexByte(`'{}\`, esc) < 0 {
				return arg{}, p.errorf(`unknown escape "\%c": only \' \{ \} and \\ are allowed`, esc)
			}
			value.WriteByte(esc)
			part.WriteByte(esc)
			p.pos += 2
		case ch == '{' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '}':
			value.WriteString("{}")
			parts = append(parts, part.String())
			part.Reset()
			p.pos += 2
		default:
			value.WriteByte(ch)
			part.WriteByte(ch)
			p.pos++
		}
	}
	p.pos = start
	return arg{}, p.errorf("unterminated string literal")
}

// path reads a path up to the ',' ')' or space that ends it outside
// brackets, and validates it.
func (p *parser) path() (arg, error) {
	start := p.pos
	depth, quote := 0, byte(0)
	for ; p.pos < len(p.src); p.pos++ {
		ch := p.src[p.pos]
		if quote != 0 {
			if ch == '\\' {
				p.pos++
			} else if ch == quote {
				quote = 0
			}
			continue
		}
		if depth > 0 && (ch == '\'' || ch == '"') {
			quote = ch
			continue
		}
		if ch == '[' {
			depth++
		} else if ch == ']' && depth > 0 {
			depth--
		} else if depth == 0 && strings.IndexByte(", )\t\r\n", ch) >= 0 {
			break
		}
	}
	if p.pos > len(p.src) {
		p.pos = len(p.src)
	}
	path := p.src[start:p.pos]
	if err := jsonpath.ValidatePath(path); err != nil {
		p.pos = start
		return arg{}, p.errorf("%v", err)
	}
	return arg{path: path}, nil
}

func (p *parser) number() (arg, error) {
	start := p.pos
	for p.pos < len(p.src) && strings.IndexByte("-+.eE0123456789", p.src[p.pos]) >= 0 {
		p.pos++
	}
	text := p.src[start:p.pos]
	if !json.Valid([]byte(text)) {
		p.pos = start
		return arg{}, p.errorf("invalid number %q", text)
	}
	return arg{value: json.Number(text)}, nil
}

func isIdent(ch byte) bool {
	return ch == '_' || ('0' <= ch && ch <= '9') || ('a' <= ch && ch <= 'z') || ('A' <= ch && ch <= 'Z')
}
