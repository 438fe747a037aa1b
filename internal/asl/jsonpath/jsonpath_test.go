package jsonpath

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decode reads JSON the way the interpreter does (UseNumber).
func decode(t testing.TB, s string) any {
	t.Helper()
	v, err := Decode(s)
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

// specInput is the example input of the ASL spec, section "Paths".
const specInput = `{"foo": 123, "bar": ["a", "b", "c"], "car": {"cdr": true}}`

// guideInput is the InputPath example of the Step Functions developer guide.
const guideInput = `{
  "comment": "Example for InputPath.",
  "dataset1": {"val1": 1, "val2": 2, "val3": 3},
  "dataset2": {"val1": "a", "val2": "b", "val3": "c"}
}`

const storeInput = `{"store": {"book": [
  {"category": "reference", "author": "Nigel Rees", "price": 8.95},
  {"category": "fiction", "author": "Evelyn Waugh", "price": 12.99},
  {"category": "fiction", "author": "Herman Melville", "isbn": "0-553-21311-3", "price": 8.99}
], "bicycle": {"color": "red", "price": 19.95}}, "request-id": "r1", "n": null}`

func TestGetReference(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		path    string
		want    string
		wantErr error
	}{
		{name: "spec foo", input: specInput, path: "$.foo", want: `123`},
		{name: "spec bar", input: specInput, path: "$.bar", want: `["a", "b", "c"]`},
		{name: "spec car.cdr", input: specInput, path: "$.car.cdr", want: `true`},
		{name: "root", input: specInput, path: "$", want: specInput},
		{name: "guide InputPath", input: guideInput, path: "$.dataset2", want: `{"val1": "a", "val2": "b", "val3": "c"}`},
		{name: "index", input: specInput, path: "$.bar[1]", want: `"b"`},
		{name: "negative index", input: specInput, path: "$.bar[-1]", want: `"c"`},
		{name: "bracket name", input: specInput, path: "$['car']['cdr']", want: `true`},
		{name: "dash in dot name", input: storeInput, path: "$.request-id", want: `"r1"`},
		{name: "null is found", input: storeInput, path: "$.n", want: `null`},
		{name: "number keeps its text", input: `{"a": 1.50}`, path: "$.a", want: `1.50`},
		{name: "missing field", input: specInput, path: "$.nope", wantErr: &NotFoundError{}},
		{name: "missing below scalar", input: specInput, path: "$.foo.bar", wantErr: &NotFoundError{}},
		{name: "index out of range", input: specInput, path: "$.bar[3]", wantErr: &NotFoundError{}},
		{name: "wildcard is not a reference", input: specInput, path: "$.bar[*]", wantErr: &SyntaxError{}},
		{name: "filter is not a reference", input: storeInput, path: "$.store.book[?(@.price < 10)]", wantErr: &SyntaxError{}},
		{name: "no dollar", input: specInput, path: "foo", wantErr: &SyntaxError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := GetReference(decode(t, tt.input), tt.path)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == nil {
				if diff := cmp.Diff(decode(t, tt.want), got); diff != "" {
					t.Errorf("GetReference(%q) mismatch (-want +got):\n%s", tt.path, diff)
				}
			}
		})
	}
}

