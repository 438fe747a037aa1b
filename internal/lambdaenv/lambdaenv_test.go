package lambdaenv

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-erasure/lethe/internal/config"
)

func regionJSON(t *testing.T, name string) string {
	t.Helper()
	c, err := config.Load(filepath.Join("..", "..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.ForRegion(name)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(r)
	return string(b)
}

func TestLoad(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv(config.EnvConfig, regionJSON(t, "eu"))
	t.Setenv(config.EnvRegion, "eu")
	t.Setenv(config.EnvTableName, "lethe-eu-requests")
	env, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if env.Region.Name != "eu" || env.AWS.Region != "eu-west-1" {
		t.Errorf("region %q, AWS region %q", env.Region.Name, env.AWS.Region)
	}
	if _, err := env.Requests(); err != nil {
		t.Error(err)
	}
	if _, err := env.Connector(); err != nil {
		t.Error(err)
	}
}

// TestLogNamesRegionAndFunction: every line of a function's log says
// which region and function wrote it.
func TestLogNamesRegionAndFunction(t *testing.T) {
	t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "Lethe-eu-api")
	var buf bytes.Buffer
	NewLog(&buf, "eu").Info("api request", "requestId", "er_eu_1")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line["region"] != "eu" || line["function"] != "Lethe-eu-api" || line["requestId"] != "er_eu_1" {
		t.Errorf("log line %s (%v)", buf.String(), err)
	}
}

func TestLoadRefusesMismatchAndMissing(t *testing.T) {
	t.Setenv(config.EnvConfig, regionJSON(t, "eu"))
	t.Setenv(config.EnvRegion, "us")
	if _, err := Load(context.Background()); err == nil || !strings.Contains(err.Error(), config.EnvRegion) {
		t.Errorf("Load with LETHE_REGION=us and the eu configuration = %v", err)
	}
	t.Setenv(config.EnvRegion, "")
	t.Setenv(config.EnvConfig, "")
	if _, err := Load(context.Background()); err == nil || !strings.Contains(err.Error(), config.EnvConfig) {
		t.Errorf("Load without LETHE_CONFIG = %v", err)
	}
	t.Setenv(config.EnvConfig, regionJSON(t, "eu"))
	t.Setenv(config.EnvTableName, "")
	env, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Requests(); err == nil || !strings.Contains(err.Error(), config.EnvTableName) {
		t.Errorf("Requests without a table name = %v", err)
	}
}
