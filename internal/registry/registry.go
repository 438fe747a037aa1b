// Package registry is the one list of what Lethe's state machine files
// refer to: each ${Placeholder} in statemachines/*.asl.json and the resource
// it stands for. The CDK app turns each entry into a deployed resource's ARN;
// the local runtime turns it into an in-process handler, topic or child
// machine. Both read this list, so neither can drift from the files.
package registry

import (
	"fmt"
	"regexp"
	"sort"
)

// Kind is the sort of resource a placeholder stands for.
type Kind string

// Resource kinds.
const (
	Function     Kind = "function"      // a Lambda function built from functions/<Name>
	StateMachine Kind = "state-machine" // a machine from statemachines/<Name>.asl.json
	Topic        Kind = "topic"         // an SNS topic
)

// Placeholder is one ${Name} of the state machine files.
type Placeholder struct {
	// Name is what stands between ${ and } in the files.
	Name string
	Kind Kind
	// Target is the function folder, the machine's file name without
	// .asl.json, or the topic's role.
	Target string
}

// Machine is one state machine file.
type Machine struct {
	// Name is the file name without .asl.json and the machine's role.
	Name string
	// Title is the state machine's name an operator reads in the console.
	Title string
	// Main marks the machine the starter starts for each request.
	Main bool
}

// Function folders under functions/.
const (
	FnAPI            = "api"
	FnStarter        = "starter"
	FnLoadSubsystems = "load-subsystems"
	FnSyncDelete     = "sync-delete"
	FnAsyncSubmit    = "async-submit"
	FnAsyncCheck     = "async-check"
	FnRecordOutcome  = "record-outcome"
	// FnReportFailure records a subsystem's failed erasure on the request
	// and writes its admins' mail (RecordFailure in the deletion machines).
	FnReportFailure = "report-failure"
	// FnWebhookReceiver takes the webhooks the edge forwards to a region.
	FnWebhookReceiver = "webhook-receiver"
	// FnDeadlineWatch counts open, at-risk and overdue requests hourly
	// and mails the ops topic those newly at risk or overdue.
	FnDeadlineWatch = "deadline-watch"
	// FnCertify signs completed requests' certificates of erasure
	// (IssueCertificate), the one function that may use the signing key.
	FnCertify = "certify"
	// FnConnector erases with the built-in connectors (EraseInStore in the
	// SyncDeletion machine), the one function granted the stores'
	// actions on the configured resources.
	FnConnector = "connector"
)

// The edge stack's function folders under functions/.
const (
	// FnWebhookFanout verifies, de-duplicates and forwards integrations'
	// webhooks to the tenant's home region, and answers region redirects.
	FnWebhookFanout = "webhook-fanout"
	// FnEdgeAPI serves the edge's operator API (IAM-authorised): tenant
	// registration, quarantine release, global erasures.
	FnEdgeAPI = "edge-api"
)

// State machine files under statemachines/.
const (
	MachineErasure       = "erasure"
	MachineSyncDeletion  = "sync-deletion"
	MachineAsyncDeletion = "async-deletion"
)

// TopicOps is the target of the ops topic placeholder.
const TopicOps = "ops"

// Machines lists the state machine files, the main one first.
var Machines = []Machine{
	{Name: MachineErasure, Title: "Erasure", Main: true},
	{Name: MachineSyncDeletion, Title: "SyncDeletion"},
	{Name: MachineAsyncDeletion, Title: "AsyncDeletion"},
}

// Placeholders lists every placeholder the state machine files may use.
var Placeholders = []Placeholder{
	{Name: "LoadSubsystemsFunctionArn", Kind: Function, Target: FnLoadSubsystems},
	{Name: "SyncDeleteFunctionArn", Kind: Function, Target: FnSyncDelete},
	{Name: "AsyncSubmitFunctionArn", Kind: Function, Target: FnAsyncSubmit},
	{Name: "AsyncCheckFunctionArn", Kind: Function, Target: FnAsyncCheck},
	{Name: "RecordOutcomeFunctionArn", Kind: Function, Target: FnRecordOutcome},
	{Name: "ReportFailureFunctionArn", Kind: Function, Target: FnReportFailure},
	{Name: "CertifyFunctionArn", Kind: Function, Target: FnCertify},
	{Name: "ConnectorFunctionArn", Kind: Function, Target: FnConnector},
	{Name: "SyncDeletionStateMachineArn", Kind: StateMachine, Target: MachineSyncDeletion},
	{Name: "AsyncDeletionStateMachineArn", Kind: StateMachine, Target: MachineAsyncDeletion},
	{Name: "OpsTopicArn", Kind: Topic, Target: TopicOps},
}

// Functions lists every regional Lambda function folder, tasks and
// non-tasks alike.
var Functions = []string{FnAPI, FnStarter, FnLoadSubsystems, FnSyncDelete, FnAsyncSubmit, FnAsyncCheck, FnRecordOutcome, FnReportFailure, FnWebhookReceiver, FnDeadlineWatch, FnCertify, FnConnector}

// EdgeFunctions lists the edge stack's Lambda function folders.
var EdgeFunctions = []string{FnWebhookFanout, FnEdgeAPI}

var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// Find returns the placeholders used in a definition, sorted, without
// duplicates.
func Find(definition string) []string {
	seen := map[string]bool{}
	var names []string
	for _, m := range placeholderRE.FindAllStringSubmatch(definition, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			names = append(names, m[1])
		}
	}
	sort.Strings(names)
	return names
}

// Lookup returns the placeholder with the given name.
func Lookup(name string) (Placeholder, bool) {
	for _, p := range Placeholders {
		if p.Name == name {
			return p, true
		}
	}
	return Placeholder{}, false
}

// Substitute fills every ${Name} of a definition from values and fails on a
// placeholder that has no value, so that nothing runs half-substituted.
// CDK passes the same values as DefinitionSubstitutions.
func Substitute(definition string, values map[string]string) (string, error) {
	var missing []string
	out := placeholderRE.ReplaceAllStringFunc(definition, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := values[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no substitution for %v", missing)
	}
	return out, nil
}
