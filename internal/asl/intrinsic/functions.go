package intrinsic

import (
	"github.com/lethe-erasure/lethe/internal/asl/jsonpath"

	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// function is one States.Xxx: its arity (maxArgs -1: no limit), an optional
// parse-time check, and its evaluation on already evaluated arguments.
type function struct {
	minArgs, maxArgs int
	check            func(c *Call) error
	eval             func(c *Call, args []any, rnd Random) (any, error)
}

func (f function) arity() string {
	switch {
	case f.maxArgs < 0:
		return fmt.Sprintf("at least %d arguments", f.minArgs)
	case f.minArgs == f.maxArgs:
		return fmt.Sprintf("%d arguments", f.minArgs)
	default:
		return fmt.Sprintf("%d to %d arguments", f.minArgs, f.maxArgs)
	}
}

// functions holds the 18 intrinsics of the developer guide, by name without
// the "States." prefix.
var functions = map[string]function{
	"Format":         {1, -1, checkFormat, format},
	"StringToJson":   {1, 1, nil, stringToJSON},
	"JsonToString":   {1, 1, nil, jsonToString},
	"Array":          {0, -1, nil, array},
	"ArrayPartition": {2, 2, nil, arrayPartition},
	"ArrayContains":  {2, 2, nil, arrayContains},
	"ArrayRange":     {3, 3, nil, arrayRange},
	"ArrayGetItem":   {2, 2, nil, arrayGetItem},
	"ArrayLength":    {1, 1, nil, arrayLength},
	"ArrayUnique":    {1, 1, nil, arrayUnique},
	"Base64Encode":   {1, 1, nil, base64Encode},
	"Base64Decode":   {1, 1, nil, base64Decode},
	"Hash":           {2, 2, nil, hashValue},
	"JsonMerge":      {3, 3, checkJSONMerge, jsonMerge},
	"MathRandom":     {2, 3, nil, mathRandom},
	"MathAdd":        {2, 2, nil, mathAdd},
	"StringSplit":    {2, 2, nil, stringSplit},
	"UUID":           {0, 0, nil, newUUID},
}

// maxChars is the input limit the guide gives for Base64Encode,
// Base64Decode and Hash.
const maxChars = 10000

// maxRange is the largest array States.ArrayRange may create.
const maxRange = 1000

// checkFormat rejects, at parse time, a literal template whose "{}" count
// differs from the number of remaining arguments.
func checkFormat(c *Call) error {
	a := c.args[0]
	if a.path != "" || a.call != nil {
		return nil
	}
	if _, ok := a.value.(string); !ok {
		return errors.New("the first argument must be a string")
	}
	if holes := len(a.parts) - 1; holes != len(c.args)-1 {
		return fmt.Errorf("the template has %d {} but %d values follow", holes, len(c.args)-1)
	}
	return nil
}

// format replaces each "{}" with its argument. Values are rendered as AWS
// renders them (recorded): strings without quotes, null as null, objects
// and arrays as {key=value, ...} and [a, b].
func format(c *Call, args []any, _ Random) (any, error) {
	parts := c.args[0].parts
	if parts == nil { // template from a path or a call: every "{}" is a placeholder
		tmpl, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("the template must be a string, got %s", jsonpath.Kind(args[0]))
		}
		parts = strings.Split(tmpl, "{}")
	}
	if len(parts)-1 != len(args)-1 {
		return nil, fmt.Errorf("the template has %d {} but %d values follow", len(parts)-1, len(args)-1)
	}
	var b strings.Builder
	for i, part := range parts {
		b.WriteString(part)
		if i+1 < len(args) {
			formatValue(&b, args[i+1])
		}
	}
	return b.String(), nil
}

func formatValue(b *strings.Builder, v any) {
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		b.WriteString(t)
	case map[string]any:
		b.WriteByte('{')
		for i, k := range slices.Sorted(maps.Keys(t)) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k)
			b.WriteByte('=')
			formatValue(b, t[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			formatValue(b, e)
		}
		b.WriteByte(']')
	default:
		fmt.Fprint(b, t)
	}
}