func TestGet(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		path    string
		want    string
		wantErr error
	}{
		{name: "reference path gives the node", input: specInput, path: "$.bar", want: `["a", "b", "c"]`},
		{name: "wildcard gives a list", input: specInput, path: "$.bar[*]", want: `["a", "b", "c"]`},
		{name: "slice", input: specInput, path: "$.bar[1:]", want: `["b", "c"]`},
		{name: "union", input: specInput, path: "$.bar[0,2]", want: `["a", "c"]`},
		{name: "filter on numbers in document order", input: storeInput, path: "$.store.book[?(@.price < 10)].author", want: `["Nigel Rees", "Herman Melville"]`},
		{name: "filter keeps number text", input: storeInput, path: "$.store.book[?(@.price > 12)].price", want: `[12.99]`},
		{name: "filter on existence", input: storeInput, path: "$.store.book[?(@.isbn)].author", want: `["Herman Melville"]`},
		{name: "filter on string", input: storeInput, path: "$.store.book[?(@.category == 'reference')].price", want: `[8.95]`},
		{name: "descent", input: storeInput, path: "$..price", want: `[19.95, 8.95, 12.99, 8.99]`},
		{name: "descent to a dashed name", input: `{"a": {"x-y": 1}, "x-y": 2}`, path: "$..x-y", want: `[1, 2]`},
		{name: "object wildcard sorted by key", input: `{"o": {"b": 2, "a": 1, "c": 3}}`, path: "$.o.*", want: `[1, 2, 3]`},
		{name: "no match is an empty list", input: storeInput, path: "$.store.book[?(@.price > 100)]", want: `[]`},
		{name: "missing reference", input: specInput, path: "$.nope", wantErr: &NotFoundError{}},
		{name: "context path evaluated on data", input: `{"Execution": {"Id": "x"}}`, path: "$$.Execution.Id", want: `"x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Get(decode(t, tt.input), tt.path)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == nil {
				if diff := cmp.Diff(decode(t, tt.want), got); diff != "" {
					t.Errorf("Get(%q) mismatch (-want +got):\n%s", tt.path, diff)
				}
			}
		})
	}
}

func TestSet(t *testing.T) {
	const taskInput = `{"comment": "This is a test of the input and output of a Task state.",
		"details": "Default example", "who": "AWS Step Functions"}`
	tests := []struct {
		name    string
		input   string
		path    string
		value   string
		want    string
		wantErr error
	}{
		{name: "guide ResultPath $.taskresult", input: taskInput, path: "$.taskresult", value: `"Hello, AWS Step Functions!"`,
			want: `{"comment": "This is a test of the input and output of a Task state.",
				"details": "Default example", "who": "AWS Step Functions", "taskresult": "Hello, AWS Step Functions!"}`},
		{name: "dollar replaces", input: taskInput, path: "$", value: `"Hello"`, want: `"Hello"`},
		{name: "creates intermediate objects", input: `{"a": 1}`, path: "$.strings.lambdaresult", value: `"x"`,
			want: `{"a": 1, "strings": {"lambdaresult": "x"}}`},
		{name: "overwrites a field", input: `{"a": {"b": 1, "c": 2}}`, path: "$.a.b", value: `[1]`, want: `{"a": {"b": [1], "c": 2}}`},
		{name: "into an array element", input: `{"a": [{"x": 1}, {"x": 2}]}`, path: "$.a[1].x", value: `3`, want: `{"a": [{"x": 1}, {"x": 3}]}`},
		{name: "negative index", input: `{"a": [0, 1]}`, path: "$.a[-1]", value: `9`, want: `{"a": [0, 9]}`},
		{name: "bracket names", input: `{}`, path: "$['a b']['c']", value: `true`, want: `{"a b": {"c": true}}`},
		{name: "through a string", input: `{"a": "s"}`, path: "$.a.b", value: `1`, wantErr: &SetError{}},
		{name: "through null", input: `{"a": null}`, path: "$.a.b", value: `1`, wantErr: &SetError{}},
		{name: "root is not an object", input: `"s"`, path: "$.a", value: `1`, wantErr: &SetError{}},
		{name: "index beyond the array", input: `{"a": []}`, path: "$.a[0]", value: `1`, wantErr: &SetError{}},
		{name: "index into an object", input: `{"a": {}}`, path: "$.a[0]", value: `1`, wantErr: &SetError{}},
		{name: "not a reference path", input: `{}`, path: "$.a[*]", value: `1`, wantErr: &SyntaxError{}},
		{name: "context path", input: `{}`, path: "$$.a", value: `1`, wantErr: &SyntaxError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := decode(t, tt.input)
			before, _ := json.Marshal(input)
			got, err := Set(input, tt.path, decode(t, tt.value))
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == nil {
				if diff := cmp.Diff(decode(t, tt.want), got); diff != "" {
					t.Errorf("Set(%q) mismatch (-want +got):\n%s", tt.path, diff)
				}
			}
			if after, _ := json.Marshal(input); string(after) != string(before) {
				t.Errorf("Set mutated its input: %s became %s", before, after)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		path             string
		wantPathErr      bool
		wantReferenceErr bool
	}{
		{path: "$"},
		{path: "$$"},
		{path: "$.a.b[0]"},
		{path: "$$.Execution.Input"},
		{path: "$['a.b'].c"},
		{path: "$.a-b.c_d"},
		{path: "$.a[*]", wantReferenceErr: true},
		{path: "$..a", wantReferenceErr: true},
		{path: "$.a[?(@.b == 1)]", wantReferenceErr: true},
		{path: "$.a[0:2]", wantReferenceErr: true},
		{path: "$.a[0,1]", wantReferenceErr: true},
		{path: "", wantPathErr: true, wantReferenceErr: true},
		{path: "a.b", wantPathErr: true, wantReferenceErr: true},
		{path: "$.", wantPathErr: true, wantReferenceErr: true},
		{path: "$.a[", wantPathErr: true, wantReferenceErr: true},
		{path: "$a", wantPathErr: true, wantReferenceErr: true},
		{path: "$.a b", wantPathErr: true, wantReferenceErr: true},
		{path: "States.Format('x')", wantPathErr: true, wantReferenceErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if err := ValidatePath(tt.path); (err != nil) != tt.wantPathErr {
				t.Errorf("ValidatePath(%q) = %v, want error %v", tt.path, err, tt.wantPathErr)
			}
			err := ValidateReference(tt.path)
			if (err != nil) != tt.wantReferenceErr {
				t.Errorf("ValidateReference(%q) = %v, want error %v", tt.path, err, tt.wantReferenceErr)
			}
			var se *SyntaxError
			if err != nil && !errors.As(err, &se) {
				t.Errorf("ValidateReference(%q) error %T, want *SyntaxError", tt.path, err)
			}
		})
	}
}

func TestPathFlags(t *testing.T) {
	p, err := Compile("$$.Map.Item.Value")
	if err != nil {
		t.Fatal(err)
	}
	if !p.IsContext() || !p.IsReference() || p.String() != "$$.Map.Item.Value" {
		t.Errorf("flags of %q: context %v reference %v string %q", p, p.IsContext(), p.IsReference(), p.String())
	}
}

// checkErr compares an error with the wanted error type (nil: no error).
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	switch want.(type) {
	case nil:
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
	case *NotFoundError:
		var e *NotFoundError
		if !errors.As(err, &e) {
			t.Fatalf("error %v (%T), want *NotFoundError", err, err)
		}
	case *SetError:
		var e *SetError
		if !errors.As(err, &e) {
			t.Fatalf("error %v (%T), want *SetError", err, err)
		}
	case *SyntaxError:
		var e *SyntaxError
		if !errors.As(err, &e) {
			t.Fatalf("error %v (%T), want *SyntaxError", err, err)
		}
	}
}
