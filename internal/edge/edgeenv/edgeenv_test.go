package edgeenv

import (
	"context"
	"strings"
	"testing"

	"github.com/lethe-erasure/lethe/internal/config"
)

const view = `{"edge":{"awsRegion":"eu-central-1"},"regions":[{"name":"eu","awsRegion":"eu-west-1","apiUrl":"https://eu.example.com/prod"}]}`

func TestLoadAndBuild(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-central-1")
	t.Setenv(config.EnvEdgeConfig, "")
	if _, err := Load(context.Background()); err == nil || !strings.Contains(err.Error(), config.EnvEdgeConfig) {
		t.Fatalf("Load without %s: %v", config.EnvEdgeConfig, err)
	}
	t.Setenv(config.EnvEdgeConfig, view)
	env, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if env.View.Edge.QuarantineHours != config.DefaultQuarantineHours || len(env.View.Regions) != 1 {
		t.Errorf("view = %+v", env.View)
	}
	for _, n := range []string{config.EnvTenantsTable, config.EnvDeliveriesTable, config.EnvQuarantineTable, config.EnvGlobalTable, config.EnvOpsTopicArn} {
		t.Setenv(n, "")
	}
	if _, err := env.Fanout(); err == nil || !strings.Contains(err.Error(), config.EnvTenantsTable) {
		t.Errorf("Fanout without tables: %v", err)
	}
	t.Setenv(config.EnvTenantsTable, "t")
	t.Setenv(config.EnvDeliveriesTable, "d")
	t.Setenv(config.EnvQuarantineTable, "q")
	if _, err := env.Fanout(); err == nil || !strings.Contains(err.Error(), config.EnvOpsTopicArn) {
		t.Errorf("Fanout without the ops topic: %v", err)
	}
	if _, err := env.API(); err == nil || !strings.Contains(err.Error(), config.EnvGlobalTable) {
		t.Errorf("API without the global table: %v", err)
	}
	t.Setenv(config.EnvOpsTopicArn, "arn:aws:sns:eu-central-1:123456789012:ops")
	t.Setenv(config.EnvGlobalTable, "g")
	if f, err := env.Fanout(); err != nil || f == nil {
		t.Errorf("Fanout: %v", err)
	}
	if a, err := env.API(); err != nil || a == nil {
		t.Errorf("API: %v", err)
	}
	if env.receivedIn() != "eu-central-1" {
		t.Errorf("receivedIn = %s", env.receivedIn())
	}
}
