package subsystem

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/progress"
)

// Async statuses of the contract's GET {base}/erasures/{ticket}.
const (
	AsyncPending = "pending"
	AsyncDeleted = "deleted"
	AsyncFailed  = "failed"
)

// Submit is the DeleteUserData task of the AsyncDeletion machine: POST
// {base}/erasures with {requestId, subjectId}. The subsystem answers 202 (or
// 200) with a ticket; it is idempotent on requestId, so a retried submit gets
// the same ticket back. The ticket travels in execution history, so one that
// carries the subject id is refused.
func (c *Connector) Submit(ctx context.Context, in erasure.DeleteInput) (erasure.SubmitOutput, error) {
	t, err := c.target(in.RequestID, in.Subsystem, config.ModeAsync)
	if err != nil {
		return erasure.SubmitOutput{}, c.fail(ctx, in.RequestID, in.Subsystem.Name, opSubmit, err)
	}
	call := Call{Subsystem: t.Name, Op: opSubmit}
	subject, err := c.subject(ctx, in.RequestID)
	if err != nil {
		return erasure.SubmitOutput{}, c.fail(ctx, in.RequestID, t.Name, opSubmit, err)
	}
	payload := struct {
		RequestID     string `json:"requestId"`
		SubjectID     string `json:"subjectId"`
		CallbackURL   string `json:"callbackUrl,omitempty"`
		CallbackToken string `json:"callbackToken,omitempty"`
	}{RequestID: in.RequestID, SubjectID: subject}
	if t.Callback {
		if payload.CallbackToken, err = c.newCallbackToken(ctx, in.RequestID, t.Name, in.Now); err != nil {
			return erasure.SubmitOutput{}, c.fail(ctx, in.RequestID, t.Name, opSubmit, err)
		}
		payload.CallbackURL = c.callbackURL
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return erasure.SubmitOutput{}, c.fail(ctx, in.RequestID, t.Name, opSubmit, &InvalidInput{Field: "subjectId", Reason: "cannot be encoded"})
	}
	a, err := c.do(ctx, t, call, http.MethodPost, "/erasures", body, subject)
	if err == nil {
		err = classify(call, a)
	}
	if err == nil && a.status != http.StatusAccepted && a.status != http.StatusOK {
		err = protocolOrRejected(call, a, "an erasure is accepted with 202 and a ticket")
	}
	var ticket string
	if err == nil {
		ticket, err = readTicket(call, a, subject)
	}
	d, step, err := c.track(ctx, in.RequestID, t, call, err, progress.Step{Called: true, Answer: progress.Accepted, Detail: "submitted"}, in.Now)
	if err != nil {
		return erasure.SubmitOutput{}, err
	}
	out := erasure.SubmitOutput{Status: erasure.CallSubmitted, Ticket: ticket, Attempts: d.Attempts, Detail: step.Detail}
	if t.Callback && t.Poll != nil {
		// The first wait for the callback, before the first status check.
		out.WaitSeconds = t.Poll.NextPollSeconds(0, in.Now, d.Deadline)
	}
	if status, detail, persist, ok := instead(d, step); ok {
		out.Status, out.Detail, out.Persist = status, detail, persist
	}
	c.log.InfoContext(ctx, "erasure submission answered", "requestId", in.RequestID, "execution", d.Execution, "subsystem", t.Name, "op", opSubmit,
		"status", out.Status, "ticket", ticket, "attempts", out.Attempts, "waitSeconds", out.WaitSeconds, "giveUp", out.GiveUp)
	return out, nil
}

// protocolOrRejected reads a status no handler expects: a 404 is a refusal
// (the endpoint or ticket does not exist), another 2xx breaks the contract.
func protocolOrRejected(call Call, a answer, want string) error {
	if a.status == http.StatusNotFound {
		return &SubsystemRejected{Call: call, StatusCode: a.status}
	}
	return &SubsystemProtocolError{Call: call, StatusCode: a.status, Reason: want}
}

func readTicket(call Call, a answer, subject string) (string, error) {
	if a.tooLarge {
		return "", &SubsystemProtocolError{Call: call, StatusCode: a.status, Reason: "answer larger than 64 KiB"}
	}
	var v struct {
		Ticket *string `json:"ticket"`
	}
	if err := json.Unmarshal(a.body, &v); err != nil {
		return "", &SubsystemProtocolError{Call: call, StatusCode: a.status, Reason: "answer is not a JSON object with a string ticket"}
	}
	switch t := v.Ticket; {
	case t == nil || *t == "":
		return "", &SubsystemProtocolError{Call: call, StatusCode: a.status, Reason: "answer has no ticket"}
	case len(*t) > MaxTicketBytes || !utf8.ValidString(*t) || strings.IndexFunc(*t, unicode.IsControl) >= 0:
		return "", &SubsystemProtocolError{Call: call, StatusCode: a.status, Reason: "ticket is not up to 512 bytes of printable text"}
	case strings.Contains(strings.ToLower(*t), strings.ToLower(subject)):
		return "", &SubsystemProtocolError{Call: call, StatusCode: a.status, Reason: "ticket contains the subject id, which must not enter execution history"}
	default:
		return *t, nil
	}
}

