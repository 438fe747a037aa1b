package local

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/asl"
)

func TestOutboxConcurrentPublishers(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	o, err := NewOutbox(dir, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	topics := []string{"arn:aws:sns:eu-west-1:000000000000:lethe-eu-ops", "arn:aws:sns:eu-west-1:000000000000:lethe-eu-orders-failures"}
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id, err := o.Publish(context.Background(), asl.PublishInput{
				TopicArn: topics[i%2], Subject: "Lethe: erasure failed", Message: fmt.Sprintf("message %d %s", i, string(make([]byte, 2000))),
				MessageAttributes: map[string]any{"requestId": map[string]any{"DataType": "String", "StringValue": fmt.Sprint(i)}},
			})
			if err != nil {
				t.Error(err)
			}
			ids <- id
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if id == "" || seen[id] {
			t.Errorf("message id %q empty or repeated", id)
		}
		seen[id] = true
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, topic := range topics {
		f, err := os.Open(filepath.Join(dir, TopicName(topic)+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m OutboxMessage
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("line %q: %v", sc.Text()[:40], err)
			}
			if m.TopicArn != topic || !seen[m.MessageID] || !m.Time.Equal(at) || m.Subject == "" || m.MessageAttributes["requestId"] == nil {
				t.Errorf("message %+v", m)
			}
			total++
		}
		f.Close()
	}
	if total != n {
		t.Errorf("%d lines, want %d", total, n)
	}

	again, err := NewOutbox(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got := again.Recent(10); len(got) != 10 {
		t.Errorf("after a restart, Recent(10) has %d messages", len(got))
	}
}

func TestOutboxRefusesWhatIsNotATopic(t *testing.T) {
	o, err := NewOutbox(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	for _, arn := range []string{"", "lethe-eu-ops", "arn:aws:sns:eu-west-1:000000000000:../../etc", "arn:aws:sns:eu-west-1:000000000000:"} {
		_, err := o.Publish(context.Background(), asl.PublishInput{TopicArn: arn, Message: "m"})
		var coded interface{ ErrorCode() string }
		if !errors.Is(err, ErrBadTopic) || !errors.As(err, &coded) || coded.ErrorCode() != "InvalidParameter" {
			t.Errorf("Publish to %q = %v", arn, err)
		}
	}
	if got := o.Recent(5); len(got) != 0 {
		t.Errorf("refused messages were kept: %v", got)
	}
}

func TestOutboxRecentNewestFirst(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o, err := NewOutbox(t.TempDir(), func() time.Time { now = now.Add(time.Second); return now })
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	for i := range outboxKeep + 5 {
		o.Publish(context.Background(), asl.PublishInput{TopicArn: "arn:aws:sns:eu-west-1:000000000000:t", Message: fmt.Sprint(i)})
	}
	got := o.Recent(1000)
	if len(got) != outboxKeep || got[0].Message != fmt.Sprint(outboxKeep+4) || got[len(got)-1].Message != "5" {
		t.Errorf("Recent: %d messages, first %q last %q", len(got), got[0].Message, got[len(got)-1].Message)
	}
}
