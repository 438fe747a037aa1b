package dynamo

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
)

func TestRequestFromImage(t *testing.T) {
	const subject = "secret-subject@example.com"
	req := newRequest(t, subject)
	image, err := NewImage(req)
	if err != nil {
		t.Fatal(err)
	}
	if image["subjectId"].String() != subject {
		t.Fatalf("NewImage lost the subject id: %v", image)
	}
	got, err := RequestFromImage(image)
	if err != nil {
		t.Fatal(err)
	}
	want := req
	want.SubjectID = ""
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}

	with := func(k string, v events.DynamoDBAttributeValue) map[string]events.DynamoDBAttributeValue {
		m := map[string]events.DynamoDBAttributeValue{}
		for k, v := range image {
			m[k] = v
		}
		m[k] = v
		return m
	}
	without := func(k string) map[string]events.DynamoDBAttributeValue {
		m := with(k, events.DynamoDBAttributeValue{})
		delete(m, k)
		return m
	}
	for _, tc := range []struct {
		name    string
		image   map[string]events.DynamoDBAttributeValue
		wantErr error // nil: any error
	}{
		{"lock item", map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute("subject#ab"), "kind": events.NewStringAttribute(KindSubject), "requestId": events.NewStringAttribute(req.ID)}, ErrNotRequest},
		{"idempotency item", map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute("idem#ab"), "kind": events.NewStringAttribute(KindIdempotency)}, ErrNotRequest},
		{"no image", nil, nil},
		{"no kind", without("kind"), nil},
		{"kind not a string", with("kind", events.NewNumberAttribute("1")), nil},
		{"bad request id", with("pk", events.NewStringAttribute("er_eu_"+subject)), nil},
		{"no deadline", without("deadline"), nil},
		{"deadline not a time", with("deadline", events.NewStringAttribute("next month")), nil},
		{"receivedAt a number", with("receivedAt", events.NewNumberAttribute("1767225600")), nil},
		{"subsystems not a list", with("subsystems", events.NewStringAttribute(subject)), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RequestFromImage(tc.image)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error = %v, want %v", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "secret-subject") {
				t.Errorf("error carries the subject id: %v", err)
			}
		})
	}

	// An odd subjectId attribute does not matter: it is never decoded.
	if _, err := RequestFromImage(with("subjectId", events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{}))); err != nil {
		t.Errorf("odd subjectId: %v", err)
	}
}
