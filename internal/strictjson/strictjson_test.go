package strictjson

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestJoin(t *testing.T) {
	for _, tt := range [][3]string{{"subjectId", "", "subjectId"}, {"subsystems", "[1]", "subsystems[1]"}, {"customer", "email", "customer.email"}} {
		if got := Join(tt[0], tt[1]); got != tt[2] {
			t.Errorf("Join(%q, %q) = %q, want %q", tt[0], tt[1], got, tt[2])
		}
	}
}

func TestLoneSurrogate(t *testing.T) {
	tests := []struct {
		in   string
		path string
		lone bool
	}{
		{`{"subjectId":"alice"}`, "", false},
		{`{"subjectId":"lone\ud800surrogate"}`, "subjectId", true},
		{`{"subjectId":"low\udc00first"}`, "subjectId", true},
		{`{"subjectId":"high at end\ud800"}`, "subjectId", true},
		{`{"subjectId":"two highs\ud800\ud800\udc00"}`, "subjectId", true},
		{`{"subjectId":"pair \ud83d\ude00 ok"}`, "", false},
		{`{"subjectId":"\u00e9 and \\ud800 escaped backslash"}`, "", false},
		{`{"subjectId":"high then escape\ud800\n"}`, "subjectId", true},
		{`{"a":{"b":[1,"x",{"c":"\udfff"}]}}`, "a.b[2].c", true},
		{`{"k\ud800":"v"}`, `k\ud800`, true},
		{`["ok","\ud800"]`, "[1]", true},
		{`"\ud800"`, "", true},
		{`{"a":"\ud800`, "", false},
	}
	for _, tt := range tests {
		path, lone := LoneSurrogate([]byte(tt.in))
		if lone != tt.lone || path != tt.path {
			t.Errorf("LoneSurrogate(%s) = %q, %v; want %q, %v", tt.in, path, lone, tt.path, tt.lone)
		}
	}
}

// FuzzLoneSurrogate: any input is scanned without a panic, and valid JSON
// reported clean decodes to exactly the strings it spells (no U+FFFD that
// the input did not write).
func FuzzLoneSurrogate(f *testing.F) {
	f.Add(`{"subjectId":"lone\ud800surrogate"}`)
	f.Add(`{"a":[{"b":"\ud83d\ude00"}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		_, lone := LoneSurrogate([]byte(in))
		if lone || !json.Valid([]byte(in)) {
			return
		}
		var v any
		if err := json.Unmarshal([]byte(in), &v); err != nil {
			return
		}
		var check func(any)
		check = func(x any) {
			switch x := x.(type) {
			case string:
				for _, r := range x {
					if r == 0xFFFD && !containsReplacement(in) {
						t.Fatalf("%q decodes to U+FFFD but was reported clean", in)
					}
				}
			case []any:
				for _, e := range x {
					check(e)
				}
			case map[string]any:
				for k, e := range x {
					check(k)
					check(e)
				}
			}
		}
		check(v)
	})
}

// containsReplacement tells input that itself spells U+FFFD (as UTF-8 or
// an escape) or holds invalid UTF-8, which encoding/json turns into it.
func containsReplacement(in string) bool {
	return strings.ContainsRune(in, utf8.RuneError) || !utf8.ValidString(in) || strings.Contains(strings.ToLower(in), `\ufffd`)
}
