// Package lambdaenv builds, once per Lambda container, what a regional
// function's environment describes: its region's configuration, the AWS
// configuration and the adapters over them. The functions' mains call it and
// exit on its errors, so each main stays a few lines of wiring.
package lambdaenv

import (
	"context"
	"encoding/json"
	"fmt"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/progress"
	"github.com/lethe-erasure/lethe/internal/secrets"
	"github.com/lethe-erasure/lethe/internal/store/dynamo"
	"github.com/lethe-erasure/lethe/internal/subjectkey"
	"github.com/lethe-erasure/lethe/internal/subsystem"
)

// Env is a regional function's view of its deployment.
type Env struct {
	Config *config.Config
	Region config.Region
	AWS    aws.Config
	// Log writes JSON lines to stdout, which Lambda sends to CloudWatch.
	Log *slog.Logger
}

// Load reads LETHE_CONFIG (and checks LETHE_REGION against it) and the AWS
// configuration of the container.
func Load(ctx context.Context) (*Env, error) {
	cfg, region, err := config.FromEnv(os.Getenv(config.EnvConfig))
	if err != nil {
		return nil, err
	}
	if r := os.Getenv(config.EnvRegion); r != "" && r != region.Name {
		return nil, fmt.Errorf("%s %q does not match the region %q of %s", config.EnvRegion, r, region.Name, config.EnvConfig)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	return &Env{Config: cfg, Region: region, AWS: awsCfg, Log: NewLog(os.Stdout, region.Name)}, nil
}

// NewLog is a function's logger: JSON lines to w, each naming the region
// and the function (AWS_LAMBDA_FUNCTION_NAME), so that one request's lines
// can be gathered across functions by its requestId (Logs Insights query
// in README).
func NewLog(w io.Writer, region string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil)).With("region", region, "function", os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
}

// Get returns a required environment variable.
func Get(name string) (string, error) {
	v := os.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("%s is not set", name)
	}
	return v, nil
}

// Requests is the region's requests table, named by LETHE_TABLE_NAME.
func (e *Env) Requests() (*dynamo.Store, error) {
	table, err := Get(config.EnvTableName)
	if err != nil {
		return nil, err
	}
	return dynamo.New(dynamodb.NewFromConfig(e.AWS), table), nil
}

// SubjectKey reads the region's subject key from the Secrets Manager secret
// LETHE_SUBJECT_KEY_SECRET_ARN names, once per container.
func (e *Env) SubjectKey(ctx context.Context) (*subjectkey.Key, error) {
	arn, err := Get(config.EnvSubjectKeySecretArn)
	if err != nil {
		return nil, err
	}
	v, err := secrets.NewSecretsManager(secretsmanager.NewFromConfig(e.AWS)).Fetch(ctx, arn)
	if err != nil {
		return nil, fmt.Errorf("read the subject key: %w", err)
	}
	return subjectkey.Parse(v)
}

// Certifier has the certify function issue a request's certificate: an
// asynchronous invocation (Lambda retries it twice), for an attestation that
// completes a request outside its execution.
func (e *Env) Certifier(function string) LambdaCertifier {
	return LambdaCertifier{client: awslambda.NewFromConfig(e.AWS), function: function}
}

// LambdaCertifier invokes the certify function (api.Certifier).
type LambdaCertifier struct {
	client   *awslambda.Client
	function string
}

// Certify invokes the function with {"requestId": id}, not waiting.
func (c LambdaCertifier) Certify(ctx context.Context, requestID string) error {
	payload, err := json.Marshal(map[string]string{"requestId": requestID})
	if err != nil {
		return err
	}
	_, err = c.client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: &c.function, InvocationType: lambdatypes.InvocationTypeEvent, Payload: payload})
	return err
}

// Connector is the subsystem connector of the three subsystem tasks: tokens
// from Secrets Manager or SSM, cached; subjects from the requests table;
// payloads checked against the region's configuration.
func (e *Env) Connector(opts ...subsystem.Option) (*subsystem.Connector, error) {
	requests, err := e.Requests()
	if err != nil {
		return nil, err
	}
	return subsystem.New(subsystem.NewHTTPClient(), e.Tokens(), requests, e.Progress(requests),
		append([]subsystem.Option{subsystem.WithRegion(e.Region), subsystem.WithLogger(e.Log),
			subsystem.WithCallbacks(requests, e.Tasks(), os.Getenv(config.EnvCallbackURL))}, opts...)...), nil
}

// Tokens reads subsystems' bearer tokens and connectors' keys from Secrets
// Manager and SSM, each kept for secrets.DefaultTTL.
func (e *Env) Tokens() *secrets.Cache {
	return secrets.NewCache(secrets.NewSecretsManager(secretsmanager.NewFromConfig(e.AWS)),
		secrets.NewSSM(ssm.NewFromConfig(e.AWS)), secrets.DefaultTTL, time.Now)
}

// Tasks completes the waits of the region's machines (Step Functions'
// SendTaskSuccess and SendTaskFailure): a subsystem's callback ends its
// AwaitCallback.
func (e *Env) Tasks() SFNTasks { return SFNTasks{client: sfn.NewFromConfig(e.AWS)} }

// SFNTasks is Step Functions' SendTaskSuccess and SendTaskFailure
// (subsystem.TaskSender).
type SFNTasks struct{ client *sfn.Client }

// SendTaskSuccess completes the task waiting on the token.
func (t SFNTasks) SendTaskSuccess(ctx context.Context, token string, output []byte) error {
	out := string(output)
	_, err := t.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: &token, Output: &out})
	return err
}

// SendTaskFailure fails the task waiting on the token.
func (t SFNTasks) SendTaskFailure(ctx context.Context, token, errorName, cause string) error {
	_, err := t.client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: &token, Error: &errorName, Cause: &cause})
	return err
}

// Progress is the progress tracker of the tasks that write a request's
// progress; its escalation mails go to the subsystems' SNS topics.
func (e *Env) Progress(requests *dynamo.Store) *progress.Tracker {
	return progress.New(requests, SNSMailer{sns.NewFromConfig(e.AWS)}, e.Config, e.Region, e.Log)
}

// Notices publishes the api's notices to data subjects to the topic.
func (e *Env) Notices(topicArn string) NoticeTopic {
	return NoticeTopic{mailer: SNSMailer{sns.NewFromConfig(e.AWS)}, topic: topicArn}
}

// NoticeTopic is the subject-notices topic as the api publishes to it.
type NoticeTopic struct {
	mailer SNSMailer
	topic  string
}

// PublishNotice sends one notice (JSON) to the topic.
func (n NoticeTopic) PublishNotice(ctx context.Context, message string) error {
	return n.mailer.Publish(ctx, n.topic, "Lethe: notice to a data subject", message)
}

// SNSMailer publishes plain-text mail to SNS topics.
type SNSMailer struct{ Client *sns.Client }

// Publish sends one message to the topic.
func (m SNSMailer) Publish(ctx context.Context, topicArn, subject, message string) error {
	_, err := m.Client.Publish(ctx, &sns.PublishInput{TopicArn: &topicArn, Subject: &subject, Message: &message})
	return err
}
