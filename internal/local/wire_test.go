package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/registry"
)

// TestNamesMatchInfra keeps the local names in step with the CDK app's
// (infra is a main package, so its functions cannot be called here): each
// naming function of infra must still have the body this package copies.
func TestNamesMatchInfra(t *testing.T) {
	want := map[string][]string{
		"functions.go":     {`func FunctionName(region, fn string) string { return fmt.Sprintf("Lethe-%s-%s", region, fn) }`},
		"statemachines.go": {`return fmt.Sprintf("Lethe-%s-%s", region, m.Title)`},
		"topics.go": {
			`return fmt.Sprintf("lethe-%s-%s-failures", region, subsystem)`,
			`func OpsTopicName(region string) string { return fmt.Sprintf("lethe-%s-ops", region) }`,
			`func NoticesTopicName(region string) string { return fmt.Sprintf("lethe-%s-subject-notices", region) }`,
		},
	}
	for file, lines := range want {
		b, err := os.ReadFile(filepath.Join("..", "..", "infra", file))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			if !strings.Contains(string(b), l) {
				t.Errorf("infra/%s no longer has %s: update the names in internal/local/wire.go", file, l)
			}
		}
	}
	if got := FunctionName("eu", registry.FnSyncDelete); got != "Lethe-eu-sync-delete" {
		t.Errorf("FunctionName = %s", got)
	}
	if got := MachineName("us", registry.Machines[0]); got != "Lethe-us-Erasure" {
		t.Errorf("MachineName = %s", got)
	}
}

func TestWire(t *testing.T) {
	cfg := loadConfig(t)
	region, _ := cfg.Region("eu")
	noop := func(context.Context, map[string]any) (map[string]any, error) { return map[string]any{}, nil }
	handlers := map[string]any{}
	for _, p := range registry.Placeholders {
		if p.Kind == registry.Function {
			handlers[p.Target] = noop
		}
	}
	e := asl.NewEngine(asl.Options{Region: region.AWSRegion, Account: Account})
	w, err := Wire(e, region, handlers)
	if err != nil {
		t.Fatal(err)
	}
	if w.Main != "Lethe-eu-Erasure" || w.Machines[registry.MachineAsyncDeletion] != "Lethe-eu-AsyncDeletion" ||
		w.OpsTopic != "arn:aws:sns:eu-west-1:000000000000:lethe-eu-ops" {
		t.Errorf("wired %+v", w)
	}
	for _, name := range w.Machines {
		if _, err := e.Start(context.Background(), name, "started", map[string]any{}); err != nil {
			t.Errorf("machine %s is not registered: %v", name, err)
		}
	}

	delete(handlers, registry.FnAsyncCheck)
	if _, err := Wire(asl.NewEngine(asl.Options{}), region, handlers); err == nil || !strings.Contains(err.Error(), registry.FnAsyncCheck) {
		t.Errorf("Wire without %s = %v", registry.FnAsyncCheck, err)
	}
}

func TestSubsystemTopics(t *testing.T) {
	cfg := loadConfig(t)
	region, _ := cfg.Region("us")
	topics := SubsystemTopics(region)
	if got := topics["orders"]; got != "arn:aws:sns:us-west-2:000000000000:lethe-us-orders-failures" || len(topics) != len(region.Subsystems) {
		t.Errorf("topics %v", topics)
	}
}
