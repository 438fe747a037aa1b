package asl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// lambdaFunction is a Lambda handler invoked in-process through
// aws-lambda-go's own Handler, so that payload marshalling and error type
// names are exactly those of AWS Lambda.
//
// aws-lambda-go's Handler returns a slice of an output buffer that it has
// already given back to its pool, so two concurrent invocations of one
// Handler can overwrite each other's result (Map iterations calling one
// function). Each invocation therefore takes a Handler of its own from
// handlers and copies the result before giving it back.
type lambdaFunction struct {
	name     string
	arn      string
	handlers sync.Pool // of lambda.Handler
	shared   lambda.Handler
	mu       sync.Mutex // serialises calls of shared
}

// RegisterLambda serves the Lambda function name (both the bare ARN
// arn:aws:lambda:<region>:<account>:function:<name> and
// arn:aws:states:::lambda:invoke with FunctionName set to the name or an
// ARN) with handler: any function lambda.Start accepts, or a
// lambda.Handler. It returns the function's ARN.
func (e *Engine) RegisterLambda(name string, handler any) string {
	arn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", e.region, e.account, name)
	fn := &lambdaFunction{name: name, arn: arn}
	if h, ok := handler.(lambda.Handler); ok {
		// A Handler made outside cannot be cloned: its calls take turns.
		fn.shared = h
	} else {
		fn.handlers.New = func() any { return lambda.NewHandler(handler) }
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lambdas[name] = fn
	return arn
}

// functionName extracts the function name from a name, a partial ARN
// (123456789012:function:name) or a full ARN, with or without a qualifier.
func functionName(s string) string {
	first, _, _ := strings.Cut(s, ":")
	for rest := s; ; {
		p, after, more := strings.Cut(rest, ":")
		if !more {
			return first
		}
		if p == "function" {
			name, _, _ := strings.Cut(after, ":")
			return name
		}
		rest = after
	}
}

func (e *Engine) lambdaFunction(name string) (*lambdaFunction, *Failure) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f, ok := e.lambdas[functionName(name)]
	if !ok {
		return nil, fail(errLambdaResourceNotFound, "Function not found: %s (service: Lambda; status code: 404; error code: ResourceNotFoundException)", name)
	}
	return f, nil
}

// invoke calls the handler as the Lambda service would. A returned error
// becomes an ASL error named by its errorType (the handler error's Go type
// name, as aws-lambda-go reports it), with AWS's error payload as cause; a
// panic is reported the same way, named by the panic value's type.
func (l *lambdaFunction) invoke(ctx context.Context, payload []byte) (out []byte, f *Failure) {
	defer func() {
		if r := recover(); r != nil {
			f = lambdaFailure(errorTypeName(r), fmt.Sprintf("%v", r))
		}
	}()
	lc := &lambdacontext.LambdaContext{AwsRequestID: requestID(), InvokedFunctionArn: l.arn}
	b, err := l.call(lambdacontext.NewContext(ctx, lc), payload)
	if err != nil {
		var ive messages.InvokeResponse_Error
		if errors.As(err, &ive) {
			return nil, lambdaFailure(ive.Type, ive.Message)
		}
		return nil, lambdaFailure(errorTypeName(err), err.Error())
	}
	return b, nil
}

// call invokes a Handler that no other call uses meanwhile and copies its
// result (see lambdaFunction). A handler that panics is not reused.
func (l *lambdaFunction) call(ctx context.Context, payload []byte) ([]byte, error) {
	if l.shared != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		b, err := l.shared.Invoke(ctx, payload)
		return bytes.Clone(b), err
	}
	h := l.handlers.Get().(lambda.Handler)
	b, err := h.Invoke(ctx, payload)
	b = bytes.Clone(b)
	l.handlers.Put(h)
	return b, err
}

// errorTypeName is aws-lambda-go's rule for errorType: the Go type name of
// the value, through one pointer.
func errorTypeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return ""
	}
	if t.Kind() == reflect.Pointer {
		return t.Elem().Name()
	}
	return t.Name()
}

// lambdaFailure names the failure errorType, with the Lambda error payload
// as cause, as Step Functions reports Lambda errors.
func lambdaFailure(typ, msg string) *Failure {
	cause, _ := json.Marshal(map[string]any{"errorMessage": msg, "errorType": typ})
	return &Failure{Name: typ, Cause: string(cause)}
}

func (e *Engine) callLambda(ctx context.Context, name string, payload any) (any, *Failure) {
	fn, f := e.lambdaFunction(name)
	if f != nil {
		return nil, f
	}
	in, err := marshalJSON(payload)
	if err != nil {
		return nil, fail(ErrRuntime, "cannot marshal Lambda payload: %v", err)
	}
	start := time.Now()
	out, f := fn.invoke(ctx, in)
	if e.onInvoke != nil {
		e.onInvoke(fn.name, time.Since(start), f != nil)
	}
	if f != nil {
		return nil, f
	}
	v, err := decodeValue(out)
	if err != nil {
		// Not JSON: Lambda hands back the bytes, Step Functions a string.
		return string(out), nil
	}
	return v, nil
}

// invokeLambdaBare serves a Resource that is a function ARN: the task's
// input is the payload, the function's result is the task's result.
func (e *Engine) invokeLambdaBare(ctx context.Context, name string, params any) (any, *Failure) {
	return e.callLambda(ctx, name, params)
}

// invokeLambdaService serves arn:aws:states:::lambda:invoke: Parameters
// carry FunctionName and Payload, and the result wraps the function's
// result in Payload with the Invoke API's metadata.
func (e *Engine) invokeLambdaService(ctx context.Context, params any) (any, *Failure) {
	m, f := paramsObject(params, "lambda:invoke")
	if f != nil {
		return nil, f
	}
	name, ok := m["FunctionName"].(string)
	if !ok {
		return nil, fail(ErrRuntime, "lambda:invoke requires the parameter FunctionName")
	}
	payload, ok := m["Payload"]
	if !ok {
		payload = map[string]any{}
	}
	v, f := e.callLambda(ctx, name, payload)
	if f != nil {
		return nil, f
	}
	out := make(map[string]any, 5)
	out["ExecutedVersion"], out["Payload"], out["StatusCode"] = "$LATEST", v, status200
	return sdkMetadata(out, contentJSON, requestID()), nil
}
