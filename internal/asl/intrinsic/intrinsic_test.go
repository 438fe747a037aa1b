package intrinsic

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lethe-erasure/lethe/internal/asl/jsonpath"
)

func decode(t testing.TB, s string) any {
	t.Helper()
	v, err := jsonpath.Decode(s)
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

// fixedRandom makes MathRandom return its largest value and UUID a constant.
type fixedRandom struct{}

func (fixedRandom) Int64N(n int64) int64 { return n - 1 }
func (fixedRandom) UUID() string         { return "ca4c1140-dcc1-40cd-ad05-7b4aa23df4a8" }

// resolver reads "$" paths from input and "$$" paths from context.
func resolver(input, context any) Resolver {
	return func(path string) (any, error) {
		p, err := jsonpath.Compile(path)
		if err != nil {
			return nil, err
		}
		if p.IsContext() {
			return p.Get(context)
		}
		return p.Get(input)
	}
}

// Error kinds a test may want.
var (
	errParse    = &SyntaxError{}
	errRuntime  = &Error{}
	errNotFound = &jsonpath.NotFoundError{}
)

func TestEval(t *testing.T) {
	tests := []struct {
		name    string
		expr    string
		input   string
		want    string
		wantErr error
	}{
		// Examples of the developer guide, "Intrinsic functions", and the ASL spec.
		{name: "Format literal", expr: "States.Format('Hello, my name is {}.', $.name)", input: `{"name": "Arnav"}`, want: `"Hello, my name is Arnav."`},
		{name: "Format template from path", expr: "States.Format($.template, $.name)", input: `{"name": "Arnav", "template": "Hello, my name is {}."}`, want: `"Hello, my name is Arnav."`},
		{name: "Format spec", expr: "States.Format('Your name is {}, we are in the year {}', $.name, 2020)", input: `{"name": "Foo", "zebra": "stripe"}`, want: `"Your name is Foo, we are in the year 2020"`},
		{name: "StringToJson", expr: "States.StringToJson($.escapedJsonString)", input: `{"escapedJsonString": "{\"foo\": \"bar\"}"}`, want: `{"foo": "bar"}`},
		{name: "JsonToString", expr: "States.JsonToString($.someJson)", input: `{"someJson": {"name": "Foo", "year": 2020}, "zebra": "stripe"}`, want: `"{\"name\":\"Foo\",\"year\":2020}"`},
		{name: "Array", expr: "States.Array($.Id)", input: `{"Id": 123456}`, want: `[123456]`},
		{name: "Array spec", expr: "States.Array('Foo', 2020, $.someJson, null)", input: `{"someJson": {"random": "abcdefg"}}`, want: `["Foo", 2020, {"random": "abcdefg"}, null]`},
		{name: "ArrayPartition", expr: "States.ArrayPartition($.inputArray,4)", input: `{"inputArray": [1,2,3,4,5,6,7,8,9]}`, want: `[[1,2,3,4],[5,6,7,8],[9]]`},
		{name: "ArrayContains", expr: "States.ArrayContains($.inputArray, $.lookingFor)", input: `{"inputArray": [1,2,3,4,5,6,7,8,9], "lookingFor": 5}`, want: `true`},
		{name: "ArrayRange", expr: "States.ArrayRange(1, 9, 2)", want: `[1,3,5,7,9]`},
		{name: "ArrayGetItem", expr: "States.ArrayGetItem($.inputArray, $.index)", input: `{"inputArray": [1,2,3,4,5,6,7,8,9], "index": 5}`, want: `6`},
		{name: "ArrayLength", expr: "States.ArrayLength($.inputArray)", input: `{"inputArray": [1,2,3,4,5,6,7,8,9]}`, want: `9`},
		{name: "ArrayUnique", expr: "States.ArrayUnique($.inputArray)", input: `{"inputArray": [1,2,3,3,3,3,3,3,4]}`, want: `[1,2,3,4]`},
		{name: "Base64Encode", expr: "States.Base64Encode($.input)", input: `{"input": "Data to encode"}`, want: `"RGF0YSB0byBlbmNvZGU="`},
		{name: "Base64Decode", expr: "States.Base64Decode($.base64)", input: `{"base64": "RGF0YSB0byBlbmNvZGU="}`, want: `"Data to encode"`},
		{name: "Hash", expr: "States.Hash($.Data, $.Algorithm)", input: `{"Data": "input data", "Algorithm": "SHA-1"}`, want: `"aaff4a450a104cd177d28d18d74485e8cae074b7"`},
		{name: "JsonMerge", expr: "States.JsonMerge($.json1, $.json2, false)", input: `{"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}}`, want: `{"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}`},
		{name: "MathRandom", expr: "States.MathRandom($.start, $.end)", input: `{"start": 1, "end": 999}`, want: `999`},
		{name: "MathAdd", expr: "States.MathAdd($.value1, $.step)", input: `{"value1": 111, "step": -1}`, want: `110`},
		{name: "StringSplit", expr: "States.StringSplit($.inputString, $.splitter)", input: `{"inputString": "1,2,3,4,5", "splitter": ","}`, want: `["1","2","3","4","5"]`},
		{name: "UUID", expr: "States.UUID()", want: `"ca4c1140-dcc1-40cd-ad05-7b4aa23df4a8"`},

		// Reserved characters, as the guide escapes them.
		{name: "escaped quote", expr: `States.Format('I\'m {}', $.Username)`, input: `{"Username": "Jun"}`, want: `"I'm Jun"`},
		{name: "escaped braces are not placeholders", expr: `States.Format('\{"key":"{}"\}', $.value)`, input: `{"value": "test123"}`, want: `"{\"key\":\"test123\"}"`},
		{name: "escaped placeholder", expr: `States.Format('\{\} {}', 1)`, want: `"{} 1"`},
		{name: "escaped backslash", expr: `States.Format('a\\b')`, want: `"a\\b"`},
		{name: "braces outside Format are plain", expr: `States.Array('{}', '\{')`, want: `["{}", "{"]`},

		// Nesting, literals, whitespace, context paths.
		{name: "nested calls", expr: "States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.Arn, '/'), 2), '.'), 0), States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.Arn, '/'), 2), '.'), 1))",
			input: `{"Arn": "arn:aws:imagebuilder:eu-west-1:123456789012:image-recipe/recipe/1.0.2"}`, want: `"1.0"`},
		{name: "literals", expr: "States.Array(true, false, null, -1.5e3, 'x')", want: `[true, false, null, -1.5e3, "x"]`},
		{name: "spaces", expr: "  States.Array ( 1 ,2 )  ", want: `[1, 2]`},
		{name: "context path", expr: "States.Format('{}', $$.Execution.Name)", want: `"exec-1"`},
		{name: "path with brackets and filter", expr: "States.Array($['a b'], $.l[?(@.v > 1)].v)", input: `{"a b": 1, "l": [{"v": 1}, {"v": 2}]}`, want: `[1, [2]]`},
		{name: "Format renders objects like AWS", expr: "States.Format('{} {} {}', $.o, $.l, $.n)", input: `{"o": {"b": [1, "x"], "a": null}, "l": [], "n": 1.10}`, want: `"{a=null, b=[1, x]} [] 1.10"`},

		// Behaviour recorded on AWS (shared/conformance) beyond the guide.
		{name: "MathAdd rounds half up", expr: "States.MathAdd(-1.5, 2.5)", want: `2`},
		{name: "StringSplit on each delimiter character", expr: "States.StringSplit('a.b+c', '.+')", want: `["a","b","c"]`},
		{name: "StringToJson blank is null", expr: "States.StringToJson(' ')", want: `null`},
		{name: "StringToJson -0 is 0", expr: "States.StringToJson('-0')", want: `0`},
		{name: "ArrayRange stops before passing the end", expr: "States.ArrayRange(0, 10, 3)", want: `[0, 3, 6, 9]`},
		{name: "ArrayRange downwards", expr: "States.ArrayRange(5, 1, -2)", want: `[5, 3, 1]`},
		{name: "ArrayRange empty when going away", expr: "States.ArrayRange(5, 1, 2)", want: `[]`},
		{name: "ArrayUnique deep", expr: "States.ArrayUnique($.l)", input: `{"l": [null, null, [1], [1], {"a": 1}, {"a": 1}, 1, 1.0]}`, want: `[null, [1], {"a": 1}, 1]`},
		{name: "MathRandom seeded is repeatable", expr: "States.ArrayContains(States.Array(States.MathRandom(0, 999, 3)), States.MathRandom(0, 999, 3))", want: `true`},
		{name: "JsonToString keeps < > &", expr: "States.JsonToString($.s)", input: `{"s": "<&>"}`, want: `"\"<&>\""`},
		{name: "Hash SHA-256", expr: "States.Hash('input data', 'SHA-256')", want: `"b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"`},

		// Run-time failures: States.IntrinsicFailure.
		{name: "ArrayGetItem out of range", expr: "States.ArrayGetItem($.l, 3)", input: `{"l": [1, 2, 3]}`, wantErr: errRuntime},
		{name: "ArrayGetItem negative", expr: "States.ArrayGetItem($.l, -1)", input: `{"l": [1]}`, wantErr: errRuntime},
		{name: "ArrayPartition zero", expr: "States.ArrayPartition($.l, 0)", input: `{"l": [1]}`, wantErr: errRuntime},
		{name: "ArrayPartition not an array", expr: "States.ArrayPartition($.l, 1)", input: `{"l": "x"}`, wantErr: errRuntime},
		{name: "ArrayRange over 1000", expr: "States.ArrayRange(1, 1001, 1)", wantErr: errRuntime},
		{name: "ArrayRange zero step", expr: "States.ArrayRange(1, 2, 0)", wantErr: errRuntime},
		{name: "ArrayRange not an integer", expr: "States.ArrayRange(1, 2.5, 1)", wantErr: errRuntime},
		{name: "Base64Decode invalid", expr: "States.Base64Decode('!')", wantErr: errRuntime},
		{name: "Base64Encode too long", expr: "States.Base64Encode($.s)", input: `{"s": "` + strings.Repeat("x", 10001) + `"}`, wantErr: errRuntime},
		{name: "Hash unknown algorithm", expr: "States.Hash('x', 'SHA-3')", wantErr: errRuntime},
		{name: "JsonMerge deep from path", expr: "States.JsonMerge($.a, $.a, $.t)", input: `{"a": {}, "t": true}`, wantErr: errRuntime},
		{name: "JsonMerge not objects", expr: "States.JsonMerge($.a, 1, false)", input: `{"a": {}}`, wantErr: errRuntime},
		{name: "MathAdd string", expr: "States.MathAdd('1', 2)", wantErr: errRuntime},
		{name: "MathAdd huge", expr: "States.MathAdd(1e300, 2)", wantErr: errRuntime},
		{name: "MathRandom start after end", expr: "States.MathRandom(5, 1)", wantErr: errRuntime},
		{name: "StringToJson invalid", expr: "States.StringToJson('{')", wantErr: errRuntime},
		{name: "StringToJson trailing text", expr: "States.StringToJson('1 2')", wantErr: errRuntime},
		{name: "Format template from path mismatched", expr: "States.Format($.t, 1)", input: `{"t": "{} {}"}`, wantErr: errRuntime},
		{name: "nested failure keeps its function", expr: "States.Array(States.ArrayGetItem($.l, 9))", input: `{"l": []}`, wantErr: errRuntime},

		// A missing path is States.Runtime, as for any path.
		{name: "missing path", expr: "States.Array($.nope)", input: `{}`, wantErr: errNotFound},

		// Definition errors, found by Parse.
		{name: "unknown function", expr: "States.Nope()", wantErr: errParse},
		{name: "not a call", expr: "$.a", wantErr: errParse},
		{name: "arity", expr: "States.ArrayLength()", wantErr: errParse},
		{name: "too many", expr: "States.UUID(1)", wantErr: errParse},
		{name: "Format holes", expr: "States.Format('{} {}', 1)", wantErr: errParse},
		{name: "Format open escape", expr: `States.Format('open\')`, wantErr: errParse},
		{name: "unknown escape", expr: `States.Format('\n')`, wantErr: errParse},
		{name: "unterminated string", expr: "States.Array('x)", wantErr: errParse},
		{name: "unclosed call", expr: "States.Array(1", wantErr: errParse},
		{name: "trailing text", expr: "States.Array(1) x", wantErr: errParse},
		{name: "JsonMerge deep literal", expr: "States.JsonMerge($.a, $.b, true)", wantErr: errParse},
		{name: "bad path", expr: "States.Array($.a[)", wantErr: errParse},
		{name: "bad number", expr: "States.Array(01)", wantErr: errParse},
		{name: "bad word", expr: "States.Array(nil)", wantErr: errParse},
		{name: "11 nested calls", expr: strings.Repeat("States.Array(", 11) + strings.Repeat(")", 11), wantErr: errParse},
	}
	context := decode(t, `{"Execution": {"Name": "exec-1"}}`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := any(nil)
			if tt.input != "" {
				input = decode(t, tt.input)
			}
			c, err := Parse(tt.expr)
			var got any
			if err == nil {
				got, err = c.Eval(resolver(input, context), fixedRandom{})
			}
			switch tt.wantErr {
			case nil:
				if err != nil {
					t.Fatalf("%s: %v", tt.expr, err)
				}
				if diff := cmp.Diff(decode(t, tt.want), got, numbersByValue); diff != "" {
					t.Errorf("%s mismatch (-want +got):\n%s", tt.expr, diff)
				}
			case errParse:
				var e *SyntaxError
				if !errors.As(err, &e) {
					t.Fatalf("%s: error %v (%T), want *SyntaxError", tt.expr, err, err)
				}
			case errRuntime:
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("%s: error %v (%T), want *Error", tt.expr, err, err)
				}
			case errNotFound:
				var e *Error
				if !jsonpath.IsNotFound(err) || errors.As(err, &e) {
					t.Fatalf("%s: error %v (%T), want a *jsonpath.NotFoundError only", tt.expr, err, err)
				}
			}
		})
	}
}

