package audit_test

import (
	"errors"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/audit"
)

func chainOf(t *testing.T, n int) []audit.Record {
	t.Helper()
	var recs []audit.Record
	for i := range n {
		r, err := audit.New("er_eu_x", time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC), "local:dpo", audit.ActionRetry, map[string]string{"n": string(rune('a' + i))})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	out, head := audit.Chain(audit.Head{}, recs)
	if head.Seq != int64(n) || head.Hash != out[n-1].Hash {
		t.Fatalf("head %+v", head)
	}
	return out
}

func verify(recs []audit.Record) error {
	var v audit.Verifier
	for _, r := range recs {
		if err := v.Add(r); err != nil {
			return err
		}
	}
	return nil
}

func TestChainVerifiesAndNamesTheFirstBrokenEntry(t *testing.T) {
	recs := chainOf(t, 5)
	if err := verify(recs); err != nil {
		t.Fatal(err)
	}
	brokenAt := func(err error) int64 {
		var b *audit.Broken
		if !errors.As(err, &b) {
			t.Fatalf("err = %v, want *Broken", err)
		}
		return b.Seq
	}
	altered := append([]audit.Record(nil), recs...)
	altered[2].Detail = map[string]string{"n": "forged"}
	if got := brokenAt(verify(altered)); got != 3 {
		t.Errorf("altered entry 3: broken at %d", got)
	}
	rehashed := append([]audit.Record(nil), altered...)
	rehashed[2].Hash = rehashed[2].ComputeHash() // a forger who rehashes breaks the next link
	if got := brokenAt(verify(rehashed)); got != 4 {
		t.Errorf("rehashed entry 3: broken at %d", got)
	}
	deleted := append(append([]audit.Record(nil), recs[:1]...), recs[2:]...)
	if got := brokenAt(verify(deleted)); got != 2 {
		t.Errorf("deleted entry 2: broken at %d", got)
	}
	// Appending more keeps linking to the head.
	more, _ := audit.Chain(audit.Head{Seq: 5, Hash: recs[4].Hash}, []audit.Record{recs[0]})
	if err := verify(append(recs, more...)); err != nil {
		t.Fatal(err)
	}
}
