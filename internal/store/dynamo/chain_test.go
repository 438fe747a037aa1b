package dynamo

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/store/storetest"
)

// TestAuditChainOnDynamoDBLocal: a writer holding a stale head cannot
// overwrite an entry (the conditional put refuses it), and verification
// names an altered and a deleted entry.
func TestAuditChainOnDynamoDBLocal(t *testing.T) {
	s, client, table := newTable(t)
	ctx := context.Background()
	for i := range 3 {
		rec, _ := audit.New("", storetest.T0, "local:ops", audit.ActionSuppressionCheck, map[string]string{"checked": string(rune('1' + i))})
		if err := s.AppendAudit(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := storetest.VerifyChain(ctx, s); err != nil || n != 3 {
		t.Fatalf("chain %d, %v", n, err)
	}
	// A writer that read the head when it was at entry 1 tries to append.
	stale, _ := s.AuditFrom(ctx, 1, 1)
	rec, _ := audit.New("", storetest.T0, "local:forger", audit.ActionSuppressionCheck, nil)
	tx, err := s.auditWrites(audit.Head{Seq: 1, Hash: stale[0].Hash}, []audit.Record{rec})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || aws.ToString(tce.CancellationReasons[0].Code) != reasonConditionFailed {
		t.Fatalf("stale append: %v", err)
	}
	if got, _ := s.AuditFrom(ctx, 2, 1); got[0].Actor == "local:forger" {
		t.Fatal("entry 2 was overwritten")
	}

	// Altered entry 2: verification names it.
	if _, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key(AuditKey(2)),
		UpdateExpression:          aws.String("SET actor = :a"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": &types.AttributeValueMemberS{Value: "local:someone-else"}}}); err != nil {
		t.Fatal(err)
	}
	var b *audit.Broken
	if _, err := storetest.VerifyChain(ctx, s); !errors.As(err, &b) || b.Seq != 2 {
		t.Fatalf("altered entry: %v", err)
	}
	// Deleted entry 2: verification names it missing.
	if _, err := client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: key(AuditKey(2))}); err != nil {
		t.Fatal(err)
	}
	if _, err := storetest.VerifyChain(ctx, s); !errors.As(err, &b) || b.Seq != 2 {
		t.Fatalf("deleted entry: %v", err)
	}
}

// TestCloseRemovesTheSubjectAttribute: on DynamoDB Local, the item of a
// completed request has no subjectId attribute at all, and its keyed hash
// is on the suppression record written in the same transaction.
func TestCloseRemovesTheSubjectAttribute(t *testing.T) {
	s, client, table := newTable(t)
	ctx := context.Background()
	req := storetest.MustCreate(t, s, storetest.NewRequest(t, "nina@example.com"), "")
	if _, err := s.RecordOutcome(ctx, req.ID, erasure.StatusCompleted, storetest.T0, nil); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key(req.ID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := out.Item["subjectId"]; ok || out.Item["forgottenAt"] == nil {
		t.Fatalf("closed item still holds subjectId (or no forgottenAt): %v", out.Item)
	}
	sup, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key(erasedKey(req.SubjectHash)), ConsistentRead: aws.Bool(true)})
	if err != nil || sup.Item == nil {
		t.Fatalf("no suppression record: %v", err)
	}
}
