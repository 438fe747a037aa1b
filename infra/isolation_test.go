package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/lethe-erasure/lethe/internal/config"
)

// names returns what would betray a region in a template: its AWS region,
// stack and resource name prefixes, request-id prefix, its short name as a
// whole JSON string (tags, LETHE_REGION, LETHE_CONFIG) and its subsystems'
// base URLs.
func names(r config.Region) []string {
	out := []string{
		r.AWSRegion, StackName(r.Name), "Lethe-" + r.Name + "-", "lethe-" + r.Name + "-", "lethe/" + r.Name + "/",
		"er_" + r.Name + "_", `"` + r.Name + `"`, `\"` + r.Name + `\"`,
	}
	for _, s := range r.Subsystems {
		out = append(out, s.BaseURL)
	}
	return out
}

func TestNoOtherRegionInTemplate(t *testing.T) {
	s := synth(t)
	if len(s.cfg.Regions) < 2 {
		t.Skip("the default configuration has one region only")
	}
	forEachRegion(t, func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any) {
		b, err := json.Marshal(tpl)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		own := map[string]bool{}
		for _, n := range names(st.Region) {
			own[n] = true
		}
		// Control: the search finds this region's own names.
		for _, n := range []string{st.Region.AWSRegion, "Lethe-" + st.Region.Name + "-", `"` + st.Region.Name + `"`} {
			if !strings.Contains(text, n) {
				t.Errorf("own name %s not found: the search would miss other regions too", n)
			}
		}
		for _, other := range s.cfg.Regions {
			if other.Name == st.Region.Name {
				continue
			}
			for _, n := range names(other) {
				if own[n] {
					continue
				}
				if i := strings.Index(text, n); i >= 0 {
					t.Errorf("template of %s names region %s (%s): ...%s...", st.Region.Name, other.Name, n, text[max(0, i-80):min(len(text), i+80)])
				}
			}
		}
	})
}

// The stacks deploy independently, each in its own AWS region: none
// imports another's outputs, exports its own for another, or depends on
// another. The edge knows the regions by configuration only (name, AWS
// region, API URL): no regional resource name, subsystem or admin, and no
// region knows the edge's names.
func TestStacksShareNoReference(t *testing.T) {
	s := synth(t)
	if s.edge == nil {
		t.Fatal("the default configuration places the edge (cdk.json edge.awsRegion)")
	}
	forEachStack(t, func(t *testing.T, s *synthesized, stack awscdk.Stack, tpl map[string]any) {
		b, _ := json.Marshal(tpl)
		text := string(b)
		for _, ref := range []string{"Fn::ImportValue", `"Export"`, "Custom::CrossRegion", "/cdk/exports/"} {
			if strings.Contains(text, ref) {
				t.Errorf("template has a cross-stack reference (%s)", ref)
			}
		}
		if deps := *stack.Dependencies(); len(deps) > 0 {
			for _, d := range deps {
				t.Errorf("depends on stack %s", *d.StackName())
			}
		}
	})
	edgeText := toJSON(t, s.json[config.EdgeScope])
	for _, r := range s.cfg.Regions {
		leaks := []string{StackName(r.Name) + `"`, "Lethe-" + r.Name + "-", "lethe-" + r.Name + "-", "lethe/" + r.Name + "/", "er_" + r.Name + "_"}
		for _, sub := range r.Subsystems {
			leaks = append(leaks, sub.BaseURL)
			leaks = append(leaks, sub.AdminEmails...)
		}
		for _, n := range leaks {
			if i := strings.Index(edgeText, n); i >= 0 {
				t.Errorf("the edge names region %s's %s: ...%s...", r.Name, n, edgeText[max(0, i-80):min(len(edgeText), i+80)])
			}
		}
		regional := toJSON(t, s.json[r.Name])
		for _, n := range append([]string{EdgeStackName, "Lethe-edge-", "lethe-edge-", "lethe/edge/"}, s.cfg.Edge.OpsEmails...) {
			if strings.Contains(regional, n) {
				t.Errorf("region %s names the edge's %s", r.Name, n)
			}
		}
	}
	// Control: the edge does know each region by configuration.
	for _, r := range s.cfg.Regions {
		if !strings.Contains(edgeText, r.AWSRegion) {
			t.Errorf("the edge's template does not name %s's AWS region: the search above would be blind", r.Name)
		}
	}
}

func TestCdkNagAwsSolutions(t *testing.T) {
	forEachStack(t, func(t *testing.T, s *synthesized, stack awscdk.Stack, tpl map[string]any) {
		findings := *assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
		for _, f := range findings {
			t.Errorf("%s: %v", *f.Id, f.Entry.Data)
		}
	})
}

// Every suppression says why, in the template the reviewers read.
func TestNagSuppressionsHaveReasons(t *testing.T) {
	forEachStack(t, func(t *testing.T, s *synthesized, stack awscdk.Stack, tpl map[string]any) {
		n := 0
		for id, r := range tpl["Resources"].(map[string]any) {
			md, _ := r.(map[string]any)["Metadata"].(map[string]any)
			nag, _ := md["cdk_nag"].(map[string]any)
			rules, _ := nag["rules_to_suppress"].([]any)
			for _, rule := range rules {
				rm := rule.(map[string]any)
				n++
				if reason, _ := rm["reason"].(string); len(reason) < 40 {
					t.Errorf("%s: suppression of %v has no real reason: %q", id, rm["id"], reason)
				}
			}
		}
		if n == 0 {
			t.Error("no cdk-nag suppressions found in the template: did the metadata move?")
		}
	})
}
