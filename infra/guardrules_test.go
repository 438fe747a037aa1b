package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
)

// guardTool is the cfn-guard binary and Control Tower's rules from the
// npm package @cdklabs/cdk-validator-cfnguard (make setup installs it).
func guardTool(t *testing.T, root string) (bin, rules string) {
	t.Helper()
	pkg := filepath.Join(root, ".tools", "node_modules", "@cdklabs", "cdk-validator-cfnguard")
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	src := filepath.Join(pkg, "bin", "ubuntu", arch, "cfn-guard")
	in, err := os.Open(src)
	if err != nil {
		t.Fatalf("cfn-guard: %v (run make setup)", err)
	}
	defer in.Close()
	// npm does not keep the file mode: run a copy made executable.
	bin = filepath.Join(t.TempDir(), "cfn-guard")
	out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
	return bin, filepath.Join(pkg, "rules", "control-tower", "cfn-guard")
}

// guardFailure is one failed rule on one resource.
type guardFailure struct{ Rule, Path string }

var resourceRE = regexp.MustCompile(`/Resources/([A-Za-z0-9]+)`)

// guardFailures runs the rules on a template and returns its failures by
// rule and CDK path.
func guardFailures(t *testing.T, bin, rules string, tpl map[string]any, paths map[string]string) []guardFailure {
	t.Helper()
	data := filepath.Join(t.TempDir(), "template.json")
	b, _ := json.Marshal(tpl)
	if err := os.WriteFile(data, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(bin, "validate", "--rules", rules, "--data", data, "--show-summary", "none",
		"--output-format", "json", "--structured").Output() // exits 19 when a rule fails
	var reports []struct {
		NotCompliant []struct {
			Rule struct {
				Name string `json:"name"`
			} `json:"Rule"`
		} `json:"not_compliant"`
	}
	if err := json.Unmarshal(out, &reports); err != nil {
		t.Fatalf("cfn-guard's answer: %v: %.300s", err, out)
	}
	var raw []json.RawMessage
	_ = json.Unmarshal(out, &raw)
	seen := map[guardFailure]bool{}
	var fails []guardFailure
	for i, r := range reports {
		var full struct {
			NotCompliant []json.RawMessage `json:"not_compliant"`
		}
		_ = json.Unmarshal(raw[i], &full)
		for j, nc := range r.NotCompliant {
			for _, m := range resourceRE.FindAllStringSubmatch(string(full.NotCompliant[j]), -1) {
				path, ok := paths[m[1]]
				if !ok {
					path = m[1]
				}
				f := guardFailure{nc.Rule.Name, path}
				if !seen[f] {
					seen[f] = true
					fails = append(fails, f)
				}
			}
		}
	}
	return fails
}

// cdkPaths maps each resource's logical id in stack to its construct path
// ("Lethe-eu/Fn-api/Function/Resource").
func cdkPaths(stack awscdk.Stack) map[string]string {
	out := map[string]string{}
	for _, c := range *stack.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if el, ok := c.(awscdk.CfnElement); ok {
			if id, ok := stack.Resolve(el.LogicalId()).(string); ok {
				out[id] = *c.Node().Path()
			}
		}
	}
	return out
}

// acceptedBy lists the AcceptedGuardFailures entries that accept f.
func acceptedBy(f guardFailure) []int {
	var out []int
	for i, a := range AcceptedGuardFailures {
		if a.Rule == f.Rule && regexp.MustCompile("^(?:"+a.Path+")$").MatchString(f.Path) {
			out = append(out, i)
		}
	}
	return out
}

// TestControlTowerGuardRules: every synthesized template passes AWS
// Control Tower's proactive controls but for the failures
// AcceptedGuardFailures gives a reason for, and every accepted entry still
// matches a failure.
func TestControlTowerGuardRules(t *testing.T) {
	s := synth(t)
	bin, rules := guardTool(t, s.root)
	used := make([]bool, len(AcceptedGuardFailures))
	names := make([]string, 0, len(s.json))
	for name := range s.json {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		stack := s.edge.Stack
		if st, ok := s.stacks[name]; ok {
			stack = st.Stack
		}
		fails := guardFailures(t, bin, rules, s.json[name], cdkPaths(stack))
		for _, f := range fails {
			matched := acceptedBy(f)
			for _, i := range matched {
				used[i] = true
			}
			if len(matched) == 0 {
				t.Errorf("%s: rule %s fails on %s", name, f.Rule, f.Path)
			}
		}
	}
	for i, u := range used {
		if !u {
			t.Errorf("accepted failure %s on %s matches nothing any more: remove it", AcceptedGuardFailures[i].Rule, AcceptedGuardFailures[i].Path)
		}
	}
}
