package asl

import "testing"

func TestPass(t *testing.T) {
	runTable(t, []caseRow{
		{
			name:       "passes input through",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`,
			input:      `{"a":1}`,
			want:       `{"a":1}`,
		},
		{
			// Spec "Pass State" example: Result placed by ResultPath.
			name: "spec example Result and ResultPath",
			definition: `{"StartAt":"No-op","States":{"No-op":{"Type":"Pass","Result":{"x-datum":0.381018,"y-datum":622.2269926397355},
				"ResultPath":"$.coords","End":true}}}`,
			input: `{"georefOf":"Home"}`,
			want:  `{"georefOf":"Home","coords":{"x-datum":0.381018,"y-datum":622.2269926397355}}`,
		},
		{
			name:       "ResultPath null discards the result",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","Result":"x","ResultPath":null,"End":true}}}`,
			input:      `{"a":1}`,
			want:       `{"a":1}`,
		},
		{
			name: "Parameters with paths, context and intrinsic",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"v.$":"$.a","name.$":"$$.State.Name",
				"msg.$":"States.Format('hi {}', $.who)","lit":[1,{"k":true}]},"End":true}}}`,
			input: `{"a":{"b":2},"who":"bob"}`,
			want:  `{"v":{"b":2},"name":"P","msg":"hi bob","lit":[1,{"k":true}]}`,
		},
		{
			name:       "InputPath and OutputPath",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$.in","ResultPath":"$.r","OutputPath":"$.r","End":true}}}`,
			input:      `{"in":{"x":1}}`,
			want:       `{"x":1}`,
		},
		{
			name:       "InputPath null gives an empty object",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":null,"End":true}}}`,
			input:      `{"in":{"x":1}}`,
			want:       `{}`,
		},
		{
			name:       "OutputPath null gives an empty object",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","OutputPath":null,"End":true}}}`,
			input:      `{"in":{"x":1}}`,
			want:       `{}`,
		},
		{
			name:       "missing InputPath is States.Runtime",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$.nope","End":true}}}`,
			input:      `{}`,
			wantErr:    ErrRuntime,
			wantCause:  "entered at the event id #2",
		},
		{
			name:       "missing Parameters path is States.Runtime with AWS's cause",
			definition: `{"StartAt":"pass","States":{"pass":{"Type":"Pass","Parameters":{"value.$":"$.no_such_jsonpath"},"End":true}}}`,
			input:      `{}`,
			wantErr:    ErrRuntime,
			wantCause:  "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be found in the input '{}'",
		},
		{
			name:       "failing intrinsic is States.IntrinsicFailure",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"v.$":"States.ArrayGetItem($.a, 5)"},"End":true}}}`,
			input:      `{"a":[1]}`,
			wantErr:    ErrIntrinsicFailure,
		},
		{
			name:       "ResultPath through a scalar is States.ResultPathMatchFailure",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","Result":1,"ResultPath":"$.a.b","End":true}}}`,
			input:      `{"a":"str"}`,
			wantErr:    ErrResultPathMatchFailure,
		},
		{
			name: "chain of states",
			definition: `{"StartAt":"A","States":{"A":{"Type":"Pass","Result":1,"ResultPath":"$.a","Next":"B"},
				"B":{"Type":"Pass","Result":2,"ResultPath":"$.b","Next":"C"},"C":{"Type":"Succeed"}}}`,
			input: `{}`,
			want:  `{"a":1,"b":2}`,
		},
	}, nil)
}
