package asl

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// unmarshalNumber decodes JSON keeping numbers as json.Number, the value
// representation used throughout the engine.
func unmarshalNumber(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// decodeValue parses JSON text into a JSON value, numbers as json.Number,
// as a json.Decoder with UseNumber decodes the first value of b. The common
// case goes through parseValue; whatever it does not handle (escapes in
// strings, invalid UTF-8, errors, text after the value), through
// encoding/json.
func decodeValue(b []byte) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	if v, ok := parseJSON(b); ok {
		return v, nil
	}
	var v any
	if err := unmarshalNumber(b, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// parseJSON parses b when it is one JSON value (whitespace around it) whose
// strings have no escapes and are valid UTF-8, giving exactly the value
// encoding/json gives; ok is false for anything else. FuzzParseJSON holds
// it to encoding/json.
//
// The text is copied into one string whose substrings become the value's
// strings and numbers: one allocation instead of one per string.
func parseJSON(b []byte) (any, bool) {
	p := jsonParser{b: string(b)}
	v, ok := p.value(0)
	if !ok {
		return nil, false
	}
	p.space()
	return v, p.i == len(p.b)
}

type jsonParser struct {
	b string
	i int
}

const maxJSONDepth = 10000 // encoding/json's limit; deeper goes to it for its error

func (p *jsonParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (any, bool) {
	p.space()
	if p.i >= len(p.b) || depth > maxJSONDepth {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		p.i++
		m := map[string]any{}
		p.space()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			return m, true
		}
		for {
			p.space()
			k, ok := p.string()
			if !ok {
				return nil, false
			}
			p.space()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return nil, false
			}
			p.i++
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			m[k] = v
			p.space()
			if p.i >= len(p.b) {
				return nil, false
			}
			switch p.b[p.i] {
			case ',':
				p.i++
			case '}':
				p.i++
				return m, true
			default:
				return nil, false
			}
		}
	case c == '[':
		p.i++
		a := []any{}
		p.space()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return a, true
		}
		for {
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			a = append(a, v)
			p.space()
			if p.i >= len(p.b) {
				return nil, false
			}
			switch p.b[p.i] {
			case ',':
				p.i++
			case ']':
				p.i++
				return a, true
			default:
				return nil, false
			}
		}
	case c == '"':
		s, ok := p.string()
		return s, ok
	case c == '-' || ('0' <= c && c <= '9'):
		start := p.i
		for p.i < len(p.b) && strings.IndexByte("+-.0123456789eE", p.b[p.i]) >= 0 {
			p.i++
		}
		n := p.b[start:p.i]
		return json.Number(n), validNumber(n)
	default:
		for _, lit := range [...]struct {
			text string
			v    any
		}{{"true", true}, {"false", false}, {"null", nil}} {
			if strings.HasPrefix(p.b[p.i:], lit.text) {
				p.i += len(lit.text)
				return lit.v, true
			}
		}
		return nil, false
	}
}

// string reads a string without escapes or control characters, valid
// UTF-8: the strings encoding/json keeps byte for byte.
func (p *jsonParser) string() (string, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	start := p.i + 1
	for i := start; i < len(p.b); {
		c := p.b[i]
		switch {
		case c == '"':
			p.i = i + 1
			return p.b[start:i], true
		case c == '\\' || c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRuneInString(p.b[i:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			i += size
		}
	}
	return "", false
}

// normalize turns any Go value into the engine's JSON value representation
// (map[string]any, []any, string, json.Number, bool, nil). []byte and
// json.RawMessage are taken as JSON text.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, bool, json.Number:
		return x, nil
	case json.RawMessage:
		return decodeValue(x)
	case []byte:
		return decodeValue(x)
	case map[string]any:
		if plainJSON(x) {
			return x, nil
		}
	case []any:
		if plainJSON(x) {
			return x, nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return decodeValue(b)
}

func plainJSON(v any) bool {
	switch x := v.(type) {
	case nil, string, bool, json.Number:
		return true
	case map[string]any:
		for _, e := range x {
			if !plainJSON(e) {
				return false
			}
		}
		return true
	case []any:
		for _, e := range x {
			if !plainJSON(e) {
				return false
			}
		}
		return true
	}
	return false
}

func jsonInt(n int) json.Number { return json.Number(strconv.Itoa(n)) }

// smallInts are jsonInt(0..63) as JSON values, boxed once: retry counts
// and Map indexes in context objects.
var smallInts = func() (a [64]any) {
	for i := range a {
		a[i] = jsonInt(i)
	}
	return a
}()

// jsonIntValue is jsonInt(n) as a JSON value, without an allocation for
// small n.
func jsonIntValue(n int) any {
	if n >= 0 && n < len(smallInts) {
		return smallInts[n]
	}
	return jsonInt(n)
}

// marshalJSON is json.Marshal, byte for byte, made fast for the engine's
// plain JSON values (appendJSON); any other value goes to encoding/json.
func marshalJSON(v any) ([]byte, error) {
	keys := make([]string, 0, 16)
	if b, ok := appendJSON(make([]byte, 0, 256), v, &keys); ok {
		return b, nil
	}
	return json.Marshal(v)
}

// appendJSON appends what json.Marshal writes for v (HTML-safe escaping,
// object keys sorted) when v is made only of nil, bool, string, valid
// json.Number, map[string]any and []any; for anything else it reports
// false and the caller falls back to encoding/json (floats, Go structs,
// invalid numbers and their errors). FuzzAppendJSON holds it to
// json.Marshal. keys is scratch space for sorting object keys, shared by
// the levels of the recursion so that its frames stay small.
func appendJSON(dst []byte, v any, keys *[]string) ([]byte, bool) {
	switch t := v.(type) {
	case nil:
		return append(dst, "null"...), true
	case bool:
		if t {
			return append(dst, "true"...), true
		}
		return append(dst, "false"...), true
	case string:
		return appendJSONString(dst, t), true
	case json.Number:
		if t == "" {
			return append(dst, '0'), true
		}
		if !validNumber(string(t)) {
			return dst, false
		}
		return append(dst, t...), true
	case map[string]any:
		if t == nil {
			return append(dst, "null"...), true
		}
		base := len(*keys)
		for k := range t {
			*keys = append(*keys, k)
		}
		slices.Sort((*keys)[base:])
		dst = append(dst, '{')
		for i := base; i < base+len(t); i++ {
			k := (*keys)[i]
			if i > base {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			var ok bool
			if dst, ok = appendJSON(dst, t[k], keys); !ok {
				return dst, false
			}
		}
		*keys = (*keys)[:base]
		return append(dst, '}'), true
	case []any:
		if t == nil {
			return append(dst, "null"...), true
		}
		dst = append(dst, '[')
		for i, e := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			var ok bool
			if dst, ok = appendJSON(dst, e, keys); !ok {
				return dst, false
			}
		}
		return append(dst, ']'), true
	}
	return dst, false
}

const hexDigits = "0123456789abcdef"

// appendJSONString is encoding/json's string encoding with HTML escaping:
// <, > and & as \u003c, \u003e, \u0026; control characters escaped; invalid
// UTF-8 as \ufffd; U+2028 and U+2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// validNumber is the JSON number grammar (RFC 8259), as encoding/json
// checks a json.Number before writing it.
func validNumber(s string) bool {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	switch {
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = s[1:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s = s[2:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			if s == "" {
				return false
			}
		}
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	return s == ""
}
