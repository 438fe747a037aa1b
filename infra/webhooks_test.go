package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/lethe-erasure/lethe/internal/config"
)

// forEachReceiver runs f on each regional stack that deploys the webhook
// receiver.
func forEachReceiver(t *testing.T, f func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any)) {
	forEachRegion(t, func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any) {
		if st.Webhooks == nil {
			t.Skip("the region does not deploy the webhook receiver")
		}
		f(t, s, st, tpl)
	})
}

func TestWebhookQueues(t *testing.T) {
	forEachReceiver(t, func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any) {
		queues := resources(tpl, "AWS::SQS::Queue")
		dataKey := toJSON(t, map[string]any{"Fn::GetAtt": []any{cfnID(t, st, st.Keys.Data), "Arn"}})
		qID, dlqID := cfnID(t, st, st.Webhooks.Queue), cfnID(t, st, st.Webhooks.DLQ)
		for _, id := range []string{qID, dlqID} {
			p := props(queues[id])
			// Webhook bodies may name people: the customer-managed key.
			if got := toJSON(t, p["KmsMasterKeyId"]); got != dataKey {
				t.Errorf("queue %v: KmsMasterKeyId = %s, want the data key %s", p["QueueName"], got, dataKey)
			}
			if p["SqsManagedSseEnabled"] == true {
				t.Errorf("queue %v: SQS-managed encryption instead of the data key", p["QueueName"])
			}
		}
		q, dlq := props(queues[qID]), props(queues[dlqID])
		if q["QueueName"] != WebhookQueueName(st.Region.Name) || dlq["QueueName"] != WebhookQueueName(st.Region.Name)+"-dlq" {
			t.Errorf("queue names = %v, %v", q["QueueName"], dlq["QueueName"])
		}
		want := toJSON(t, map[string]any{
			"deadLetterTargetArn": map[string]any{"Fn::GetAtt": []any{dlqID, "Arn"}},
			"maxReceiveCount":     WebhookMaxReceives,
		})
		if got := toJSON(t, q["RedrivePolicy"]); got != want {
			t.Errorf("RedrivePolicy = %s, want %s", got, want)
		}
		if q["MessageRetentionPeriod"] != float64(WebhookQueueRetentionDays*86400) || dlq["MessageRetentionPeriod"] != float64(WebhookDLQRetentionDays*86400) {
			t.Errorf("retention = %v, %v", q["MessageRetentionPeriod"], dlq["MessageRetentionPeriod"])
		}
		// Each queue refuses requests without TLS.
		for _, id := range []string{qID, dlqID} {
			found := false
			for _, pol := range resources(tpl, "AWS::SQS::QueuePolicy") {
				j := toJSON(t, pol)
				if strings.Contains(toJSON(t, props(pol)["Queues"]), `"`+id+`"`) && strings.Contains(j, `"aws:SecureTransport":"false"`) && strings.Contains(j, `"Effect":"Deny"`) {
					found = true
				}
			}
			if !found {
				t.Errorf("queue %s has no policy denying requests without TLS", id)
			}
		}
		alarm := props(resources(tpl, "AWS::CloudWatch::Alarm")[cfnID(t, st, st.Monitoring.Alarms["queue/webhooks-dead-letter"])])
		if got := toJSON(t, alarm["AlarmActions"]); got != toJSON(t, []any{map[string]any{"Ref": cfnID(t, st, st.Topics.Ops)}}) {
			t.Errorf("DLQ alarm actions = %s", got)
		}
		if !strings.Contains(toJSON(t, alarm["Dimensions"]), `"GetAtt":["`+dlqID+`","QueueName"]`) && !strings.Contains(toJSON(t, alarm["Dimensions"]), dlqID) {
			t.Errorf("DLQ alarm watches %s", toJSON(t, alarm["Dimensions"]))
		}
	})
}

func TestWebhookReceiverGrants(t *testing.T) {
	forEachReceiver(t, func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any) {
		role := cfnID(t, st, st.Webhooks.Receiver.Role)
		sts := roleStatements(t, tpl)[role]
		for action, want := range map[string]string{
			"sqs:SendMessage":  cfnID(t, st, st.Webhooks.Queue),
			"sns:Publish":      cfnID(t, st, st.Topics.Ops),
			"dynamodb:PutItem": cfnID(t, st, st.Table.Table),
			"dynamodb:GetItem": cfnID(t, st, st.Table.Table),
		} {
			got := resourcesOf(sts, action)
			if !strings.Contains(got, `"`+want+`"`) {
				t.Errorf("%s on %s, want %s", action, got, want)
			}
			for id := range tpl["Resources"].(map[string]any) {
				if id != want && strings.Contains(got, `"`+id+`"`) {
					t.Errorf("%s also on %s", action, id)
				}
			}
		}
		// The region's webhook secrets, and the subject key (the receiver
		// files requests, naming their subjects), and nothing else.
		secret := resourcesOf(sts, "secretsmanager:GetSecretValue")
		wantSecret := ":secretsmanager:" + st.Region.AWSRegion + ":"
		subjectKey := cfnID(t, st, st.Proof.SubjectKey)
		if !strings.Contains(secret, wantSecret) || !strings.Contains(secret, `:secret:lethe/`+st.Region.Name+`/webhooks/*"]]}`) ||
			!strings.Contains(secret, `{"Ref":"`+subjectKey+`"}`) || strings.Count(secret, `"Ref":"Proof`) != 1 {
			t.Errorf("GetSecretValue on %s", secret)
		}
		// The pattern covers the names config gives the region's webhook
		// secrets, and no other scope's.
		for _, c := range []struct {
			scope string
			ok    bool
		}{{st.Region.Name, true}, {config.EdgeScope, false}, {"other", false}} {
			name := config.WebhookSecretName(c.scope, "shopify", "eu-shop.myshopify.com") + "-AbCdEf"
			if ok := iamMatch(webhookSecretsPattern(st.Region.Name), name); ok != c.ok {
				t.Errorf("pattern %s matches %s = %v", webhookSecretsPattern(st.Region.Name), name, ok)
			}
		}
		if got := props(resources(tpl, "AWS::Lambda::Function")[cfnID(t, st, st.Webhooks.Receiver.Function)])["Timeout"]; got != float64(10) {
			t.Errorf("receiver timeout = %v", got)
		}
	})
}

// iamMatch matches an IAM resource pattern, whose * spans any characters,
// slashes included.
func iamMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(s)
}
