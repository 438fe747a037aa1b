package intrinsic

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/lethe-erasure/lethe/internal/asl/jsonpath"
)

// maxInt bounds integer arguments so that sums and ranges never overflow
// int64 and every result is exact in JSON consumers that use doubles.
const maxInt = 1 << 53

// number returns v as a float64 if it is a JSON number (json.Number, or a Go
// number placed in the context object by the engine).
func number(v any) (float64, bool) {
	switch t := v.(type) {
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case float64:
		return t, true
	}
	return 0, false
}

// integer returns an integer argument; the guide requires integers for
// ArrayRange, ArrayPartition and ArrayGetItem.
func integer(v any, n int) (int64, error) {
	if s, ok := v.(json.Number); ok {
		if i, err := strconv.ParseInt(string(s), 10, 64); err == nil {
			return bounded(float64(i), n)
		}
	}
	f, ok := number(v)
	if !ok {
		return 0, fmt.Errorf("argument %d must be an integer, got %s", n, jsonpath.Kind(v))
	}
	if f != math.Trunc(f) {
		return 0, fmt.Errorf("argument %d must be an integer, got %v", n, v)
	}
	return bounded(f, n)
}

// rounded returns a number argument rounded to the nearest integer, half up
// (Java's Math.round), which is what AWS records for States.MathAdd.
func rounded(v any, n int) (int64, error) {
	f, ok := number(v)
	if !ok {
		return 0, fmt.Errorf("argument %d must be a number, got %s", n, jsonpath.Kind(v))
	}
	r := math.Floor(f)
	if f-r >= 0.5 {
		r++
	}
	return bounded(r, n)
}

func bounded(f float64, n int) (int64, error) {
	if math.IsNaN(f) || f > maxInt || f < -maxInt {
		return 0, fmt.Errorf("argument %d is out of the integer range ±2^53", n)
	}
	return int64(f), nil
}

// canonical renders a JSON value so that equal values, and only those, give
// equal strings: object keys sorted, numbers compared by value (1 equals
// 1.0). ArrayContains and ArrayUnique compare with it.
func canonical(v any) string {
	var b strings.Builder
	writeCanonical(&b, v)
	return b.String()
}

func writeCanonical(b *strings.Builder, v any) {
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case string:
		b.WriteString(strconv.Quote(t))
	case map[string]any:
		b.WriteByte('{')
		for _, k := range slices.Sorted(maps.Keys(t)) {
			b.WriteString(strconv.Quote(k))
			b.WriteByte(':')
			writeCanonical(b, t[k])
			b.WriteByte(',')
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for _, e := range t {
			writeCanonical(b, e)
			b.WriteByte(',')
		}
		b.WriteByte(']')
	default:
		if s, ok := t.(json.Number); ok {
			if i, err := strconv.ParseInt(string(s), 10, 64); err == nil {
				b.WriteString(strconv.FormatInt(i, 10))
				return
			}
		}
		if f, ok := number(t); ok {
			b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
			return
		}
		fmt.Fprintf(b, "%T:%v", t, t)
	}
}
