// Command infra is Lethe's CDK app: one independent stack Lethe-<region>
// per region of the configuration in cdk.json's "lethe" context.
// `cdk synth` runs it (cdk.json: "go run ./infra"); `make build` must have
// built the Lambda binaries first.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/registry"
)

func main() {
	defer jsii.Close()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "lethe infra:", err)
		jsii.Close()
		os.Exit(1)
	}
}

func run() error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := findModuleRoot(wd)
	if err != nil {
		return err
	}
	app := awscdk.NewApp(nil)
	cfg, err := ConfigFromContext(app)
	if err != nil {
		return err
	}
	buildDir := filepath.Join(root, "build")
	if err := checkBinaries(buildDir, registry.Functions); err != nil {
		return err
	}
	if _, err := NewApp(app, AppProps{Config: cfg, RootDir: root, BuildDir: buildDir}); err != nil {
		return err
	}
	app.Synth(nil)
	return nil
}

// ConfigFromContext reads Lethe's configuration from the app's context key
// "lethe": cdk.json's context by default, or a `-c lethe=<json>` override
// (which arrives as a string). cdk.json stays the one source.
func ConfigFromContext(app awscdk.App) (*config.Config, error) {
	raw := app.Node().TryGetContext(jsii.String(config.ContextKey))
	if raw == nil {
		return nil, fmt.Errorf("context key %q is missing (cdk.json)", config.ContextKey)
	}
	var data []byte
	if s, ok := raw.(string); ok {
		data = []byte(s)
	} else {
		var err error
		if data, err = json.Marshal(raw); err != nil {
			return nil, fmt.Errorf("context %q: %w", config.ContextKey, err)
		}
	}
	return config.Parse(data)
}

// AppProps configures the app.
type AppProps struct {
	Config *config.Config
	// RootDir is the folder that holds go.mod.
	RootDir string
	// BuildDir holds <function>/bootstrap; default RootDir/build.
	BuildDir string
}

// NewApp adds one stack per configured region to app, each with the
// region's AWS environment (and account when configured), and runs
// cdk-nag's AwsSolutions checks on all of them: findings are error
// annotations that fail `cdk synth`.
func NewApp(app awscdk.App, p AppProps) (map[string]*RegionalStack, error) {
	stacks := map[string]*RegionalStack{}
	for _, r := range p.Config.Regions {
		env := &awscdk.Environment{Region: jsii.String(r.AWSRegion)}
		if r.Account != "" {
			env.Account = jsii.String(r.Account)
		}
		s, err := NewRegionalStack(app, StackName(r.Name), RegionalStackProps{
			StackProps: awscdk.StackProps{
				StackName:   jsii.String(StackName(r.Name)),
				Env:         env,
				Description: jsii.String(fmt.Sprintf("Lethe %s: GDPR erasure for the region's subsystems", r.Name)),
			},
			Config: p.Config, RegionName: r.Name, RootDir: p.RootDir, BuildDir: p.BuildDir,
		})
		if err != nil {
			return nil, err
		}
		stacks[r.Name] = s
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	return stacks, nil
}
