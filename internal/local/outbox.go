package local

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/lethe-erasure/lethe/internal/api"
	"github.com/lethe-erasure/lethe/internal/progress"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/lethe-erasure/lethe/internal/asl"
)

// Outbox stands in for SNS: each message the state machines publish is
// appended as one JSON line to <dir>/<topic name>.jsonl, where a developer
// reads the failure mail a subsystem's admins or the ops team would get.
// It is safe for concurrent publishers (the Map state's iterations publish
// at once) and keeps the last messages in memory for the console.
type Outbox struct {
	dir string
	now func() time.Time

	mu     sync.Mutex
	files  map[string]*os.File
	recent []OutboxMessage // ring of the last keep messages, oldest first
	keep   int
}

var _ asl.Publisher = (*Outbox)(nil)

// OutboxMessage is one published message, as written to the topic's file.
type OutboxMessage struct {
	MessageID string    `json:"messageId"`
	Time      time.Time `json:"time"`
	TopicArn  string    `json:"topicArn"`
	// Subject is the e-mail subject line SNS would use.
	Subject           string         `json:"subject,omitempty"`
	Message           string         `json:"message"`
	MessageAttributes map[string]any `json:"messageAttributes,omitempty"`
}

// outboxKeep is how many messages the console can show.
const outboxKeep = 50

// NewOutbox opens the outbox in dir (created if missing) and reads back
// the last messages already there, so that the console shows them
// after a restart. now stamps messages (Lethe's clock).
func NewOutbox(dir string, now func() time.Time) (*Outbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	o := &Outbox{dir: dir, now: now, files: map[string]*os.File{}, keep: outboxKeep}
	old, err := readOutbox(dir)
	if err != nil {
		return nil, err
	}
	for _, m := range old {
		o.remember(m)
	}
	return o, nil
}

// readOutbox reads every topic file of dir, oldest message first.
func readOutbox(dir string) ([]OutboxMessage, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	var all []OutboxMessage
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			var m OutboxMessage
			// A line torn by a crash mid-write is skipped, not fatal.
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				all = append(all, m)
			}
		}
		f.Close()
	}
	sortByTime(all)
	return all, nil
}

func sortByTime(ms []OutboxMessage) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].Time.Before(ms[j-1].Time); j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// TopicName is the last part of a topic ARN, the file name of its messages.
func TopicName(arn string) string { return arn[strings.LastIndex(arn, ":")+1:] }

// topicNameRE is SNS's rule for topic names; it also keeps the name safe
// as a file name.
var topicNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}(\.fifo)?$`)

// ErrBadTopic fails a publish to something that is not a topic ARN, as SNS
// answers InvalidParameter.
var ErrBadTopic = errors.New("TopicArn is not an SNS topic ARN")

// Publish appends one message to its topic's file and returns its id. The
// line is written with one write call on a file opened O_APPEND, so
// concurrent publishers never interleave within a line.
func (o *Outbox) Publish(_ context.Context, in asl.PublishInput) (string, error) {
	topic := in.TopicArn
	if topic == "" {
		topic = in.TargetArn
	}
	name := TopicName(topic)
	if !strings.HasPrefix(topic, "arn:") || strings.Count(topic, ":") != 5 || !topicNameRE.MatchString(name) {
		return "", &snsError{code: "InvalidParameter", err: fmt.Errorf("%w: %q", ErrBadTopic, topic)}
	}
	m := OutboxMessage{
		MessageID: uuid.NewString(), Time: o.now().UTC(), TopicArn: topic,
		Subject: in.Subject, Message: in.Message, MessageAttributes: in.MessageAttributes,
	}
	line, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("outbox: %w", err)
	}
	line = append(line, '\n')
	o.mu.Lock()
	defer o.mu.Unlock()
	f, ok := o.files[name]
	if !ok {
		f, err = os.OpenFile(filepath.Join(o.dir, name+".jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return "", fmt.Errorf("outbox: %w", err)
		}
		o.files[name] = f
	}
	if _, err := f.Write(line); err != nil {
		return "", fmt.Errorf("outbox: %w", err)
	}
	o.remember(m)
	return m.MessageID, nil
}

// remember keeps m among the recent messages; o.mu is held (or o is not
// shared yet).
func (o *Outbox) remember(m OutboxMessage) {
	o.recent = append(o.recent, m)
	if len(o.recent) > o.keep {
		o.recent = append(o.recent[:0], o.recent[len(o.recent)-o.keep:]...)
	}
}

// Recent returns up to n of the last messages, newest first.
func (o *Outbox) Recent(n int) []OutboxMessage {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]OutboxMessage, 0, min(n, len(o.recent)))
	for i := len(o.recent) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, o.recent[i])
	}
	return out
}

// Dir is the folder of the topic files.
func (o *Outbox) Dir() string { return o.dir }

// Close closes the topic files.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var errs []error
	for name, f := range o.files {
		errs = append(errs, f.Close())
		delete(o.files, name)
	}
	return errors.Join(errs...)
}

// snsError carries an SNS error code: the engine fails the task as
// "SNS.<code>", as the sns:publish integration does on AWS.
type snsError struct {
	code string
	err  error
}

func (e *snsError) Error() string     { return e.err.Error() }
func (e *snsError) Unwrap() error     { return e.err }
func (e *snsError) ErrorCode() string { return e.code }

// Mailer is the outbox as the tasks' progress.Mailer: a plain-text mail to
// a topic, as the functions publish it to SNS.
func (o *Outbox) Mailer() progress.Mailer { return outboxMailer{o} }

type outboxMailer struct{ o *Outbox }

func (m outboxMailer) Publish(ctx context.Context, topicArn, subject, message string) error {
	_, err := m.o.Publish(ctx, asl.PublishInput{TopicArn: topicArn, Subject: subject, Message: message})
	return err
}

// Notices is the outbox as the api's notices to data subjects: one topic.
func (o *Outbox) Notices(topicArn string) api.Notices { return outboxNotices{o: o, topic: topicArn} }

type outboxNotices struct {
	o     *Outbox
	topic string
}

func (n outboxNotices) PublishNotice(ctx context.Context, message string) error {
	return n.o.Mailer().Publish(ctx, n.topic, "Lethe: notice to a data subject", message)
}
