package asl

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// unmarshalNumber decodes JSON keeping numbers as json.Number, the value
// representation used throughout the engine.
func unmarshalNumber(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// decodeValue parses JSON text into a JSON value.
func decodeValue(b []byte) (any, error) {
	var v any
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	if err := unmarshalNumber(b, &v); err != nil {
		return nil, err
	}
	return v, nil
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

// marshalJSON is json.Marshal, byte for byte, made fast for the engine's
// plain JSON values (appendJSON); any other value goes to encoding/json.
func marshalJSON(v any) ([]byte, error) {
	if b, ok := appendJSON(make([]byte, 0, 256), v); ok {
		return b, nil
	}
	return json.Marshal(v)
}

// appendJSON appends what json.Marshal writes for v (HTML-safe escaping,
// object keys sorted) when v is made only of nil, bool, string, valid
// json.Number, map[string]any and []any; for anything else it reports
// false and the caller falls back to encoding/json (floats, Go structs,
// invalid numbers and their errors). FuzzAppendJSON holds it to
// json.Marshal.
func appendJSON(dst []byte, v any) ([]byte, bool) {
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
		var arr [16]string
		keys := arr[:0]
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			var ok bool
			if dst, ok = appendJSON(dst, t[k]); !ok {
				return dst, false
			}
		}
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
			if dst, ok = appendJSON(dst, e); !ok {
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
