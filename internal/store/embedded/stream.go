package embedded

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	bolt "go.etcd.io/bbolt"

	"github.com/lethe-erasure/lethe/internal/store/dynamo"
)

// The change feed stands in for the requests table's DynamoDB stream and
// the Lambda event source mapping that reads it: Create appends an entry in
// its own transaction (so a stored request is always on the feed, and a
// refused one never), and Stream hands the entries to the starter's handler
// in batches shaped as Lambda delivers them, at least once, in order.

// StreamHandler is the starter's handler signature
// (starter.(*Handler).Handle), the same function Lambda invokes.
type StreamHandler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// StreamOptions tune Stream. Zero values take the defaults.
type StreamOptions struct {
	// BatchSize is the most records one call of the handler gets
	// (default 100, the event source mapping's default for DynamoDB).
	BatchSize int
	// Poll is how often the feed is read when nothing woke the streamer
	// (default 1 s). Create wakes it at once; the poll is the safety net.
	Poll time.Duration
	// Backoff is the wait before a failed batch is delivered again
	// (default 200 ms); it doubles with each consecutive failure, up to
	// MaxBackoff.
	Backoff time.Duration
	// MaxBackoff caps the wait between redeliveries (default 30 s).
	MaxBackoff time.Duration
	// AWSRegion fills the records' awsRegion (default: the region's short
	// name); the local runtime passes the configured AWS region.
	AWSRegion string
}

