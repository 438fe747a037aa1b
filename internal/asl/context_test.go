package asl

import "testing"

// Every field that takes a path or a template reads the context object
// when written "$$...": the engine builds the context object only for
// states that read it, so each such field must say so at parse time.
func TestContextObjectInEveryField(t *testing.T) {
	runTable(t, []caseRow{
		{name: "InputPath", input: `{"a":1}`, want: `{"a":1}`,
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$$.Execution.Input","End":true}}}`},
		{name: "OutputPath", input: `{}`, want: `"P"`,
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","OutputPath":"$$.State.Name","End":true}}}`},
		{name: "Parameters", input: `{}`, want: `{"n":"P","m":"Machine1"}`,
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"n.$":"$$.State.Name","m.$":"$$.StateMachine.Name"},"End":true}}}`},
		{name: "Parameters nested", input: `{}`, want: `{"a":[{"n":"P"}]}`,
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a":[{"n.$":"$$.State.Name"}]},"End":true}}}`},
		{name: "intrinsic argument", input: `{}`, want: `{"s":"P-0"}`,
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"s.$":"States.Format('{}-{}', $$.State.Name, $$.State.RetryCount)"},"End":true}}}`},
		{name: "ResultSelector", input: `{}`, want: `{"n":"T"}`,
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::sns:publish","Parameters":{"TopicArn":"arn:aws:sns:us-east-1:123456789012:t","Message":"m"},"ResultSelector":{"n.$":"$$.State.Name"},"End":true}}}`},
		{name: "Choice Variable", input: `{"a":"x"}`, want: `{"a":"x"}`,
			definition: `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$$.Execution.Input.a","StringEquals":"x","Next":"Y"}],"Default":"N"},"Y":{"Type":"Succeed"},"N":{"Type":"Fail","Error":"Wrong"}}}`},
		{name: "Choice comparator path", input: `{"a":"C"}`, want: `{"a":"C"}`,
			definition: `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","StringEqualsPath":"$$.State.Name","Next":"Y"}],"Default":"N"},"Y":{"Type":"Succeed"},"N":{"Type":"Fail","Error":"Wrong"}}}`},
		{name: "Wait SecondsPath", input: `{"s":3}`, want: `{"s":3}`,
			definition: `{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$$.Execution.Input.s","End":true}}}`},
		{name: "Map ItemsPath and ItemSelector", input: `{"xs":[1,2]}`, want: `[{"i":0,"v":1},{"i":1,"v":2}]`,
			definition: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$$.Execution.Input.xs","ItemSelector":{"i.$":"$$.Map.Item.Index","v.$":"$$.Map.Item.Value"},"ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}`},
		{name: "Map ItemSelector sees the Map state", input: `{"xs":[1]}`, want: `[{"n":"M","t":"2026-01-01T00:00:00.000Z","r":0}]`,
			definition: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs","ItemSelector":{"n.$":"$$.State.Name","t.$":"$$.State.EnteredTime","r.$":"$$.State.RetryCount"},"ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}`},
		{name: "Map MaxConcurrencyPath", input: `{"n":1,"xs":[1]}`, want: `[1]`,
			definition: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs","MaxConcurrencyPath":"$$.Execution.Input.n","ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}`},
		{name: "state inside a Map reads its own context", input: `{"xs":[5]}`, want: `{"r":["P"]}`,
			definition: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs","ResultPath":"$.r","OutputPath":"$.r","ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","OutputPath":"$$.State.Name","End":true}}},"Next":"W"},"W":{"Type":"Pass","Parameters":{"r.$":"$"},"End":true}}}`},
		{name: "Parallel ResultSelector", input: `{}`, want: `{"n":"B"}`,
			definition: `{"StartAt":"B","States":{"B":{"Type":"Parallel","Branches":[{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}],"ResultSelector":{"n.$":"$$.State.Name"},"End":true}}}`},
		{name: "Succeed OutputPath", input: `{}`, want: `"S"`,
			definition: `{"StartAt":"S","States":{"S":{"Type":"Succeed","OutputPath":"$$.State.Name"}}}`},
		{name: "Fail CausePath", input: `{}`, wantErr: "E", wantCause: "F",
			definition: `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E","CausePath":"$$.State.Name"}}}`},
		{name: "Fail ErrorPath intrinsic", input: `{}`, wantErr: "F!",
			definition: `{"StartAt":"F","States":{"F":{"Type":"Fail","ErrorPath":"States.Format('{}!', $$.State.Name)","Cause":"c"}}}`},
		{name: "Task TimeoutSecondsPath", input: `{"t":5}`, want: `{"t":5}`,
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::sns:publish","Parameters":{"TopicArn":"arn:aws:sns:us-east-1:123456789012:t","Message":"m"},"TimeoutSecondsPath":"$$.Execution.Input.t","ResultPath":null,"End":true}}}`},
	}, func(e *Engine) { e.SetPublisher(&outbox{}) })
}
