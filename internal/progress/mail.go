package progress

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// The mails below are plain text for people: the request id, a line per
// subsystem (outcome, attempts, last error), the deadline, and the exact
// commands that settle the request. They never carry the subject id: the
// request holds it, and `lethe subject` reads it (and records the read).

// mailTime is how mails print times: to the minute, in UTC.
func mailTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// span says a duration as people do: "8 h 35 min", "6 h", "3 days".
func span(d time.Duration) string {
	d = d.Round(time.Minute)
	switch days, h, m := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute); {
	case days >= 2:
		return fmt.Sprintf("%d days", days)
	case d >= time.Hour && m == 0:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	case d >= time.Hour:
		return fmt.Sprintf("%d h %d min", days*24+h, m)
	default:
		return fmt.Sprintf("%d min", m)
	}
}

// left says how long until t, in days or hours.
func left(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d <= 0:
		return "passed"
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days left", int(d/(24*time.Hour)))
	default:
		return fmt.Sprintf("%d hours left", int((d+time.Hour-1)/time.Hour))
	}
}

// table is one line per subsystem of the request.
func table(b *strings.Builder, r erasure.Request) {
	w := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "  subsystem\tstatus\tattempts\tlast error")
	for _, s := range r.Subsystems {
		status := string(s.Status)
		if s.Attestation != nil {
			status += " (attested)"
		}
		last := s.LastError
		if last == "" {
			last = "-"
		}
		fmt.Fprintf(w, "  %s\t%s\t%d\t%s\n", s.Name, status, s.Attempts, oneLine(last))
	}
	w.Flush()
}

// oneLine keeps a table cell on one line and short.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

func header(b *strings.Builder, r erasure.Request, now time.Time) {
	fmt.Fprintf(b, "Request:  %s\n", r.ID)
	fmt.Fprintf(b, "Received: %s\n", mailTime(r.ReceivedAt))
	fmt.Fprintf(b, "Deadline: %s (%s)\n", mailTime(r.Deadline), left(r.Deadline, now))
	if n := r.ExtendedMonths(); n > 0 {
		fmt.Fprintf(b, "          extended by %d month(s) under GDPR Art. 12(3)\n", n)
	}
	b.WriteString("\n")
	table(b, r)
	b.WriteString("\n")
}

// byHand is what an admin does who erases by hand.
func byHand(b *strings.Builder, id, name string) {
	fmt.Fprintf(b, "If you erase the data in %s by hand, read the subject id (the read is recorded) and record it:\n", name)
	fmt.Fprintf(b, "    lethe subject %s\n", id)
	fmt.Fprintf(b, "    lethe attest %s %s --outcome deleted --note \"<what you did>\"\n", id, name)
	fmt.Fprintf(b, "(--outcome not_held when %s held nothing of this person.)\n", name)
}

// extendHint says how to extend the deadline, while that is still allowed.
func extendHint(b *strings.Builder, r erasure.Request, now time.Time) {
	if r.ExtendedMonths() >= 2 || now.After(config.Deadline{Months: 1}.After(r.ReceivedAt)) {
		return
	}
	fmt.Fprintf(b, "\nIf the erasure cannot be finished by the deadline, it may be extended by up to two months\n"+
		"until %s (GDPR Art. 12(3)); the person is told through the subject-notices topic:\n", mailTime(config.Deadline{Months: 1}.After(r.ReceivedAt)))
	fmt.Fprintf(b, "    lethe extend %s --months 1 --reason \"<why>\"\n", r.ID)
}

func footer(b *strings.Builder, r erasure.Request) {
	fmt.Fprintf(b, "\nLook the request up: lethe status %s\n", r.ID)
	b.WriteString("This mail names the request, never the person: the subject id stays in Lethe.\n")
}

