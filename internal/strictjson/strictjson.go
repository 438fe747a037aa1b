// Package strictjson finds what encoding/json accepts from outside input
// but silently changes: an unpaired UTF-16 surrogate escape ("\ud800"
// alone) decodes to U+FFFD, so that a subject id sent as "a\ud800b" would
// be stored, and sent to subsystems, as another id. Lethe refuses such
// input wherever it decodes JSON from outside: the API, webhooks, the
// edge's API and the configuration.
package strictjson

import (
	"strconv"
	"strings"
)

// frame is one open object or array while scanning.
type frame struct {
	object    bool
	key       string
	index     int
	expectKey bool
}

// LoneSurrogate reports the first string of data, key or value, that holds
// an unpaired surrogate escape, and the path of the field it is in
// ("subjectId", "customer.email", "subsystems[2].name"; a key's own path
// when the key holds it). data is expected to be JSON; scanning stops
// without a finding where it is not.
func LoneSurrogate(data []byte) (path string, found bool) {
	var stack []frame
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '{':
			stack = append(stack, frame{object: true, expectKey: true})
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			if len(stack) == 0 {
				return "", false
			}
			stack = stack[:len(stack)-1]
		case ',':
			if n := len(stack); n > 0 {
				if stack[n-1].object {
					stack[n-1].expectKey = true
				} else {
					stack[n-1].index++
				}
			}
		case ':':
			if n := len(stack); n > 0 {
				stack[n-1].expectKey = false
			}
		case '"':
			end, lone, ok := scanString(data, i)
			if !ok {
				return "", false
			}
			isKey := len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].expectKey
			if isKey {
				stack[len(stack)-1].key = keyText(data[i : end+1])
			}
			if lone {
				return pathOf(stack), true
			}
			i = end
		}
	}
	return "", false
}

// scanString reads the string literal opening at data[start] and returns
// the index of its closing quote and whether it holds a lone surrogate.
func scanString(data []byte, start int) (end int, lone, ok bool) {
	pendingHigh := false
	for i := start + 1; i < len(data); i++ {
		switch data[i] {
		case '"':
			return i, lone || pendingHigh, true
		case '\\':
			if i+1 >= len(data) {
				return 0, false, false
			}
			if data[i+1] != 'u' {
				if pendingHigh {
					lone = true
				}
				pendingHigh = false
				i++
				continue
			}
			if i+5 >= len(data) {
				return 0, false, false
			}
			r, err := strconv.ParseUint(string(data[i+2:i+6]), 16, 16)
			if err != nil {
				return 0, false, false
			}
			switch {
			case r >= 0xD800 && r <= 0xDBFF:
				if pendingHigh {
					lone = true
				}
				pendingHigh = true
			case r >= 0xDC00 && r <= 0xDFFF:
				if !pendingHigh {
					lone = true
				}
				pendingHigh = false
			default:
				if pendingHigh {
					lone = true
				}
				pendingHigh = false
			}
			i += 5
		default:
			if pendingHigh {
				lone = true
			}
			pendingHigh = false
		}
	}
	return 0, false, false
}

// keyText is a key literal's text for a path: unescaped where that is
// simple, as written otherwise.
func keyText(lit []byte) string {
	s := string(lit[1 : len(lit)-1])
	if strings.Contains(s, `\`) {
		if u, err := strconv.Unquote(`"` + s + `"`); err == nil {
			return u
		}
	}
	return s
}

// Join is the path of path within the value of field key: "subjectId",
// "subsystems[1]", "customer.email".
func Join(key, path string) string {
	switch {
	case path == "":
		return key
	case strings.HasPrefix(path, "["):
		return key + path
	}
	return key + "." + path
}

func pathOf(stack []frame) string {
	var b strings.Builder
	for i, f := range stack {
		if f.object {
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
			continue
		}
		b.WriteString("[" + strconv.Itoa(f.index) + "]")
	}
	return b.String()
}
