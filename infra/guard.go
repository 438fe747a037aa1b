package main

import (
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/lethe-erasure/lethe/internal/config"
)

// GuardSid names the statement of every Lethe role that denies work in
// other AWS regions.
const GuardSid = "DenyOutsideLetheRegions"

// globalActions are the actions the region guard lets through whatever
// region a request names, because their service answers from one place
// for every region: STS's global endpoint and IAM are signed for
// us-east-1. Lethe's roles are granted none of them today; the exception
// keeps an SDK's credential or identity lookup from being refused by the
// guard rather than by the missing grant.
var globalActions = []string{"sts:*", "iam:Get*", "iam:List*"}

// guardRegions adds to role an explicit deny of every action outside
// regions (aws:RequestedRegion), so that no grant, however broad, lets a
// regional function or machine move data to another region: a regional
// stack's roles are confined to its own AWS region, the edge's to the
// regions the configuration names.
func guardRegions(role awsiam.Role, regions []string) {
	regions = append([]string(nil), regions...)
	sort.Strings(regions)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String(GuardSid),
		Effect:     awsiam.Effect_DENY,
		NotActions: jsii.Strings(globalActions...),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringNotEquals": map[string]any{"aws:RequestedRegion": regions}},
	}))
}

// edgeRegions are the AWS regions the edge's functions act in: its own,
// and every configured region's, whose APIs they call.
func edgeRegions(cfg *config.Config) []string {
	seen := map[string]bool{cfg.Edge.AWSRegion: true}
	out := []string{cfg.Edge.AWSRegion}
	for _, r := range cfg.Regions {
		if !seen[r.AWSRegion] {
			seen[r.AWSRegion] = true
			out = append(out, r.AWSRegion)
		}
	}
	return out
}
