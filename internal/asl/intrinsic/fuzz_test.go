package intrinsic

import (
	"strings"
	"testing"
)

// FuzzParse checks that no expression makes Parse or Eval panic: every bad
// input is an error. Parsed calls are evaluated against a fixed input so the
// functions see real values too.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"States.Format('Hello, {}', $.name)",
		`States.Format('\{"key":"{}"\}', $.value)`,
		`States.Format('I\'m {} \\ {}', $.a, 2)`,
		"States.Array('Foo', 2020, $.someJson, null, true, -1.5e3)",
		"States.ArrayGetItem(States.StringSplit($$.Execution.Name, '-'), States.MathAdd(States.ArrayLength($.l), -1))",
		"States.ArrayPartition($.l, 2)",
		"States.ArrayRange(1, 9, 2)",
		"States.ArrayUnique($.l)",
		"States.ArrayContains($.l, 1)",
		"States.Base64Decode(States.Base64Encode($.name))",
		"States.Hash($.name, 'SHA-256')",
		"States.JsonMerge($.o, $.o, false)",
		"States.StringToJson(States.JsonToString($.o))",
		"States.MathRandom(1, 10, 7)",
		"States.UUID()",
		"States.Array($.l[?(@ > 1)], $['a b'], $..x)",
		strings.Repeat("States.Array(", 10) + strings.Repeat(")", 10),
		"States.Format('open\\')",
	} {
		f.Add(seed)
	}
	input := decode(f, `{"name": "Ada", "value": "v", "a": "A", "l": [3, 1, 2, 1], "o": {"x": [1.5, null]},
		"someJson": {"k": true}, "a b": "c"}`)
	context := decode(f, `{"Execution": {"Name": "e-1-2"}}`)
	f.Fuzz(func(t *testing.T, expr string) {
		c, err := Parse(expr)
		if err != nil {
			if c != nil {
				t.Fatalf("Parse(%q) returned both a call and an error", expr)
			}
			return
		}
		_ = c.Paths()
		_, _ = c.Eval(resolver(input, context), fixedRandom{})
	})
}
