package jsonpath

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzPath checks that no path and no input make Compile, Get, GetReference
// or Set panic, and that Set never mutates its input.
func FuzzPath(f *testing.F) {
	for _, seed := range []struct{ path, input string }{
		{"$", specInput},
		{"$.foo", specInput},
		{"$.bar[-1]", specInput},
		{"$.bar[1:]", specInput},
		{"$..price", storeInput},
		{"$.store.book[?(@.price < 10)].author", storeInput},
		{"$['a b'].c", `{"a b": {"c": 1}}`},
		{"$.request-id", storeInput},
		{"$$.Execution.Id", `{"Execution": {"Id": "x"}}`},
		{"$.a[0].b", `{"a": [{"b": null}]}`},
		{"$.a.b.c", `{"a": "s"}`},
		{"$[?(@ > 1)]", `[1, 2, 3]`},
	} {
		f.Add(seed.path, seed.input)
	}
	f.Fuzz(func(t *testing.T, path, input string) {
		d := json.NewDecoder(strings.NewReader(input))
		d.UseNumber()
		var data any
		if d.Decode(&data) != nil {
			data = nil
		}
		p, err := Compile(path)
		if err != nil {
			return
		}
		_, _ = p.Get(data)
		if !p.IsReference() {
			return
		}
		got, gotErr := p.GetReference(data)
		want, found := p.expr.FirstFound(data)
		if (gotErr == nil) != found || (found && !reflect.DeepEqual(got, want)) {
			t.Fatalf("GetReference(%q) = %v, %v; ojg's FirstFound = %v, %v", path, got, gotErr, want, found)
		}
		before, _ := json.Marshal(data)
		if _, err := p.Set(data, "v"); err == nil {
			if after, _ := json.Marshal(data); string(after) != string(before) {
				t.Fatalf("Set(%q) mutated its input", path)
			}
		}
	})
}

func BenchmarkGetReference(b *testing.B) {
	data := decode(b, storeInput)
	p, err := Compile("$.store.book[2].isbn")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.Get(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetFilter(b *testing.B) {
	data := decode(b, storeInput)
	p, err := Compile("$.store.book[?(@.price < 10)].author")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.Get(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSet(b *testing.B) {
	data := decode(b, storeInput)
	p, err := CompileReference("$.result.value")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.Set(data, "v"); err != nil {
			b.Fatal(err)
		}
	}
}