// Check is the CheckUserDeleted task of the AsyncDeletion machine: GET
// {base}/erasures/{ticket}. It counts the poll, echoes the ticket, and says
// how long to wait before the next check from the subsystem's poll policy
// (while pending) or retry policy (while unavailable) and the request's
// current deadline, on the state machine's own clock (in.Now), so that the
// local runtime's accelerated clock and AWS agree. A refusal or an answer
// outside the contract is an error, caught by the file.
func (c *Connector) Check(ctx context.Context, in erasure.CheckInput) (erasure.CheckOutput, error) {
	t, err := c.target(in.RequestID, in.Subsystem, config.ModeAsync)
	if err == nil {
		err = checkFields(in)
	}
	if err != nil {
		return erasure.CheckOutput{}, c.fail(ctx, in.RequestID, in.Subsystem.Name, opCheck, err)
	}
	if in.TaskToken != "" {
		// AwaitCallback: no call to the subsystem; the task completes when
		// the callback comes (or at its timeout, with a check).
		if err := c.await(ctx, in, t); err != nil {
			return erasure.CheckOutput{}, c.fail(ctx, in.RequestID, t.Name, opAwait, err)
		}
		return erasure.CheckOutput{Ticket: in.Ticket, PollCount: in.PollCount}, nil
	}
	call := Call{Subsystem: t.Name, Op: opCheck, Attempt: in.PollCount + 1}
	status, detail, err := c.check(ctx, in, t, call)
	step := progress.Step{Called: true, Answer: progress.Pending, Detail: detail, PollCount: in.PollCount}
	if t.Callback {
		// The wait for the callback after the submission was the first of
		// the sparse waits: each check's wait doubles it.
		step.PollCount++
	}
	switch status {
	case AsyncDeleted:
		step.Answer, step.Status = progress.Done, erasure.SubsystemDeleted
	case AsyncFailed:
		step.Answer, step.Error = progress.Refused, "the subsystem reported the erasure failed: "+detail
	}
	d, step, err := c.track(ctx, in.RequestID, t, call, err, step, in.Now)
	if err != nil {
		return erasure.CheckOutput{}, err
	}
	out := erasure.CheckOutput{
		Ticket:       in.Ticket,
		Attempts:     d.Attempts,
		PollCount:    in.PollCount + 1,
		Status:       status,
		Detail:       detail,
		PastDeadline: d.PastDeadline,
		Deadline:     d.Deadline,
		Persist:      erasure.Persist{WaitSeconds: d.WaitSeconds, GiveUp: d.GiveUp},
	}
	if status, detail, persist, ok := instead(d, step); ok {
		out.Status, out.Detail, out.Persist = status, detail, persist
	}
	c.log.InfoContext(ctx, "erasure checked", "requestId", in.RequestID, "execution", d.Execution, "subsystem", t.Name, "op", opCheck,
		"ticket", in.Ticket, "status", out.Status, "pollCount", out.PollCount, "attempts", out.Attempts,
		"waitSeconds", out.WaitSeconds, "pastDeadline", out.PastDeadline, "giveUp", out.GiveUp)
	return out, nil
}

// check asks the subsystem for the erasure's status and returns it with a
// detail that is safe to carry.
func (c *Connector) check(ctx context.Context, in erasure.CheckInput, t erasure.Target, call Call) (status, detail string, err error) {
	a, err := c.do(ctx, t, call, http.MethodGet, "/erasures/"+escapeSegment(in.Ticket), nil, "")
	if err == nil {
		err = classify(call, a)
	}
	if err == nil && a.status != http.StatusOK {
		err = protocolOrRejected(call, a, "a status is answered with 200")
	}
	if err != nil {
		return "", "", err
	}
	var st struct {
		Status *string `json:"status"`
		Detail *string `json:"detail"`
	}
	switch {
	case a.tooLarge:
		return "", "", &SubsystemProtocolError{Call: call, StatusCode: a.status, Reason: "answer larger than 64 KiB"}
	case json.Unmarshal(a.body, &st) != nil:
		return "", "", &SubsystemProtocolError{Call: call, StatusCode: a.status, Reason: "answer is not a JSON object with a string status and detail"}
	case st.Status == nil || (*st.Status != AsyncPending && *st.Status != AsyncDeleted && *st.Status != AsyncFailed):
		return "", "", &SubsystemProtocolError{Call: call, StatusCode: a.status, Reason: "status is not pending, deleted or failed"}
	}
	if st.Detail == nil || *st.Detail == "" {
		return *st.Status, "", nil
	}
	// The detail is the subsystem's own text and goes into history and
	// mail: scrub the subject id from it, should the subsystem echo it. If
	// the subject cannot be read, the status still counts; the detail is
	// withheld rather than passed on unscrubbed.
	subject, err := c.subject(ctx, in.RequestID)
	if err != nil {
		c.log.WarnContext(ctx, "detail withheld", "requestId", in.RequestID, "subsystem", t.Name, "op", opCheck,
			"errorType", errorName(err), "error", err.Error())
		return *st.Status, "(detail withheld: the request could not be read to check it for personal data)", nil
	}
	return *st.Status, CleanDetail(*st.Detail, subject), nil
}

func checkFields(in erasure.CheckInput) error {
	switch {
	case in.Ticket == "":
		return &InvalidInput{Field: "ticket", Reason: "is missing"}
	case in.Now.IsZero():
		return &InvalidInput{Field: "now", Reason: "is missing (the files pass $$.State.EnteredTime)"}
	case in.PollCount < 0:
		return &InvalidInput{Field: "pollCount", Reason: "must not be negative"}
	}
	return nil
}

// CleanDetail makes a subsystem's detail safe to carry: no subject id, no
// control characters, at most MaxDetailBytes of valid UTF-8.
func CleanDetail(s, subject string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(erasure.Redact(s, subject))
	if len(s) > MaxDetailBytes {
		cut := MaxDetailBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}
