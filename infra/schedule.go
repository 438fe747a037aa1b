package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Schedule is an EventBridge Scheduler schedule invoking a function.
type Schedule struct {
	Schedule awsscheduler.CfnSchedule
	// Role is the scheduler's, allowed to invoke that function only.
	Role awsiam.Role
}

// scheduleHourly invokes fn every hour, with an empty input, through a role
// that may invoke fn alone (and, like every Lethe role, nothing outside
// awsRegion).
func scheduleHourly(scope constructs.Construct, id string, fn GoFunction, awsRegion string) Schedule {
	c := constructs.NewConstruct(scope, jsii.String(id))
	role := awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), nil),
		Description: jsii.String("EventBridge Scheduler's role: invokes " + *fn.Function.FunctionName() + " hourly"),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: jsii.Strings(*fn.Function.FunctionArn()),
	}))
	guardRegions(role, []string{awsRegion})
	s := awsscheduler.NewCfnSchedule(c, jsii.String("Schedule"), &awsscheduler.CfnScheduleProps{
		Description:        jsii.String("Lethe: " + id),
		ScheduleExpression: jsii.String("rate(1 hour)"),
		FlexibleTimeWindow: &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: jsii.String("OFF")},
		Target: &awsscheduler.CfnSchedule_TargetProperty{
			Arn: fn.Function.FunctionArn(), RoleArn: role.RoleArn(), Input: jsii.String("{}"),
		},
	})
	return Schedule{Schedule: s, Role: role}
}
