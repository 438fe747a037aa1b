package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// The audit records of a region form a hash chain: each entry carries its
// sequence number (1, 2, ... with no gap), the previous entry's hash and its
// own, SHA-256 over the entry's canonical form with the previous hash in
// it. An altered entry no longer matches its hash, and a deleted or
// reordered one breaks the sequence or the link; stores write each entry
// conditionally on its sequence number, so none is overwritten or skipped.

// Head is the chain's last entry: its sequence number (0 for an empty
// chain) and hash ("" for an empty chain).
type Head struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// canonical is what an entry's hash covers: every field but the hash, in
// a fixed order, times in UTC with nanoseconds, detail keys sorted (as
// encoding/json writes maps).
type canonical struct {
	Seq       int64             `json:"seq"`
	Prev      string            `json:"prev"`
	ID        string            `json:"id"`
	RequestID string            `json:"requestId"`
	At        string            `json:"at"`
	Actor     string            `json:"actor"`
	Action    string            `json:"action"`
	Detail    map[string]string `json:"detail"`
}

// ComputeHash is the hash the entry must carry.
func (r Record) ComputeHash() string {
	b, err := json.Marshal(canonical{Seq: r.Seq, Prev: r.Prev, ID: r.ID, RequestID: r.RequestID,
		At: r.At.UTC().Format(time.RFC3339Nano), Actor: r.Actor, Action: r.Action, Detail: r.Detail})
	if err != nil {
		panic(err) // strings and a map of strings always encode
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Chain links recs after head, in order, and returns them with the new
// head.
func Chain(head Head, recs []Record) ([]Record, Head) {
	out := make([]Record, len(recs))
	for i, r := range recs {
		// Milliseconds, as every view of a record shows its time, so that
		// anyone who reads an entry can recompute its hash.
		r.At = r.At.UTC().Truncate(time.Millisecond)
		r.Seq, r.Prev = head.Seq+1, head.Hash
		r.Hash = r.ComputeHash()
		head = Head{Seq: r.Seq, Hash: r.Hash}
		out[i] = r
	}
	return out, head
}

// Verifier checks a chain entry by entry, oldest first, from its start.
type Verifier struct {
	head Head
}

// Broken is the first entry that does not belong to the chain, and why.
type Broken struct {
	Seq    int64
	Reason string
}

func (b *Broken) Error() string { return fmt.Sprintf("audit entry %d: %s", b.Seq, b.Reason) }

// Add checks the next entry; it returns a *Broken naming the first entry
// that is missing, altered or out of place.
func (v *Verifier) Add(r Record) error {
	want := v.head.Seq + 1
	switch {
	case r.Seq != want:
		return &Broken{Seq: want, Reason: fmt.Sprintf("missing: the next entry is %d", r.Seq)}
	case r.Prev != v.head.Hash:
		return &Broken{Seq: r.Seq, Reason: "does not link to the entry before it (prev hash differs)"}
	case r.ComputeHash() != r.Hash:
		return &Broken{Seq: r.Seq, Reason: "altered: its content does not match its hash"}
	}
	v.head = Head{Seq: r.Seq, Hash: r.Hash}
	return nil
}

// Head is the last entry checked.
func (v *Verifier) Head() Head { return v.head }
