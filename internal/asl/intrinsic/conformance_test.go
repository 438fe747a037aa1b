package intrinsic_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lethe-erasure/lethe/internal/asl/intrinsic"
	"github.com/lethe-erasure/lethe/internal/asl/template"
	"github.com/lethe-erasure/lethe/internal/eventstest"
)

// recording is one execution of a one-state Pass machine recorded on AWS
// (see shared/conformance/README.md).
type recording struct {
	Name       string `json:"name"`
	Definition struct {
		StartAt string `json:"StartAt"`
		States  map[string]struct {
			Parameters any `json:"Parameters"`
		} `json:"States"`
	} `json:"definition"`
	Input  any `json:"input"`
	Expect struct {
		Output any    `json:"output"`
		Error  string `json:"error"`
	} `json:"expect"`
}

// conformanceFile finds shared/conformance beside the checkout: it walks up
// from the package directory to the folder holding go.mod.
func conformanceFile(t *testing.T) string {
	t.Helper()
	return filepath.Join(eventstest.Root(t), "..", "shared", "conformance", "aws-recorded-intrinsics.json")
}

// recordedContext is the context object of the recordings, with the
// placeholders the snapshots put in place of account-specific names.
func recordedContext(input any, state string) map[string]any {
	return map[string]any{
		"Execution": map[string]any{
			"Id":        "arn:<partition>:states:<region>:111111111111:execution:<ArnPart_0idx>:<ExecArnPart_0idx>",
			"Name":      "<ExecArnPart_0idx>",
			"Input":     input,
			"StartTime": "2024-01-01T00:00:00.000Z",
			"RoleArn":   "snf_role_arn",
		},
		"State": map[string]any{"Name": state, "EnteredTime": "2024-01-01T00:00:00.000Z"},
		"StateMachine": map[string]any{
			"Id":   "arn:<partition>:states:<region>:111111111111:stateMachine:<ArnPart_0idx>",
			"Name": "<ArnPart_0idx>",
		},
	}
}

// uuidV4 is the shape of a States.UUID result.
var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestAWSRecordedIntrinsics evaluates the Parameters of every recorded
// machine through the template package and compares with AWS's output.
func TestAWSRecordedIntrinsics(t *testing.T) {
	path := conformanceFile(t)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("conformance vectors absent (%s); skipping", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(strings.NewReader(string(data)))
	d.UseNumber()
	var recs []recording
	if err := d.Decode(&recs); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	passed := 0
	for _, rec := range recs {
		ok := t.Run(rec.Name, func(t *testing.T) {
			state, found := rec.Definition.States[rec.Definition.StartAt]
			if !found {
				t.Fatalf("no state %q", rec.Definition.StartAt)
			}
			tmpl, err := template.Compile(state.Parameters)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := tmpl.Eval(rec.Input, recordedContext(rec.Input, rec.Definition.StartAt), nil)
			if rec.Expect.Error != "" {
				if name := aslError(err); name != rec.Expect.Error {
					t.Fatalf("error %v (%s), want %s", err, name, rec.Expect.Error)
				}
				return
			}
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			params, _ := json.Marshal(state.Parameters)
			switch {
			case strings.Contains(string(params), "States.UUID"):
				if s, _ := got.(map[string]any)["FunctionResult"].(string); !uuidV4.MatchString(s) {
					t.Errorf("got %v, want a version 4 UUID", got)
				}
			case strings.Contains(string(params), "States.MathRandom"):
				if _, ok := got.(map[string]any)["FunctionResult"].(json.Number); !ok {
					t.Errorf("got %v, want a number", got)
				}
			default:
				if diff := cmp.Diff(rec.Expect.Output, got); diff != "" {
					t.Errorf("output mismatch (-AWS +ours):\n%s", diff)
				}
			}
		})
		if ok {
			passed++
		}
	}
	t.Logf("%d of %d executions recorded on AWS match", passed, len(recs))
}

// aslError names an evaluation error the way the engine reports it: a
// failing intrinsic is States.IntrinsicFailure, anything else (such as a
// *jsonpath.NotFoundError) States.Runtime.
func aslError(err error) string {
	var ie *intrinsic.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ie):
		return "States.IntrinsicFailure"
	default:
		return "States.Runtime"
	}
}
