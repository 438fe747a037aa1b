package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/lethe-erasure/lethe/internal/config"
)

// TopicsProps configures the region's SNS topics.
type TopicsProps struct {
	Region config.Region
	Key    awskms.IKey
}

// Topics are the failure topics: one per subsystem, whose subscribers are
// that subsystem's admins, and the ops topic for Lethe's operators.
type Topics struct {
	// Subsystem maps a subsystem name to its topic.
	Subsystem map[string]awssns.Topic
	Ops       awssns.Topic
	// Notices carries the subject notices (a deadline's extension) for the
	// product that holds the person's contact details to relay; its
	// subscribers are that product's, not e-mails Lethe configures.
	Notices   awssns.Topic
	key       awskms.IKey
	awsRegion string
}

// SubsystemTopicName is the name of a subsystem's failure topic.
func SubsystemTopicName(region, subsystem string) string {
	return fmt.Sprintf("lethe-%s-%s-failures", region, subsystem)
}

// OpsTopicName is the name of a region's ops topic.
func OpsTopicName(region string) string { return fmt.Sprintf("lethe-%s-ops", region) }

// NoticesTopicName is the name of a region's subject-notices topic.
func NoticesTopicName(region string) string { return fmt.Sprintf("lethe-%s-subject-notices", region) }

// NewTopics creates the topics, encrypted with the data key and refusing
// publishers that do not use TLS, and subscribes each subsystem's admin
// e-mails from the configuration, and the region's ops e-mails to the ops
// topic.
func NewTopics(scope constructs.Construct, id string, p TopicsProps) Topics {
	c := constructs.NewConstruct(scope, jsii.String(id))
	t := Topics{Subsystem: map[string]awssns.Topic{}, key: p.Key, awsRegion: p.Region.AWSRegion}
	for _, s := range p.Region.Subsystems {
		topic := awssns.NewTopic(c, jsii.String("Subsystem-"+s.Name), &awssns.TopicProps{
			TopicName:   jsii.String(SubsystemTopicName(p.Region.Name, s.Name)),
			DisplayName: jsii.String(fmt.Sprintf("Lethe %s: erasure failures in %s", p.Region.Name, s.Name)),
			MasterKey:   p.Key,
			EnforceSSL:  jsii.Bool(true),
		})
		for _, email := range s.AdminEmails {
			topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(email), nil))
		}
		t.Subsystem[s.Name] = topic
	}
	t.Ops = awssns.NewTopic(c, jsii.String("Ops"), &awssns.TopicProps{
		TopicName:   jsii.String(OpsTopicName(p.Region.Name)),
		DisplayName: jsii.String(fmt.Sprintf("Lethe %s: operations", p.Region.Name)),
		MasterKey:   p.Key,
		EnforceSSL:  jsii.Bool(true),
	})
	for _, email := range p.Region.OpsEmails {
		t.Ops.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(email), nil))
	}
	t.Notices = awssns.NewTopic(c, jsii.String("Notices"), &awssns.TopicProps{
		TopicName:   jsii.String(NoticesTopicName(p.Region.Name)),
		DisplayName: jsii.String(fmt.Sprintf("Lethe %s: notices to data subjects (ids and dates only)", p.Region.Name)),
		MasterKey:   p.Key,
		EnforceSSL:  jsii.Bool(true),
	})
	return t
}

// GrantPublish lets a role publish to the given topics, including the use
// of the data key through SNS that publishing to an encrypted topic needs.
func (t Topics) GrantPublish(role awsiam.IRole, topics ...awssns.ITopic) {
	grantPublish(role, t.key, t.awsRegion, topics...)
}

func grantPublish(role awsiam.IRole, key awskms.IKey, awsRegion string, topics ...awssns.ITopic) {
	arns := make([]string, len(topics))
	for i, topic := range topics {
		arns[i] = *topic.TopicArn()
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("sns:Publish"),
		Resources: jsii.Strings(arns...),
	}))
	grantKeyUse(role, key, "sns", awsRegion, "kms:GenerateDataKey", "kms:Decrypt")
}

// NewEdgeOpsTopic creates the edge's ops topic (a quarantined delivery, a
// delivery no region accepted), encrypted with the edge's data key,
// refusing publishers without TLS, with the edge's ops e-mails subscribed.
func NewEdgeOpsTopic(scope constructs.Construct, id string, edge config.Edge, key awskms.IKey) awssns.Topic {
	topic := awssns.NewTopic(scope, jsii.String(id), &awssns.TopicProps{
		TopicName:   jsii.String(OpsTopicName(config.EdgeScope)),
		DisplayName: jsii.String("Lethe edge: operations"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	for _, email := range edge.OpsEmails {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(email), nil))
	}
	return topic
}

// SubsystemTopics lists the subsystem topics in configuration order.
func (t Topics) SubsystemTopics(region config.Region) []awssns.ITopic {
	var out []awssns.ITopic
	for _, s := range region.Subsystems {
		out = append(out, t.Subsystem[s.Name])
	}
	return out
}
