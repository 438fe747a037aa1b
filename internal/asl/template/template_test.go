package template

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lethe-erasure/lethe/internal/asl/intrinsic"
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

type fixedRandom struct{}

func (fixedRandom) Int64N(n int64) int64 { return 0 }
func (fixedRandom) UUID() string         { return "00000000-0000-4000-8000-000000000000" }

// guideInput is the Parameters example input of the developer guide.
const guideInput = `{
  "comment": "Example for Parameters.",
  "product": {
    "details": {"color": "blue", "size": "small", "material": "cotton"},
    "availability": "in stock", "sku": "2317", "cost": "$23"
  }
}`

const contextObject = `{
  "Execution": {"Id": "arn:aws:states:eu-west-1:123456789012:execution:erase:e1", "Name": "e1",
                "Input": {"user": "u1"}, "StartTime": "2024-01-01T00:00:00Z"},
  "State": {"Name": "Pass", "EnteredTime": "2024-01-01T00:00:01Z"},
  "StateMachine": {"Id": "arn:aws:states:eu-west-1:123456789012:stateMachine:erase", "Name": "erase"},
  "Map": {"Item": {"Index": 2, "Value": {"id": "x"}}}
}`

var (
	errNotFound  = errors.New("not found")
	errIntrinsic = errors.New("intrinsic")
)

func TestEval(t *testing.T) {
	tests := []struct {
		name    string
		tmpl    string
		input   string
		want    string
		wantErr error
	}{
		{name: "guide Parameters", input: guideInput,
			tmpl: `{"comment": "Selecting what I care about.",
				"MyDetails": {"size.$": "$.product.details.size", "exists.$": "$.product.availability", "StaticValue": "foo"}}`,
			want: `{"comment": "Selecting what I care about.",
				"MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"}}`},
		{name: "guide context object", input: guideInput,
			tmpl: `{"comment": "Now with the context object.", "execution.$": "$$.Execution.Id", "name.$": "$$.StateMachine.Name"}`,
			want: `{"comment": "Now with the context object.",
				"execution": "arn:aws:states:eu-west-1:123456789012:execution:erase:e1", "name": "erase"}`},
		{name: "guide ResultSelector", input: `{"resourceType": "elasticmapreduce", "resource": "createCluster.sync",
				"output": {"SdkHttpMetadata": {"HttpStatusCode": 200}, "ClusterId": "AKIAIOSFODNN7EXAMPLE"}}`,
			tmpl: `{"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType"}`,
			want: `{"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce"}`},
		{name: "guide ItemSelector", input: `{}`,
			tmpl: `{"ContextIndex.$": "$$.Map.Item.Index", "ContextValue.$": "$$.Map.Item.Value"}`,
			want: `{"ContextIndex": 2, "ContextValue": {"id": "x"}}`},
		{name: "whole input and context", input: `{"a": 1}`, tmpl: `{"in.$": "$", "user.$": "$$.Execution.Input.user"}`,
			want: `{"in": {"a": 1}, "user": "u1"}`},
		{name: "wildcard path gives a list", input: `{"l": [{"n": "a"}, {"n": "b"}]}`, tmpl: `{"names.$": "$.l[*].n"}`,
			want: `{"names": ["a", "b"]}`},
		{name: "intrinsic", input: `{"name": "Ada"}`, tmpl: `{"greeting.$": "States.Format('Hello, {}', $.name)", "id.$": "States.UUID()"}`,
			want: `{"greeting": "Hello, Ada", "id": "00000000-0000-4000-8000-000000000000"}`},
		{name: "intrinsic with context path", input: `{}`, tmpl: `{"first.$": "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, 'r'), 0)"}`,
			want: `{"first": "e"}`},
		{name: "arrays recurse", input: `{"a": 1}`, tmpl: `{"l": [{"x.$": "$.a"}, "$.a", 2, [true]]}`,
			want: `{"l": [{"x": 1}, "$.a", 2, [true]]}`},
		{name: "literal strings that look like paths stay literal", input: `{}`, tmpl: `{"p": "$.a", "f": "States.UUID()"}`,
			want: `{"p": "$.a", "f": "States.UUID()"}`},
		{name: "scalar template", input: `{}`, tmpl: `"just a string"`, want: `"just a string"`},
		{name: "missing path", input: `{}`, tmpl: `{"o": {"value.$": "$.no_such_jsonpath"}}`, wantErr: errNotFound},
		{name: "missing path in intrinsic", input: `{}`, tmpl: `{"v.$": "States.Array($.nope)"}`, wantErr: errNotFound},
		{name: "intrinsic failure", input: `{"l": []}`, tmpl: `{"v.$": "States.ArrayGetItem($.l, 0)"}`, wantErr: errIntrinsic},
	}
	context := decode(t, contextObject)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := Compile(decode(t, tt.tmpl))
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := tmpl.Eval(decode(t, tt.input), context, fixedRandom{})
			switch tt.wantErr {
			case nil:
				if err != nil {
					t.Fatalf("Eval: %v", err)
				}
				if diff := cmp.Diff(decode(t, tt.want), got); diff != "" {
					t.Errorf("Eval mismatch (-want +got):\n%s", diff)
				}
				return
			case errNotFound:
				var ie *intrinsic.Error
				if !jsonpath.IsNotFound(err) || errors.As(err, &ie) {
					t.Fatalf("Eval error %v, want a *jsonpath.NotFoundError", err)
				}
			case errIntrinsic:
				var ie *intrinsic.Error
				if !errors.As(err, &ie) {
					t.Fatalf("Eval error %v, want an *intrinsic.Error", err)
				}
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !strings.HasSuffix(fe.Field, ".$") {
				t.Errorf("Eval error %v does not name its field", err)
			}
		})
	}
}

