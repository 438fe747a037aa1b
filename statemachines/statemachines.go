// Package statemachines holds Lethe's state machine definitions, the
// Amazon States Language files beside this one, embedded so that the CDK
// app, the local runtime and the tests all read the very same bytes.
package statemachines

import (
	"embed"
	"fmt"

	"github.com/lethe-erasure/lethe/internal/registry"
)

//go:embed *.asl.json
var files embed.FS

// Definition returns the ASL text of a machine named in registry.Machines,
// with its ${Placeholders} still in place.
func Definition(name string) (string, error) {
	b, err := files.ReadFile(name + ".asl.json")
	if err != nil {
		return "", fmt.Errorf("state machine %q: %w", name, err)
	}
	return string(b), nil
}

// Substituted returns a machine's definition with every placeholder filled
// from values (keyed by placeholder name), failing on any without a value.
func Substituted(name string, values map[string]string) (string, error) {
	def, err := Definition(name)
	if err != nil {
		return "", err
	}
	out, err := registry.Substitute(def, values)
	if err != nil {
		return "", fmt.Errorf("state machine %q: %w", name, err)
	}
	return out, nil
}
