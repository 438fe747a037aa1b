package asl

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// unmarshalNumber decodes JSON keeping numbers as json.Number, the value
// representation used throughout the engine.
func unmarshalNumber(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// decodeValue parses JSON text into a JSON value.
func decodeValue(b []byte) (any, error) {
	var v any
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	if err := unmarshalNumber(b, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// normalize turns any Go value into the engine's JSON value representation
// (map[string]any, []any, string, json.Number, bool, nil). []byte and
// json.RawMessage are taken as JSON text.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, bool, json.Number:
		return x, nil
	case json.RawMessage:
		return decodeValue(x)
	case []byte:
		return decodeValue(x)
	case map[string]any:
		if plainJSON(x) {
			return x, nil
		}
	case []any:
		if plainJSON(x) {
			return x, nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return decodeValue(b)
}

func plainJSON(v any) bool {
	switch x := v.(type) {
	case nil, string, bool, json.Number:
		return true
	case map[string]any:
		for _, e := range x {
			if !plainJSON(e) {
				return false
			}
		}
		return true
	case []any:
		for _, e := range x {
			if !plainJSON(e) {
				return false
			}
		}
		return true
	}
	return false
}

func jsonInt(n int) json.Number { return json.Number(strconv.Itoa(n)) }
