package asl

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

// TestRequestIDIsAVersion4UUID: request ids parse as RFC 4122 version 4
// UUIDs in their canonical text form, and do not repeat.
func TestRequestIDIsAVersion4UUID(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		id := requestID()
		u, err := uuid.Parse(id)
		if err != nil {
			t.Fatalf("requestID() = %q: %v", id, err)
		}
		if u.Version() != 4 || u.Variant() != uuid.RFC4122 || u.String() != id {
			t.Fatalf("requestID() = %q: version %d, variant %v, canonical %q", id, u.Version(), u.Variant(), u.String())
		}
		if seen[id] {
			t.Fatalf("requestID() repeated %q", id)
		}
		seen[id] = true
	}
}

// TestServiceResultsDoNotShareWhatAStateChanges: the Content-Type parts of
// SdkHttpMetadata are values shared by every result (see sdkMetadata). A
// state that overwrites them (ResultPath into the shared list and map)
// changes only its own execution's data: the next execution, and the
// request ids of the two calls, are untouched.
func TestServiceResultsDoNotShareWhatAStateChanges(t *testing.T) {
	e, _ := newTestEngine(t)
	e.RegisterLambda("Echo", func(_ context.Context, in map[string]any) (map[string]any, error) { return in, nil })
	def := `{"StartAt":"T","States":{
		"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"Echo","Payload.$":"$"},"Next":"Overwrite"},
		"Overwrite":{"Type":"Pass","Result":"changed","ResultPath":"$.SdkHttpMetadata.AllHttpHeaders.Content-Type[0]","Next":"Overwrite2"},
		"Overwrite2":{"Type":"Pass","Result":"changed","ResultPath":"$.SdkHttpMetadata.HttpHeaders.Content-Type","End":true}}}`
	first := runDef(t, e, def, `{"n":1}`)
	second := runDef(t, e, `{"StartAt":"T","States":{
		"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"Echo","Payload.$":"$"},"End":true}}}`, `{"n":2}`)
	if first.Status != StatusSucceeded || second.Status != StatusSucceeded {
		t.Fatalf("executions ended %s and %s", first.Status, second.Status)
	}
	get := func(v any, path ...string) any {
		for _, p := range path {
			v = v.(map[string]any)[p]
		}
		return v
	}
	if got := get(first.Output, "SdkHttpMetadata", "AllHttpHeaders", "Content-Type"); !cmp.Equal(got, []any{"changed"}) {
		t.Errorf("first execution's AllHttpHeaders Content-Type = %v, want [changed]", got)
	}
	if got := get(first.Output, "SdkHttpMetadata", "HttpHeaders", "Content-Type"); got != "changed" {
		t.Errorf("first execution's HttpHeaders Content-Type = %v, want changed", got)
	}
	if got := get(second.Output, "SdkHttpMetadata", "AllHttpHeaders", "Content-Type"); !cmp.Equal(got, []any{"application/json"}) {
		t.Errorf("second execution's AllHttpHeaders Content-Type = %v, want [application/json]", got)
	}
	if got := get(second.Output, "SdkHttpMetadata", "HttpHeaders", "Content-Type"); got != "application/json" {
		t.Errorf("second execution's HttpHeaders Content-Type = %v, want application/json", got)
	}
	id1 := get(first.Output, "SdkResponseMetadata", "RequestId")
	id2 := get(second.Output, "SdkResponseMetadata", "RequestId")
	if id1 == id2 || get(second.Output, "SdkHttpMetadata", "HttpHeaders", "x-amzn-RequestId") != id2 ||
		!cmp.Equal(get(second.Output, "SdkHttpMetadata", "AllHttpHeaders", "x-amzn-RequestId"), []any{id2}) {
		t.Errorf("request ids: first %v, second %v (%v)", id1, id2, get(second.Output, "SdkHttpMetadata"))
	}
	if got := get(second.Output, "Payload", "n"); fmt.Sprint(got) != "2" {
		t.Errorf("second Payload.n = %v", got)
	}
}

// TestFunctionName: names, partial and full ARNs, qualifiers, and the
// degenerate forms, against the rule written with strings.Split.
func TestFunctionName(t *testing.T) {
	bySplit := func(s string) string {
		parts := strings.Split(s, ":")
		for i, p := range parts {
			if p == "function" && i+1 < len(parts) {
				return parts[i+1]
			}
		}
		return parts[0]
	}
	for _, s := range []string{"", "Greet", "Greet:$LATEST", "123456789012:function:Greet", "123456789012:function:Greet:prod",
		"arn:aws:lambda:us-east-1:123456789012:function:Greet", "arn:aws:lambda:us-east-1:123456789012:function:Greet:7",
		"function", "function:", ":function:x", "a:function", "function:function:x", "::", "a::b"} {
		if got, want := functionName(s), bySplit(s); got != want {
			t.Errorf("functionName(%q) = %q, want %q", s, got, want)
		}
	}
}

// TestRegisterIntegrationAfterARun: resolve keeps its answers per engine,
// and an integration registered after a run serves the next one.
func TestRegisterIntegrationAfterARun(t *testing.T) {
	e, _ := newTestEngine(t)
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage","End":true}}}`
	if res := runDef(t, e, def, `{}`); res.Status != StatusFailed || res.Error != ErrRuntime {
		t.Fatalf("before registering: %s %s", res.Status, res.Error)
	}
	e.RegisterIntegration("sqs:sendMessage", IntegrationFunc(func(context.Context, *TaskCall) (any, error) {
		return map[string]any{"MessageId": "m-1"}, nil
	}))
	res := runDef(t, e, def, `{}`)
	if res.Status != StatusSucceeded || !cmp.Equal(res.Output, map[string]any{"MessageId": "m-1"}) {
		t.Fatalf("after registering: %s %v", res.Status, res.Output)
	}
}
