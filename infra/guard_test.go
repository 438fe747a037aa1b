package main

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/config"
)

// guardOf returns, per role of the template, the AWS regions its region
// guard allows (nil when the role has none), and the statement's
// NotAction list.
func guardOf(t *testing.T, tpl map[string]any) (map[string][]string, map[string][]string) {
	t.Helper()
	regions, notActions := map[string][]string{}, map[string][]string{}
	for id := range resources(tpl, "AWS::IAM::Role") {
		regions[id] = nil
	}
	for _, p := range resources(tpl, "AWS::IAM::Policy") {
		for _, s := range props(p)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			st := s.(map[string]any)
			if st["Sid"] != GuardSid {
				continue
			}
			if st["Effect"] != "Deny" || st["Resource"] != "*" || st["Action"] != nil {
				t.Errorf("guard statement %v is not a Deny of NotAction on *", st)
			}
			cond := st["Condition"].(map[string]any)["StringNotEquals"].(map[string]any)["aws:RequestedRegion"]
			for _, r := range props(p)["Roles"].([]any) {
				id := r.(map[string]any)["Ref"].(string)
				regions[id] = strs(cond)
				notActions[id] = strs(st["NotAction"])
			}
		}
	}
	return regions, notActions
}

// TestRegionGuard: every role of a regional stack denies any action
// outside the stack's AWS region (but the global STS and IAM reads), and
// every role of the edge any action outside the configured regions.
func TestRegionGuard(t *testing.T) {
	check := func(t *testing.T, tpl map[string]any, want []string) {
		sort.Strings(want)
		regions, notActions := guardOf(t, tpl)
		if len(regions) == 0 {
			t.Fatal("no roles in the template")
		}
		for id, got := range regions {
			sort.Strings(got)
			if !cmp.Equal(got, want) {
				t.Errorf("role %s is confined to %v, want %v", id, got, want)
			}
			sort.Strings(notActions[id])
			if !cmp.Equal(notActions[id], []string{"iam:Get*", "iam:List*", "sts:*"}) {
				t.Errorf("role %s's guard lets %v through, want only the global STS and IAM reads", id, notActions[id])
			}
		}
	}
	forEachRegion(t, func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any) {
		r, _ := s.cfg.Region(st.Region.Name)
		check(t, tpl, []string{r.AWSRegion})
	})
	t.Run(config.EdgeScope, func(t *testing.T) {
		s, _, tpl := edge(t)
		want := []string{s.cfg.Edge.AWSRegion}
		for _, r := range s.cfg.Regions {
			if r.AWSRegion != s.cfg.Edge.AWSRegion {
				want = append(want, r.AWSRegion)
			}
		}
		check(t, tpl, want)
	})
}
