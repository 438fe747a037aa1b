package asl

import (
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
)

// FuzzAppendJSON holds the engine's JSON encoder to json.Marshal: for any
// JSON text decoded as the engine decodes it, for any string and for any
// json.Number, the bytes (or the fallback to encoding/json) are the same.
func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{
		`{"b":1,"a":[true,false,null,"x"],"c":{"<&>":"\u2028\u2029"}}`,
		`"\u0000\u001f\b\f\n\r\t\"\\ é 😀"`,
		`[1.5e-3,-0,0.0,1E+9,12345678901234567890]`,
		`{}`, `[]`, `""`, `null`, "\"\xff\xfe\"", `{"a":{"b":{"c":[[],{}]}}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(v any) {
			t.Helper()
			want, werr := json.Marshal(v)
			got, gerr := marshalJSON(v)
			if (werr == nil) != (gerr == nil) || string(got) != string(want) {
				t.Fatalf("marshalJSON(%#v) = %s, %v; json.Marshal = %s, %v", v, got, gerr, want, werr)
			}
		}
		check(s)
		check(json.Number(s))
		check(map[string]any{s: []any{s, json.Number(s)}})
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		if d.Decode(&v) == nil {
			check(v)
		}
	})
}

func BenchmarkMarshalJSON(b *testing.B) {
	v, err := decodeValue([]byte(`{"requestId":"er_eu_1","deadline":"2026-03-02T09:00:00Z","subsystem":{"name":"orders","mode":"async","baseUrl":"https://orders.internal","timeoutSeconds":10,"token":{"kind":"none"}},"attempt":0}`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := marshalJSON(v); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParseJSON holds the engine's JSON parser to encoding/json: whatever
// it parses, json.Decoder with UseNumber decodes to the same value, and it
// parses nothing that encoding/json rejects.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`{"b":1,"a":[true,false,null,"x"],"c":{"k":"é😀"}}`, ` [1.5e-3,-0,0.0,1E+9,12345678901234567890] `,
		`{}`, `[]`, `""`, `null`, "\"\xff\"", `{"a":1,"a":2}`, `01`, `1.`, `-`, `tru`, `nullx`, `{"a":1}x`,
		`"\u00e9"`, "\"\t\"", `[1,]`, `{"a":1,}`, `{"a"}`, `1e5`, `-0.5E-7`, `{"a":[{"b":[]}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseJSON([]byte(s))
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var want any
		err := d.Decode(&want)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("parseJSON(%q) = %#v, encoding/json rejects it: %v", s, got, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parseJSON(%q) = %#v, encoding/json gives %#v", s, got, want)
		}
		if _, err := d.Token(); err != io.EOF {
			t.Fatalf("parseJSON(%q) accepted text after the value", s)
		}
	})
}
