package starter

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// SFNAPI is the part of the Step Functions client the starter uses.
type SFNAPI interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

var _ SFNAPI = (*sfn.Client)(nil)

// SFN starts executions of the main Erasure state machine on AWS.
type SFN struct {
	client          SFNAPI
	stateMachineArn string
}

var _ Executions = (*SFN)(nil)

// NewSFN returns an Executions that starts executions of the given state
// machine.
func NewSFN(client SFNAPI, stateMachineArn string) *SFN {
	return &SFN{client: client, stateMachineArn: stateMachineArn}
}

// Start starts an execution named after the request. An execution of that
// name that already exists (a replayed stream record, a retried batch)
// counts as started: the name is what makes starting idempotent.
func (s *SFN) Start(ctx context.Context, name, input string) error {
	_, err := s.client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(s.stateMachineArn),
		Name:            aws.String(name),
		Input:           aws.String(input),
	})
	var exists *types.ExecutionAlreadyExists
	switch {
	case err == nil, errors.As(err, &exists):
		return nil
	default:
		return fmt.Errorf("start execution %s: %w", name, err)
	}
}