// stringToJSON parses a JSON text. A blank string gives null, and an integer
// -0 gives 0, as recorded on AWS.
func stringToJSON(_ *Call, args []any, _ Random) (any, error) {
	s, err := str(args[0], 1)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	v, err := jsonpath.Decode(s)
	if err != nil {
		return nil, fmt.Errorf("the argument is not JSON: %w", err)
	}
	return positiveZero(v), nil
}

func positiveZero(v any) any {
	switch t := v.(type) {
	case json.Number:
		if t == "-0" {
			return json.Number("0")
		}
	case map[string]any:
		for k, e := range t {
			t[k] = positiveZero(e)
		}
	case []any:
		for i, e := range t {
			t[i] = positiveZero(e)
		}
	}
	return v
}

func jsonToString(_ *Call, args []any, _ Random) (any, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(args[0]); err != nil {
		return nil, fmt.Errorf("encode the argument as JSON: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func array(_ *Call, args []any, _ Random) (any, error) {
	return args, nil // a fresh slice on every Eval
}

func arrayPartition(_ *Call, args []any, _ Random) (any, error) {
	a, err := list(args[0], 1)
	if err != nil {
		return nil, err
	}
	size, err := integer(args[1], 2)
	if err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, fmt.Errorf("the chunk size must be a positive integer, got %d", size)
	}
	out := []any{}
	for chunk := range slices.Chunk(a, int(min(size, int64(len(a)+1)))) {
		out = append(out, slices.Clone(chunk))
	}
	return out, nil
}

func arrayContains(_ *Call, args []any, _ Random) (any, error) {
	a, err := list(args[0], 1)
	if err != nil {
		return nil, err
	}
	want := canonical(args[1])
	for _, e := range a {
		if canonical(e) == want {
			return true, nil
		}
	}
	return false, nil
}

func arrayRange(_ *Call, args []any, _ Random) (any, error) {
	var n [3]int64
	for i := range n {
		v, err := integer(args[i], i+1)
		if err != nil {
			return nil, err
		}
		n[i] = v
	}
	start, end, step := n[0], n[1], n[2]
	if step == 0 {
		return nil, errors.New("the step must not be 0")
	}
	out := []any{}
	if (step > 0 && start > end) || (step < 0 && start < end) {
		return out, nil
	}
	// Bounded by maxInt (2^53), so none of this overflows.
	if count := (end-start)/step + 1; count > maxRange {
		return nil, fmt.Errorf("the range has %d elements, more than %d", count, maxRange)
	}
	for v := start; (step > 0 && v <= end) || (step < 0 && v >= end); v += step {
		out = append(out, json.Number(strconv.FormatInt(v, 10)))
	}
	return out, nil
}

func arrayGetItem(_ *Call, args []any, _ Random) (any, error) {
	a, err := list(args[0], 1)
	if err != nil {
		return nil, err
	}
	i, err := integer(args[1], 2)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= int64(len(a)) {
		return nil, fmt.Errorf("index %d is out of bounds for an array of length %d", i, len(a))
	}
	return a[i], nil
}

func arrayLength(_ *Call, args []any, _ Random) (any, error) {
	a, err := list(args[0], 1)
	if err != nil {
		return nil, err
	}
	return json.Number(strconv.Itoa(len(a))), nil
}

func arrayUnique(_ *Call, args []any, _ Random) (any, error) {
	a, err := list(args[0], 1)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(a))
	out := []any{}
	for _, e := range a {
		if k := canonical(e); !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out, nil
}

func base64Encode(_ *Call, args []any, _ Random) (any, error) {
	s, err := limited(args[0], 1)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func base64Decode(_ *Call, args []any, _ Random) (any, error) {
	s, err := limited(args[0], 1)
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("the argument is not Base64: %w", err)
	}
	return string(b), nil
}

// hashes are the algorithms the guide lists for States.Hash.
var hashes = map[string]func() hash.Hash{
	"MD5": md5.New, "SHA-1": sha1.New, "SHA-256": sha256.New, "SHA-384": sha512.New384, "SHA-512": sha512.New,
}

func hashValue(_ *Call, args []any, _ Random) (any, error) {
	s, err := limited(args[0], 1)
	if err != nil {
		return nil, err
	}
	name, err := str(args[1], 2)
	if err != nil {
		return nil, err
	}
	newHash, ok := hashes[name]
	if !ok {
		return nil, fmt.Errorf("unknown algorithm %q: use MD5, SHA-1, SHA-256, SHA-384 or SHA-512", name)
	}
	h := newHash()
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkJSONMerge rejects a literal deep merge at parse time: AWS supports
// only the shallow mode, "you must specify the boolean value as false".
func checkJSONMerge(c *Call) error {
	if a := c.args[2]; a.path == "" && a.call == nil && a.value != false {
		return errors.New("the third argument must be false (only shallow merge is supported)")
	}
	return nil
}

func jsonMerge(_ *Call, args []any, _ Random) (any, error) {
	var objs [2]map[string]any
	for i := range objs {
		m, ok := args[i].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("argument %d must be an object, got %s", i+1, jsonpath.Kind(args[i]))
		}
		objs[i] = m
	}
	if deep, ok := args[2].(bool); !ok || deep {
		return nil, errors.New("the third argument must be false (only shallow merge is supported)")
	}
	out := maps.Clone(objs[0])
	if out == nil {
		out = map[string]any{}
	}
	maps.Copy(out, objs[1])
	return out, nil
}

// mathRandom returns an integer between start and end, both included.
// Non-integer bounds are rounded as MathAdd rounds them (AWS accepts
// MathRandom(12.50, 44.51)); with a seed the result is repeatable.
func mathRandom(_ *Call, args []any, rnd Random) (any, error) {
	start, err := rounded(args[0], 1)
	if err != nil {
		return nil, err
	}
	end, err := rounded(args[1], 2)
	if err != nil {
		return nil, err
	}
	if start > end {
		return nil, fmt.Errorf("the start %d is greater than the end %d", start, end)
	}
	if len(args) == 3 {
		seed, err := rounded(args[2], 3)
		if err != nil {
			return nil, err
		}
		rnd = seeded{rand.New(rand.NewPCG(uint64(seed), 0))}
	}
	return json.Number(strconv.FormatInt(start+rnd.Int64N(end-start+1), 10)), nil
}

// seeded is the Random of a seeded States.MathRandom: the same seed gives
// the same number, as the guide promises. It never serves States.UUID.
type seeded struct{ *rand.Rand }

func (seeded) UUID() string { return "" }

// mathAdd adds two numbers after rounding each to the nearest integer, half
// up, as recorded on AWS (1.49 + 1.5 = 3, -1.5 + 0 = -1).
func mathAdd(_ *Call, args []any, _ Random) (any, error) {
	a, err := rounded(args[0], 1)
	if err != nil {
		return nil, err
	}
	b, err := rounded(args[1], 2)
	if err != nil {
		return nil, err
	}
	return json.Number(strconv.FormatInt(a+b, 10)), nil
}

// stringSplit splits on every character of the delimiter and drops empty
// strings, as recorded on AWS (",,,," gives [], ".+,=" splits on each of
// the four characters).
func stringSplit(_ *Call, args []any, _ Random) (any, error) {
	s, err := str(args[0], 1)
	if err != nil {
		return nil, err
	}
	delims, err := str(args[1], 2)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(delims, r) }) {
		out = append(out, f)
	}
	return out, nil
}

func newUUID(_ *Call, _ []any, rnd Random) (any, error) {
	return rnd.UUID(), nil
}

func str(v any, n int) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("argument %d must be a string, got %s", n, jsonpath.Kind(v))
	}
	return s, nil
}

func limited(v any, n int) (string, error) {
	s, err := str(v, n)
	if err == nil && utf8.RuneCountInString(s) > maxChars {
		err = fmt.Errorf("argument %d has more than %d characters", n, maxChars)
	}
	return s, err
}

func list(v any, n int) ([]any, error) {
	a, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("argument %d must be an array, got %s", n, jsonpath.Kind(v))
	}
	return a, nil
}