// numbersByValue compares json.Numbers by value, so a want of 2020 matches
// a literal 2020 and 1.5e3 matches 1500.
var numbersByValue = cmp.Comparer(func(a, b json.Number) bool { return canonical(a) == canonical(b) })

func TestErrorNamesTheFunction(t *testing.T) {
	c, err := Parse("States.Array(States.ArrayGetItem($.l, 9))")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Eval(resolver(decode(t, `{"l": []}`), nil), nil)
	var e *Error
	if !errors.As(err, &e) || e.Func != "States.ArrayGetItem" {
		t.Fatalf("error %v, want an *Error from States.ArrayGetItem", err)
	}
}

func TestIsCallAndPaths(t *testing.T) {
	if !IsCall("States.UUID()") || !IsCall(" States.Array()") || IsCall("$.States") || IsCall("States") {
		t.Error("IsCall misclassifies")
	}
	c, err := Parse("States.Format('{} {}', $.a, States.Array($$.Execution.Id, $['b c']))")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"$.a", "$$.Execution.Id", "$['b c']"}, c.Paths()); diff != "" {
		t.Errorf("Paths mismatch (-want +got):\n%s", diff)
	}
}

func TestDefaultRandom(t *testing.T) {
	c, err := Parse("States.Array(States.UUID(), States.MathRandom(1, 3))")
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		v, err := c.Eval(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := v.([]any)
		if u := got[0].(string); len(u) != 36 || u[14] != '4' {
			t.Errorf("UUID %q is not a version 4 UUID", u)
		}
		if n := got[1].(json.Number); n != "1" && n != "2" && n != "3" {
			t.Errorf("MathRandom(1, 3) = %s", n)
		}
	}
}

func BenchmarkEval(b *testing.B) {
	c, err := Parse("States.Format('{}/{}', States.ArrayGetItem(States.StringSplit($.arn, ':'), 5), States.MathAdd($.n, 1))")
	if err != nil {
		b.Fatal(err)
	}
	input := decode(b, `{"arn": "arn:aws:states:eu-west-1:123456789012:stateMachine:erase", "n": 41}`)
	resolve := resolver(input, nil)
	for b.Loop() {
		if _, err := c.Eval(resolve, fixedRandom{}); err != nil {
			b.Fatal(err)
		}
	}
}
