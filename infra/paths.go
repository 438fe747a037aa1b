package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// findModuleRoot returns the folder that holds go.mod, searching upwards from
// dir. `cdk synth` runs the app from the repository root and `go test` runs
// it from infra/; resolving every asset and state machine file from the
// module root makes both see the same files.
func findModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// checkBinaries fails when a function's bootstrap binary is missing, so that
// synth never packages an empty asset: `make build` must run first.
func checkBinaries(buildDir string, functions []string) error {
	var missing []string
	for _, fn := range functions {
		if _, err := os.Stat(filepath.Join(buildDir, fn, "bootstrap")); err != nil {
			missing = append(missing, filepath.Join(buildDir, fn, "bootstrap"))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing Lambda binaries %v: run `make build` first", missing)
	}
	return nil
}
