// Package loadsubsystems is the LoadSubsystems task of the Erasure state
// machine: it lists the region's subsystems as the Map state iterates over
// them, each with everything its connector needs and the SNS topic that
// mails its admins. It holds configuration only, never personal data.
package loadsubsystems

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// TopicMissing means a configured subsystem has no admin topic: its
// failures could not be mailed to anyone, so the function refuses to start.
type TopicMissing struct {
	Subsystem string
}

func (e *TopicMissing) Error() string {
	return fmt.Sprintf("%s names no SNS topic for subsystem %q", config.EnvTopicArns, e.Subsystem)
}

// InvalidTopicArn means a topic ARN is malformed or in another AWS region
// (a regional stack never refers to another region).
type InvalidTopicArn struct {
	Subsystem string
	Arn       string
	Reason    string
}

func (e *InvalidTopicArn) Error() string {
	return fmt.Sprintf("%s: topic of subsystem %q, %q, %s", config.EnvTopicArns, e.Subsystem, e.Arn, e.Reason)
}

// InvalidInput means the task's input is not what erasure.asl.json sends.
type InvalidInput struct {
	Field  string
	Reason string
}

func (e *InvalidInput) Error() string {
	return fmt.Sprintf("load subsystems: %s %s", e.Field, e.Reason)
}

// ParseTopicArns reads the value of LETHE_TOPIC_ARNS.
func ParseTopicArns(value string) (map[string]string, error) {
	if strings.TrimSpace(value) == "" {
		return nil, fmt.Errorf("%s is not set", config.EnvTopicArns)
	}
	var topics map[string]string
	if err := json.Unmarshal([]byte(value), &topics); err != nil {
		return nil, fmt.Errorf("%s must be a JSON object of subsystem name to topic ARN: %w", config.EnvTopicArns, err)
	}
	return topics, nil
}

// Runs is where LoadSubsystems starts a run's progress on the request
// (progress.Tracker): every subsystem listed, pending where it has no entry
// yet, and a retry's request marked running.
type Runs interface {
	Start(ctx context.Context, id string, run int, targets []erasure.Target) (erasure.Request, error)
}

// Loader is the LoadSubsystems task's handler for one region.
type Loader struct {
	region  string
	targets []erasure.Target
	runs    Runs
}

// New builds the region's targets once, at cold start. Every subsystem must
// have a topic in the region's AWS region; topics of subsystems that are
// not configured are ignored.
func New(region config.Region, topics map[string]string, runs Runs) (*Loader, error) {
	targets := make([]erasure.Target, 0, len(region.Subsystems))
	for _, s := range region.Subsystems {
		arn := topics[s.Name]
		if arn == "" {
			return nil, &TopicMissing{Subsystem: s.Name}
		}
		if err := checkArn(arn, region.AWSRegion); err != "" {
			return nil, &InvalidTopicArn{Subsystem: s.Name, Arn: arn, Reason: err}
		}
		token := region.TokenOf(s)
		var poll *config.PollPolicy
		if s.Poll != nil {
			p := *s.Poll
			poll = &p
		}
		targets = append(targets, erasure.Target{
			Name:           s.Name,
			Mode:           s.Mode,
			BaseURL:        s.BaseURL,
			TimeoutSeconds: s.TimeoutSeconds,
			Token:          token,
			Poll:           poll,
			TopicArn:       arn,
			Callback:       s.Callback,
			Connector:      s.Connector.Kind(),
		})
	}
	return &Loader{region: region.Name, targets: targets, runs: runs}, nil
}

// checkArn returns why arn is not an SNS topic ARN of awsRegion, or "".
func checkArn(arn, awsRegion string) string {
	p := strings.Split(arn, ":")
	switch {
	case len(p) != 6 || p[0] != "arn" || p[1] == "" || p[2] != "sns" || p[4] == "" || p[5] == "":
		return "is not an SNS topic ARN (arn:<partition>:sns:<region>:<account>:<name>)"
	case awsRegion != "" && p[3] != awsRegion:
		return "is not in " + awsRegion
	}
	return ""
}

// Handle returns the subsystems this run erases in: on the first run every
// subsystem of the region; on a retry (the execution is named
// erasure.RunName(id, n)) only those not settled yet, and of those only the
// ones the retry names, if it names any. Subsystems already settled are not
// called again.
func (l *Loader) Handle(ctx context.Context, in erasure.LoadSubsystemsInput) (erasure.LoadSubsystemsOutput, error) {
	region, err := erasure.ParseID(in.RequestID)
	if err != nil {
		return erasure.LoadSubsystemsOutput{}, &InvalidInput{Field: "requestId", Reason: "is not a request id (er_<region>_<uuidv7>)"}
	}
	if region != l.region {
		return erasure.LoadSubsystemsOutput{}, &InvalidInput{Field: "requestId", Reason: fmt.Sprintf("belongs to region %q, not %q", region, l.region)}
	}
	run := 0
	if in.Execution != "" {
		id, n, err := erasure.ParseRunName(in.Execution)
		if err != nil || id != in.RequestID {
			return erasure.LoadSubsystemsOutput{}, &InvalidInput{Field: "execution", Reason: "is not the request id or <request id>-r<n>"}
		}
		run = n
	}
	req, err := l.runs.Start(ctx, in.RequestID, run, l.targets)
	if err != nil {
		return erasure.LoadSubsystemsOutput{}, err
	}
	out := make([]erasure.Target, 0, len(l.targets))
	for _, t := range l.targets {
		if sub, i := req.Subsystem(t.Name); i >= 0 && sub.Settled() {
			continue
		}
		if run > 0 && run == req.Run && len(req.RetryOnly) > 0 && !slices.Contains(req.RetryOnly, t.Name) {
			continue
		}
		if t.Poll != nil {
			p := *t.Poll
			t.Poll = &p
		}
		out = append(out, t)
	}
	return erasure.LoadSubsystemsOutput{Subsystems: out}, nil
}