func TestFieldErrorNamesTheField(t *testing.T) {
	tmpl, err := Compile(decode(t, `{"outer": {"value.$": "$.no_such_jsonpath"}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tmpl.Eval(decode(t, `{}`), nil, nil)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "value.$" || fe.Expr != "$.no_such_jsonpath" {
		t.Fatalf("error %v, want a FieldError for value.$", err)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, tmpl, wantIn string
	}{
		{name: "value not a string", tmpl: `{"a.$": 1}`, wantIn: `"a.$"`},
		{name: "not a path", tmpl: `{"a.$": "a.b"}`, wantIn: "must start"},
		{name: "bad path", tmpl: `{"a.$": "$.a["}`, wantIn: "invalid path"},
		{name: "bad intrinsic", tmpl: `{"a.$": "States.Nope()"}`, wantIn: "unknown intrinsic"},
		{name: "nested", tmpl: `{"o": [{"x.$": "$$.a[?("}]}`, wantIn: `field "o": item 0: field "x.$"`},
		{name: "clash", tmpl: `{"a": 1, "a.$": "$.a"}`, wantIn: "both produce"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(decode(t, tt.tmpl))
			if err == nil || !strings.Contains(err.Error(), tt.wantIn) {
				t.Fatalf("Compile(%s) = %v, want an error containing %q", tt.tmpl, err, tt.wantIn)
			}
		})
	}
}

// TestResultsAreFresh guards the parse-once design: an execution changing
// its result must not change the template or the next result.
func TestResultsAreFresh(t *testing.T) {
	tmpl, err := Compile(decode(t, `{"o": {"k": "v"}, "l": [1]}`))
	if err != nil {
		t.Fatal(err)
	}
	first, _ := tmpl.Eval(nil, nil, nil)
	first.(map[string]any)["o"].(map[string]any)["k"] = "changed"
	first.(map[string]any)["l"].([]any)[0] = "changed"
	second, _ := tmpl.Eval(nil, nil, nil)
	if diff := cmp.Diff(decode(t, `{"o": {"k": "v"}, "l": [1]}`), second); diff != "" {
		t.Errorf("second result changed (-want +got):\n%s", diff)
	}
}