// UnavailableMail tells a subsystem's admins that Lethe has not reached
// their subsystem for a while and keeps trying.
func UnavailableMail(r erasure.Request, name string, retry config.RetryPolicy, now time.Time) (subject, body string) {
	var b strings.Builder
	sub, _ := r.Subsystem(name)
	since := now
	if sub.UnavailableSince != nil {
		since = *sub.UnavailableSince
	}
	fmt.Fprintf(&b, "Lethe cannot reach subsystem %s to erase a person's data: it has been unavailable since %s (%s).\n",
		name, mailTime(since), span(now.Sub(since)))
	fmt.Fprintf(&b, "Lethe keeps retrying with a back-off of up to %s", span(time.Duration(retry.MaxSeconds)*time.Second))
	if sub.NextAttemptAt != nil {
		fmt.Fprintf(&b, " (next attempt %s)", mailTime(*sub.NextAttemptAt))
	}
	fmt.Fprintf(&b, " until %s, %d hours before the deadline; then the erasure fails in %s.\n\n", mailTime(retry.GiveUpAt(r.Deadline)), retry.GiveUpBeforeHours, name)
	header(&b, r, now)
	fmt.Fprintf(&b, "What to do next:\nBring %s back; Lethe retries by itself and needs nothing more.\n", name)
	byHand(&b, r.ID, name)
	extendHint(&b, r, now)
	footer(&b, r)
	return fmt.Sprintf("Lethe: %s unavailable for erasure request %s", name, r.ID), b.String()
}

// AtRiskMail tells a subsystem's admins that a request it still holds up
// nears its deadline.
func AtRiskMail(r erasure.Request, name string, now time.Time) (subject, body string) {
	var b strings.Builder
	fmt.Fprintf(&b, "Erasure request %s is at risk: its deadline is %s (%s) and subsystem %s has not finished erasing.\n\n",
		r.ID, mailTime(r.Deadline), left(r.Deadline, now), name)
	header(&b, r, now)
	fmt.Fprintf(&b, "What to do next:\nMake sure %s finishes the erasure before the deadline.\n", name)
	byHand(&b, r.ID, name)
	extendHint(&b, r, now)
	footer(&b, r)
	return fmt.Sprintf("Lethe: erasure request %s at risk in %s", r.ID, name), b.String()
}

// FailureMail tells a subsystem's admins that the erasure failed in their
// subsystem and how to settle it.
func FailureMail(r erasure.Request, name string, now time.Time) (subject, body string) {
	var b strings.Builder
	sub, _ := r.Subsystem(name)
	why := sub.LastError
	if why == "" {
		why = sub.Detail
	}
	fmt.Fprintf(&b, "Lethe could not erase a person's data in subsystem %s: %s\n\n", name, oneLine(why))
	header(&b, r, now)
	fmt.Fprintf(&b, "What to do next:\nFix the cause, then have Lethe run the erasure again in %s only, once the request has closed\n"+
		"(subsystems that succeeded are not called again):\n    lethe retry %s --subsystem %s\n", name, r.ID, name)
	byHand(&b, r.ID, name)
	extendHint(&b, r, now)
	footer(&b, r)
	return fmt.Sprintf("Lethe: erasure failed in %s (request %s)", name, r.ID), b.String()
}

// OpsFailureMail tells the region's ops that a request closed failed.
func OpsFailureMail(r erasure.Request, now time.Time) (subject, body string) {
	var b strings.Builder
	var failed []string
	for _, s := range r.Subsystems {
		if !s.Settled() {
			failed = append(failed, s.Name)
		}
	}
	fmt.Fprintf(&b, "Erasure request %s failed in %s and must still be completed by the deadline.\n\n", r.ID, strings.Join(failed, ", "))
	header(&b, r, now)
	b.WriteString("What to do next:\nOnce the cause is fixed, run the failed subsystems again (the others are not called again):\n")
	fmt.Fprintf(&b, "    lethe retry %s\n", r.ID)
	for _, name := range failed {
		fmt.Fprintf(&b, "Or, where %s's admins erased by hand:\n    lethe attest %s %s --outcome deleted --note \"<what was done>\"\n", name, r.ID, name)
	}
	extendHint(&b, r, now)
	footer(&b, r)
	return fmt.Sprintf("Lethe: erasure request %s failed", r.ID), b.String()
}
