package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/lethe-erasure/lethe/internal/config"
)

// The infra tests synthesize real templates through the jsii runtime (a
// node process): run them with -count=1, since Go's test cache cannot see
// the files node reads.

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	for _, dir := range shared.tempDirs {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// synthesized is the default configuration's app, built once and shared by
// every test: synthesizing costs seconds per stack.
type synthesized struct {
	cfg  *config.Config
	root string
	// stacks are the regional stacks; edge is the edge stack, with its
	// template and JSON under the key config.EdgeScope in templates and json.
	stacks    map[string]*RegionalStack
	edge      *EdgeStack
	templates map[string]assertions.Template
	json      map[string]map[string]any
	err       error
	// tempDirs are removed when the tests end.
	tempDirs []string
}

var (
	shared     synthesized
	sharedOnce sync.Once
)

// testBuildDir returns build/ when `make build` has produced every
// function's binary. Otherwise it returns a temporary folder for this test
// run only, with the real binaries that exist and a placeholder bootstrap
// for each missing one, and says so: the templates do not depend on the
// binaries' content, only the asset hashes do. The real app never does
// this (checkBinaries fails synth instead).
func testBuildDir(root string, functions []string) (string, []string, error) {
	build := filepath.Join(root, "build")
	if checkBinaries(build, functions) == nil {
		return build, nil, nil
	}
	tmp, err := os.MkdirTemp("", "lethe-infra-test-build-")
	if err != nil {
		return "", nil, err
	}
	var placeholders []string
	for _, fn := range functions {
		if err := os.MkdirAll(filepath.Join(tmp, fn), 0o755); err != nil {
			return "", nil, err
		}
		content := []byte("placeholder bootstrap for infra tests only\n")
		if real, err := os.ReadFile(filepath.Join(build, fn, "bootstrap")); err == nil {
			content = real
		} else {
			placeholders = append(placeholders, fn)
		}
		if err := os.WriteFile(filepath.Join(tmp, fn, "bootstrap"), content, 0o755); err != nil {
			return "", nil, err
		}
	}
	return tmp, placeholders, nil
}

func synth(t *testing.T) *synthesized {
	t.Helper()
	sharedOnce.Do(func() {
		s := &shared
		wd, _ := os.Getwd()
		if s.root, s.err = findModuleRoot(wd); s.err != nil {
			return
		}
		if s.cfg, s.err = config.Load(filepath.Join(s.root, "cdk.json")); s.err != nil {
			return
		}
		buildDir, placeholders, err := testBuildDir(s.root, DeployedFunctions(s.cfg))
		if err != nil {
			s.err = err
			return
		}
		if buildDir != filepath.Join(s.root, "build") {
			s.tempDirs = append(s.tempDirs, buildDir)
		}
		if len(placeholders) > 0 {
			fmt.Printf("infra tests: no build/<fn>/bootstrap for %v (run `make build`); using placeholder assets in %s for this test run only\n", placeholders, buildDir)
		}
		outdir, err := os.MkdirTemp("", "lethe-infra-test-cdk.out-")
		if err != nil {
			s.err = err
			return
		}
		s.tempDirs = append(s.tempDirs, outdir)
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
		stacks, err := NewApp(app, AppProps{Config: s.cfg, RootDir: s.root, BuildDir: buildDir})
		if err != nil {
			s.err = err
			return
		}
		s.stacks, s.edge = stacks.Regions, stacks.Edge
		s.templates = map[string]assertions.Template{}
		s.json = map[string]map[string]any{}
		for name, st := range s.stacks {
			tpl := assertions.Template_FromStack(st.Stack, nil)
			s.templates[name] = tpl
			s.json[name] = *tpl.ToJSON()
		}
		if s.edge != nil {
			tpl := assertions.Template_FromStack(s.edge.Stack, nil)
			s.templates[config.EdgeScope] = tpl
			s.json[config.EdgeScope] = *tpl.ToJSON()
		}
	})
	if shared.err != nil {
		t.Fatalf("build the app: %v", shared.err)
	}
	return &shared
}

// check runs one assertions.Template check, which panics with a jsii error
// on failure, and reports that failure on t instead of aborting the run.
func check(t *testing.T, what string, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	assertion()
}
