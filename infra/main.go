// Command infra is Lethe's CDK app: one independent stack Lethe-<region>
// per region of the configuration in cdk.json's "lethe" context, and the
// edge stack Lethe-edge when the configuration places the edge.
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
	"github.com/lethe-erasure/lethe/internal/webhook"
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
	if err := checkBinaries(buildDir, DeployedFunctions(cfg)); err != nil {
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

// Stacks are the app's stacks.
type Stacks struct {
	// Regions maps a region's short name to its stack.
	Regions map[string]*RegionalStack
	// Edge is nil when the configuration has no edge.awsRegion.
	Edge *EdgeStack
}

// DeployedFunctions lists the function folders the app packages: every
// regional function, and the edge's when the edge is configured.
func DeployedFunctions(cfg *config.Config) []string {
	fns := append([]string{}, registry.Functions...)
	if cfg.Edge.AWSRegion != "" {
		fns = append(fns, registry.EdgeFunctions...)
	}
	return fns
}

// NewApp adds one stack per configured region to app, each with the
// region's AWS environment (and account when configured), and the edge
// stack when the configuration places the edge, and runs cdk-nag's
// AwsSolutions checks on all of them: findings are error annotations that
// fail `cdk synth`. The stacks share no resource and no reference: each
// deploys on its own, in its own AWS region.
func NewApp(app awscdk.App, p AppProps) (*Stacks, error) {
	if err := webhook.CheckMulticast(p.Config.Edge.MulticastTopics); err != nil {
		return nil, err
	}
	stacks := &Stacks{Regions: map[string]*RegionalStack{}}
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
		stacks.Regions[r.Name] = s
	}
	if e := p.Config.Edge; e.AWSRegion != "" {
		env := &awscdk.Environment{Region: jsii.String(e.AWSRegion)}
		if e.Account != "" {
			env.Account = jsii.String(e.Account)
		}
		edge, err := NewEdgeStack(app, EdgeStackName, EdgeStackProps{
			StackProps: awscdk.StackProps{
				StackName:   jsii.String(EdgeStackName),
				Env:         env,
				Description: jsii.String("Lethe edge: integrations' webhooks to each tenant's home region, tenant directory, global erasures"),
			},
			Config: p.Config, RootDir: p.RootDir, BuildDir: p.BuildDir,
		})
		if err != nil {
			return nil, err
		}
		stacks.Edge = edge
	}
	awscdk.Aspects_Of(app).Add(nagChecks(), nil)
	return stacks, nil
}

// nagChecks is cdk-nag's AwsSolutions pack, verbose (each finding explains
// itself).
func nagChecks() awscdk.IAspect {
	return cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)})
}
