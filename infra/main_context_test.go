package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
)

func TestConfigFromContext(t *testing.T) {
	const one = `{"regions":[{"name":"ap","awsRegion":"ap-southeast-2","subsystems":[{"name":"crm","mode":"sync","baseUrl":"https://crm.example.com"}]}]}`
	tests := []struct {
		name    string
		context map[string]any
		want    string
		wantErr string
	}{
		{"-c override arrives as a string", map[string]any{"lethe": one}, "ap", ""},
		{"cdk.json object", map[string]any{"lethe": map[string]any{"regions": []any{map[string]any{
			"name": "eu", "awsRegion": "eu-west-1",
			"subsystems": []any{map[string]any{"name": "crm", "mode": "async", "baseUrl": "https://crm.example.com"}},
		}}}}, "eu", ""},
		{"missing", map[string]any{}, "", "missing"},
		{"bad key named", map[string]any{"lethe": strings.Replace(one, `"sync"`, `"later"`, 1)}, "", "regions[0].subsystems[0].mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := awscdk.NewApp(&awscdk.AppProps{Context: &tt.context})
			cfg, err := ConfigFromContext(app)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Regions[0].Name != tt.want {
				t.Errorf("region = %s, want %s", cfg.Regions[0].Name, tt.want)
			}
		})
	}
}