// feedRecord is one entry of the feed: the request item as inserted, and
// when.
type feedRecord struct {
	CreatedAt int64           `json:"createdAt"` // epoch seconds
	Item      json.RawMessage `json:"item"`      // requestRecord
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

// appendFeed adds the INSERT of a request item to the feed. The bucket's
// sequence is persistent and only grows, so sequence numbers never repeat,
// even after the entries they named were delivered and deleted.
func appendFeed(b *bolt.Bucket, item []byte, now time.Time) error {
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(feedRecord{CreatedAt: now.Unix(), Item: item})
	if err != nil {
		return err
	}
	return b.Put(seqKey(seq), raw)
}

// sequenceNumber renders a feed sequence as DynamoDB Streams does: a
// numeric string of 21 digits, so that text order is numeric order.
func sequenceNumber(seq uint64) string {
	return fmt.Sprintf("1%020d", seq)
}

func parseSequenceNumber(s string) (uint64, bool) {
	if len(s) != 21 || !strings.HasPrefix(s, "1") {
		return 0, false
	}
	n, err := strconv.ParseUint(s[1:], 10, 64)
	return n, err == nil
}

func (r *region) notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// ErrAlreadyStreaming means another Stream of the region is running: one
// reader per feed, as Lambda runs one batch per shard at a time.
var ErrAlreadyStreaming = errors.New("the region's feed is already being streamed")

// Stream delivers the region's new requests to handle until ctx is done
// (then it returns nil). A record is deleted from the feed only once
// handle has returned without reporting it: on a batch item failure the
// records from the one with the lowest sequence number on are delivered
// again after Backoff (Lambda's ReportBatchItemFailures semantics; an
// identifier that names no record of the batch fails the whole batch, as on
// Lambda), and so is a whole batch whose handle returned an error. Records
// left on the feed when the process dies are delivered when it streams
// again. handle may see a record more than once: the starter is idempotent.
// Stream returns an error if the file fails or is closed.
func (r *Requests) Stream(ctx context.Context, handle StreamHandler, opts StreamOptions) error {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 100
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 200 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.AWSRegion == "" {
		opts.AWSRegion = r.region.name
	}
	r.db.mu.Lock()
	if r.region.streaming {
		r.db.mu.Unlock()
		return ErrAlreadyStreaming
	}
	r.region.streaming = true
	r.db.mu.Unlock()
	defer func() {
		r.db.mu.Lock()
		r.region.streaming = false
		r.db.mu.Unlock()
	}()

	poll := time.NewTimer(opts.Poll)
	defer poll.Stop()
	failures := 0
	for {
		if ctx.Err() != nil {
			return nil
		}
		batch, seqs, err := r.readFeed(opts.BatchSize, opts.AWSRegion)
		if err != nil {
			return fmt.Errorf("stream of region %s: %w", r.region.name, err)
		}
		if len(batch.Records) == 0 {
			poll.Reset(opts.Poll)
			select {
			case <-ctx.Done():
				return nil
			case <-r.region.wake:
			case <-poll.C:
			}
			continue
		}
		resp, herr := handle(ctx, batch)
		if ctx.Err() != nil {
			// Cut off mid-batch, as a process that dies: nothing is
			// acknowledged, the batch comes again.
			return nil
		}
		upTo := len(seqs) // records [0, upTo) are acknowledged
		if herr != nil {
			upTo = 0
		} else {
			upTo = firstFailure(resp, seqs)
		}
		if upTo > 0 {
			if err := r.ack(seqs[:upTo]); err != nil {
				return fmt.Errorf("stream of region %s: %w", r.region.name, err)
			}
		}
		if upTo == len(seqs) {
			failures = 0
			continue
		}
		wait := opts.Backoff << min(failures, 16)
		wait = min(wait, opts.MaxBackoff)
		failures++
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// firstFailure returns the index of the batch's first record to deliver
// again: the failed record with the lowest sequence number, 0 (all) when an
// identifier names no record of the batch, len(seqs) when none failed.
func firstFailure(resp events.DynamoDBEventResponse, seqs []uint64) int {
	first := len(seqs)
	for _, f := range resp.BatchItemFailures {
		seq, ok := parseSequenceNumber(f.ItemIdentifier)
		i := -1
		if ok {
			for j, s := range seqs {
				if s == seq {
					i = j
					break
				}
			}
		}
		if i < 0 {
			return 0
		}
		first = min(first, i)
	}
	return first
}

// readFeed reads the oldest records of the feed as one Lambda event.
func (r *Requests) readFeed(n int, awsRegion string) (events.DynamoDBEvent, []uint64, error) {
	type entry struct {
		seq uint64
		rec feedRecord
	}
	var entries []entry
	err := r.db.bolt.View(func(tx *bolt.Tx) error {
		b := readBucket(tx, r.region.name, bFeed)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(entries) < n; k, v = c.Next() {
			var e entry
			e.seq = binary.BigEndian.Uint64(k)
			if err := json.Unmarshal(v, &e.rec); err != nil {
				return fmt.Errorf("decode feed record %d: %w", e.seq, err)
			}
			e.rec.Item = append(json.RawMessage(nil), e.rec.Item...)
			entries = append(entries, e)
		}
		return nil
	})
	if err != nil {
		return events.DynamoDBEvent{}, nil, err
	}
	ev := events.DynamoDBEvent{Records: make([]events.DynamoDBEventRecord, 0, len(entries))}
	seqs := make([]uint64, 0, len(entries))
	for _, e := range entries {
		rec, err := r.streamRecord(e.seq, e.rec, awsRegion)
		if err != nil {
			return events.DynamoDBEvent{}, nil, err
		}
		ev.Records = append(ev.Records, rec)
		seqs = append(seqs, e.seq)
	}
	return ev, seqs, nil
}

// streamRecord renders a feed entry as the DynamoDB stream record Lambda
// would deliver for the request's INSERT. Errors name the sequence, never
// the item's content.
func (r *Requests) streamRecord(seq uint64, fr feedRecord, awsRegion string) (events.DynamoDBEventRecord, error) {
	var item requestRecord
	if err := json.Unmarshal(fr.Item, &item); err != nil {
		return events.DynamoDBEventRecord{}, fmt.Errorf("decode feed record %d: %w", seq, err)
	}
	item.SubjectID = "" // sealed; the stream's readers never need it
	req, err := item.Request()
	if err != nil {
		return events.DynamoDBEventRecord{}, fmt.Errorf("feed record %d: %w", seq, err)
	}
	image, err := dynamo.NewImage(req)
	if err != nil {
		return events.DynamoDBEventRecord{}, fmt.Errorf("feed record %d: %w", seq, err)
	}
	table := "lethe-" + r.region.name + "-requests"
	return events.DynamoDBEventRecord{
		AWSRegion:      awsRegion,
		EventID:        fmt.Sprintf("%032x", seq),
		EventName:      string(events.DynamoDBOperationTypeInsert),
		EventSource:    "aws:dynamodb",
		EventVersion:   "1.1",
		EventSourceArn: "arn:aws:dynamodb:" + awsRegion + ":000000000000:table/" + table + "/stream/local",
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Unix(fr.CreatedAt, 0)},
			Keys:                        map[string]events.DynamoDBAttributeValue{dynamo.AttrPK: events.NewStringAttribute(req.ID)},
			NewImage:                    image,
			SequenceNumber:              sequenceNumber(seq),
			SizeBytes:                   int64(len(fr.Item)),
			StreamViewType:              string(events.DynamoDBStreamViewTypeNewImage),
		},
	}, nil
}

// ack deletes delivered records from the feed.
func (r *Requests) ack(seqs []uint64) error {
	return r.db.commit.do(func(tx *bolt.Tx) error {
		b := readBucket(tx, r.region.name, bFeed)
		if b == nil {
			return nil
		}
		for _, s := range seqs {
			if err := b.Delete(seqKey(s)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Pending counts the records on the region's feed not yet acknowledged: the
// status page shows it, and tests wait on it.
func (r *Requests) Pending() (int, error) {
	n := 0
	err := r.db.bolt.View(func(tx *bolt.Tx) error {
		if b := readBucket(tx, r.region.name, bFeed); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n, err
}
