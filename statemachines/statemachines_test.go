package statemachines

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/lethe-erasure/lethe/internal/registry"
)

// TestEveryFileIsRegistered keeps the folder and the registry in step: a
// file nobody deploys, or a registered machine without a file, is a bug.
func TestEveryFileIsRegistered(t *testing.T) {
	paths, err := filepath.Glob("*.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	var onDisk, registered []string
	for _, p := range paths {
		onDisk = append(onDisk, strings.TrimSuffix(p, ".asl.json"))
	}
	for _, m := range registry.Machines {
		registered = append(registered, m.Name)
	}
	sort.Strings(onDisk)
	sort.Strings(registered)
	if strings.Join(onDisk, ",") != strings.Join(registered, ",") {
		t.Fatalf("files %v, registry %v", onDisk, registered)
	}
}

// TestPlaceholdersHaveSubstitutions checks every ${Name} in every file is in
// the registry, and every registry entry is used by some file.
func TestPlaceholdersHaveSubstitutions(t *testing.T) {
	used := map[string]bool{}
	for _, m := range registry.Machines {
		def, err := Definition(m.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range registry.Find(def) {
			if _, ok := registry.Lookup(name); !ok {
				t.Errorf("%s uses ${%s}, which the registry does not know", m.Name, name)
			}
			used[name] = true
		}
		values := map[string]string{}
		for _, p := range registry.Placeholders {
			values[p.Name] = "arn:aws:states:eu-west-1:123456789012:x:" + p.Target
		}
		out, err := Substituted(m.Name, values)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "${") {
			t.Errorf("%s still holds a placeholder after substitution", m.Name)
		}
		if !json.Valid([]byte(out)) {
			t.Errorf("%s is not valid JSON after substitution", m.Name)
		}
	}
	for _, p := range registry.Placeholders {
		if !used[p.Name] {
			t.Errorf("registry placeholder ${%s} is used by no file", p.Name)
		}
	}
	if _, err := Substituted(registry.MachineErasure, map[string]string{}); err == nil {
		t.Error("substituting with no values succeeded; want an error naming the missing placeholders")
	}
}

// TestOperatorStateNames pins the state names DESIGN.md gives operators,
// which they read in the Step Functions console.
func TestOperatorStateNames(t *testing.T) {
	want := map[string][]string{
		registry.MachineErasure:       {"LoadSubsystems", "EraseInEverySubsystem", "SyncDeletion", "AsyncDeletion", "RecordOutcome", "NotifyFailure"},
		registry.MachineSyncDeletion:  {"DeleteUserData", "CheckUserDeleted", "UserDeletedSuccessfully", "UserDeletionFailed"},
		registry.MachineAsyncDeletion: {"DeleteUserData", "CheckUserDeleted", "IsUserDeleted", "WaitForUserDeletion", "UserDeletedSuccessfully", "UserDeletionFailed"},
	}
	for machine, names := range want {
		states := stateNames(t, machine)
		for _, n := range names {
			if !states[n] {
				t.Errorf("%s has no state %q", machine, n)
			}
		}
	}
}

// TestNoSubjectIDInDefinitions guards the rule that execution data never
// holds the subject id: no file may select a subjectId field.
func TestNoSubjectIDInDefinitions(t *testing.T) {
	for _, m := range registry.Machines {
		def, err := Definition(m.Name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.ToLower(def), "subjectid") {
			t.Errorf("%s mentions subjectId; executions must carry the request id only", m.Name)
		}
	}
}

// TestFilesMatchEmbedded makes sure the embedded copy is the file on disk.
func TestFilesMatchEmbedded(t *testing.T) {
	for _, m := range registry.Machines {
		disk, err := os.ReadFile(m.Name + ".asl.json")
		if err != nil {
			t.Fatal(err)
		}
		def, _ := Definition(m.Name)
		if string(disk) != def {
			t.Errorf("%s: embedded definition differs from the file", m.Name)
		}
	}
}

// stateNames returns every state name of a machine, nested ones included.
func stateNames(t *testing.T, machine string) map[string]bool {
	t.Helper()
	def, err := Definition(machine)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal([]byte(def), &doc); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if states, ok := x["States"].(map[string]any); ok {
				for n := range states {
					names[n] = true
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)
	return names
}
