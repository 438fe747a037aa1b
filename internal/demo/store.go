package demo

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	bolt "go.etcd.io/bbolt"

	"github.com/lethe-erasure/lethe/internal/config"
)

// ticketRecord is one async erasure as the demo subsystem keeps it.
type ticketRecord struct {
	RequestID string `json:"requestId"`
	// SubjectHash is all the ticket keeps of the subject: the job erases
	// by it (the held bucket is keyed by it too), and a repeated submit of
	// the request is told apart from another subject's by it. The subject
	// id itself is never written, so no freed page of the file can hold it.
	SubjectHash string    `json:"subjectHash"`
	SubmittedAt time.Time `json:"submittedAt"`
	// CallbackURL and CallbackToken are the callback Lethe offered at
	// submission, made once the erasure finishes.
	CallbackURL   string `json:"callbackUrl,omitempty"`
	CallbackToken string `json:"callbackToken,omitempty"`
	// Status is pending, deleted or failed (the contract's words).
	Status     string     `json:"status"`
	Detail     string     `json:"detail,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
}

// Async statuses and details of the contract's GET /erasures/{ticket}.
const (
	statusPending = "pending"
	statusDeleted = "deleted"

	detailPending      = "queued"
	detailNeverFinish  = "queued (this demo subsystem is set never to finish)"
	detailDeleted      = "deleted"
	detailNothingHeld  = "nothing held"
	ticketLength       = 26
	ticketAlphabetFull = "0123456789abcdefghjkmnpqrstvwxyz"
)

// sub is one subsystem's buckets inside a transaction.
type sub struct {
	subjects, tickets, requests, pending *bolt.Bucket
	root                                 *bolt.Bucket
}

// offeredCallback is the callback Lethe's submit offers.
type offeredCallback struct{ URL, Token string }

// callbackDue queues the finished ticket's callback for the farm's runner.
func (s *sub) callbackDue(ticket string) error {
	b, err := s.root.CreateBucketIfNotExists(callbacksBucket) // files older than callbacks lack it
	if err != nil {
		return err
	}
	return b.Put([]byte(ticket), []byte{})
}

// open returns the subsystem's buckets, or nil if it was never seeded.
func open(tx *bolt.Tx, k string) *sub {
	b := tx.Bucket(rootBucket).Bucket([]byte(k))
	if b == nil {
		return nil
	}
	return &sub{b.Bucket(subjectsBucket), b.Bucket(ticketsBucket), b.Bucket(requestsBucket), b.Bucket(pendingBucket), b}
}

// seeded returns the subsystem's buckets, creating them and the seeded
// subjects (config.DemoSubjects and d.Subjects) if this is the first sight
// of it in this file. Subjects configured later are not added: the file is
// the subsystem's own data, which erasures have changed.
func seeded(tx *bolt.Tx, k string, d config.DemoSubsystem) (*sub, error) {
	if s := open(tx, k); s != nil {
		return s, nil
	}
	b, err := tx.Bucket(rootBucket).CreateBucket([]byte(k))
	if err != nil {
		return nil, err
	}
	s := sub{root: b}
	for _, c := range []struct {
		name []byte
		b    **bolt.Bucket
	}{{subjectsBucket, &s.subjects}, {ticketsBucket, &s.tickets}, {requestsBucket, &s.requests}, {pendingBucket, &s.pending}} {
		if *c.b, err = b.CreateBucket(c.name); err != nil {
			return nil, err
		}
	}
	for _, subject := range append(append([]string(nil), config.DemoSubjects...), d.Subjects...) {
		if err := s.subjects.Put([]byte(subjectHash(subject)), []byte{}); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

func (s *sub) ticket(t string) (*ticketRecord, error) {
	v := s.tickets.Get([]byte(t))
	if v == nil {
		return nil, nil
	}
	var r ticketRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("ticket record is corrupt: %w", err)
	}
	return &r, nil
}

func (s *sub) putTicket(t string, r *ticketRecord) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.tickets.Put([]byte(t), v)
}

// submit files an async erasure, or returns the ticket already filed for
// the request. conflict is true when the request id was filed for another
// subject.
func (s *sub) submit(requestID, subject string, cb offeredCallback, now time.Time) (ticket string, conflict bool, err error) {
	hash := subjectHash(subject)
	if t := s.requests.Get([]byte(requestID)); t != nil {
		r, err := s.ticket(string(t))
		if err != nil || r == nil {
			return "", false, fmt.Errorf("request index names a missing ticket: %v", err)
		}
		return string(t), r.SubjectHash != hash, nil
	}
	for {
		ticket, err = newTicket(subject)
		if err != nil {
			return "", false, err
		}
		if s.tickets.Get([]byte(ticket)) == nil {
			break
		}
	}
	r := &ticketRecord{RequestID: requestID, SubjectHash: hash, SubmittedAt: now, Status: statusPending, CallbackURL: cb.URL, CallbackToken: cb.Token}
	if err := s.putTicket(ticket, r); err != nil {
		return "", false, err
	}
	if err := s.requests.Put([]byte(requestID), []byte(ticket)); err != nil {
		return "", false, err
	}
	return ticket, false, s.pending.Put(pendingKey(now, ticket), []byte{})
}

// settle finishes every pending erasure that is due: the subject is removed
// (if still held) and the ticket says deleted.
func (s *sub) settle(now time.Time, d config.DemoSubsystem) error {
	if d.NeverFinish {
		return nil
	}
	var due [][]byte
	c := s.pending.Cursor()
	for k, _ := c.First(); k != nil && isDue(pendingTime(k), now, d); k, _ = c.Next() {
		due = append(due, append([]byte(nil), k...))
	}
	for _, k := range due {
		t := string(k[8:])
		r, err := s.ticket(t)
		if err != nil {
			return err
		}
		if r != nil && r.Status == statusPending {
			r.Status, r.Detail = statusDeleted, detailNothingHeld
			if s.subjects.Get([]byte(r.SubjectHash)) != nil {
				if err := s.subjects.Delete([]byte(r.SubjectHash)); err != nil {
					return err
				}
				r.Detail = detailDeleted
			}
			at := now
			r.FinishedAt = &at
			if err := s.putTicket(t, r); err != nil {
				return err
			}
			if r.CallbackURL != "" && !d.NoCallback {
				if err := s.callbackDue(t); err != nil {
					return err
				}
			}
		}
		if err := s.pending.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func isDue(submitted, now time.Time, d config.DemoSubsystem) bool {
	return !d.NeverFinish && !now.Before(submitted.Add(time.Duration(d.FinishAfterSeconds)*time.Second))
}

// pendingKey orders pending erasures by submission, so that settling reads
// only the due ones.
func pendingKey(at time.Time, ticket string) []byte {
	k := make([]byte, 8, 8+len(ticket))
	binary.BigEndian.PutUint64(k, uint64(max(at.UnixNano(), 0)))
	return append(k, ticket...)
}

func pendingTime(k []byte) time.Time {
	if len(k) < 8 {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(k[:8])))
}

// newTicket draws a random ticket that cannot contain the subject id (the
// connector refuses such a ticket, which would enter execution history):
// its alphabet leaves out the subject's first character.
func newTicket(subject string) (string, error) {
	alphabet := ticketAlphabetFull
	if first := []rune(strings.ToLower(subject)); len(first) > 0 && first[0] < unicode.MaxASCII {
		alphabet = strings.ReplaceAll(alphabet, string(first[0]), "")
	}
	buf := make([]byte, ticketLength)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	for i, b := range buf {
		buf[i] = alphabet[int(b)%len(alphabet)]
	}
	return string(buf), nil
}
