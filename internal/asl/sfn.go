package asl

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// childStarted carries the ARN of a child execution from its start to the
// wait for its end (.sync patterns).
type childStarted struct {
	output any
	arn    string
}

// startChild serves arn:aws:states:::states:startExecution (and .sync,
// .sync:2, .waitForTaskToken): StateMachineArn names a machine registered
// with this engine, Input is a JSON value or JSON text, Name is optional.
func (e *Engine) startChild(pattern string) func(ctx context.Context, x *Execution, call *TaskCall) (any, *Failure) {
	return func(ctx context.Context, x *Execution, call *TaskCall) (any, *Failure) {
		m, f := paramsObject(call.Parameters, "states:startExecution")
		if f != nil {
			return nil, f
		}
		machine, _ := m["StateMachineArn"].(string)
		if machine == "" {
			return nil, fail(ErrRuntime, "states:startExecution requires the parameter StateMachineArn")
		}
		def, machineArn, ok := e.machine(machine)
		if !ok {
			return nil, fail("StepFunctions.StateMachineDoesNotExistException", "State Machine Does Not Exist: '%s'", machine)
		}
		var input any = map[string]any{}
		switch in := m["Input"].(type) {
		case nil:
		case string:
			v, err := decodeValue([]byte(in))
			if err != nil {
				return nil, fail("StepFunctions.InvalidExecutionInputException", "Invalid State Machine Execution Input: '%v'", err)
			}
			input = v
		default:
			input = in
		}
		name, _ := m["Name"].(string)
		if name == "" {
			name = uuid.NewString()
		}
		machineName := machineArn[strings.LastIndex(machineArn, ":")+1:]
		arn := "arn:aws:states:" + e.region + ":" + e.account + ":execution:" + machineName + ":" + name
		sync := pattern == "sync" || pattern == "sync:2"
		child, exists := e.Execution(arn)
		var start time.Time
		if exists {
			// Started before a crash (the task was in flight): the same name
			// makes StartExecution idempotent, as on AWS.
			start = child.Describe().StartDate
			if sync {
				e.pin(arn)
			}
		} else {
			pins := 0
			if sync {
				pins = 1
			}
			c, err := e.start(x.base, def, machineArn, name, input, pins)
			if err != nil {
				return nil, fail("StepFunctions.ExecutionAlreadyExistsException", "%v", err)
			}
			start = c.start
		}
		out := sdkMetadata(map[string]any{"ExecutionArn": arn, "StartDate": epochMillis(start)}, contentAmzJSON, requestID())
		if sync {
			return childStarted{output: out, arn: arn}, nil
		}
		return out, nil
	}
}

// included is DescribeExecution's InputDetails and OutputDetails, shared
// (JSON values are never changed in place).
var included any = map[string]any{"Included": true}

func epochMillis(t time.Time) json.Number {
	return json.Number(strconv.FormatInt(t.UnixMilli(), 10))
}

// awaitChild waits for a .sync child and shapes the task result as AWS does
// (DescribeExecution's fields; with .sync:2 Input and Output are JSON
// values, with .sync JSON text). A child that does not succeed fails the
// task with States.TaskFailed, its description as cause.
func (x *Execution) awaitChild(ctx context.Context, arn, pattern string) (any, *Failure) {
	r, err := x.e.awaitExecution(ctx, arn)
	x.e.unpin(arn)
	if err != nil {
		if r != nil && r.Status == StatusAborted && ctx.Err() == nil {
			// The child runs in this execution's base context, so it was
			// stopped because this execution is being stopped (the
			// process shutting down), and may have seen it first: the
			// task did not fail, it is interrupted, and resumes with the
			// child after a restart. Wait until the stop reaches here.
			<-ctx.Done()
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		return nil, fail(ErrTaskFailed, "%v", err)
	}
	// Sized for the success case's ten fields (a failure's eleven): a map
	// that grows past eight entries is rebuilt.
	d := make(map[string]any, 11)
	d["ExecutionArn"] = r.ExecutionArn
	d["Input"] = r.Input
	d["InputDetails"] = included
	d["Name"] = r.Name
	d["StartDate"] = epochMillis(r.StartDate)
	d["StateMachineArn"] = r.StateMachineArn
	d["Status"] = r.Status
	d["StopDate"] = epochMillis(r.StopDate)
	if pattern == "sync" {
		d["Input"] = jsonString(r.Input)
	}
	if r.Status != StatusSucceeded {
		d["Input"] = jsonString(r.Input)
		d["Error"], d["Cause"] = r.Error, r.Cause
		return nil, &Failure{Name: ErrTaskFailed, Cause: jsonString(d)}
	}
	d["Output"] = r.Output
	d["OutputDetails"] = included
	if pattern == "sync" {
		d["Output"] = jsonString(r.Output)
	}
	return d, nil
}
