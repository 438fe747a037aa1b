package outcome

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxDetailBytes bounds a subsystem's detail in the report (and so in the
// item, the execution output and the failure mail).
const MaxDetailBytes = 400

// maxDepth bounds how many JSON-in-a-string layers Describe opens.
const maxDepth = 6

// Describe turns a Step Functions error (the Error and Cause a Catch
// passes on) into a short line an operator can act on, such as
// "SubsystemUnavailable: projects answered 503 (attempt 9)".
//
// A caught child execution nests its failure: the Cause may be the JSON of
// the failed execution ({"Error","Cause",...}), whose own Cause is the JSON
// of the child's $.error ({"Error","Cause"}), whose Cause may in turn be a
// Lambda function error ({"errorMessage","errorType"}). Describe opens the
// layers and keeps the innermost error name and message; whatever the
// shape, it returns something and never fails.
func Describe(name, cause string) string {
	return clip(tidy(describe(name, cause)))
}

// describe is Describe before tidying and clipping, for callers that must
// scrub the whole text first.
func describe(name, cause string) string {
	name, msg := open(strings.TrimSpace(name), cause, 0)
	msg = strings.TrimSpace(msg)
	switch {
	case name == "" && msg == "":
		return ""
	case name == "":
		return msg
	case msg == "" || msg == name:
		return name
	default:
		return name + ": " + msg
	}
}

func open(name, cause string, depth int) (string, string) {
	cause = strings.TrimSpace(cause)
	if depth >= maxDepth || cause == "" {
		return name, cause
	}
	switch cause[0] {
	case '"':
		var s string
		if json.Unmarshal([]byte(cause), &s) == nil {
			return open(name, s, depth+1)
		}
		return name, cause
	case '{':
	default:
		return name, cause
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(cause), &obj) != nil {
		return name, cause
	}
	field := func(keys ...string) (string, bool) {
		for k, v := range obj {
			for _, want := range keys {
				if strings.EqualFold(k, want) {
					var s string
					if json.Unmarshal(v, &s) == nil {
						return strings.TrimSpace(s), true
					}
					// A non-string value: keep its JSON text.
					return strings.TrimSpace(string(v)), true
				}
			}
		}
		return "", false
	}
	// A Lambda function error.
	if msg, ok := field("errorMessage"); ok {
		if t, _ := field("errorType"); t != "" {
			name = t
		}
		return open(name, msg, depth+1)
	}
	// An error object or a failed execution's description.
	innerName, hasName := field("Error")
	innerCause, hasCause := field("Cause")
	if hasName || hasCause {
		if innerName != "" {
			name = innerName
		}
		return open(name, innerCause, depth+1)
	}
	// Some other JSON: nothing an operator would read.
	if m, ok := field("message"); ok {
		return name, m
	}
	return name, ""
}

// tidy folds control characters and runs of white space into single spaces.
func tidy(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
}

// clip cuts s to MaxDetailBytes on a rune boundary.
func clip(s string) string {
	if len(s) <= MaxDetailBytes {
		return s
	}
	cut := MaxDetailBytes - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func quote(s string) string { return strconv.Quote(clip(tidy(s))) }
