package main

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// parseJSON decodes a command-line JSON argument into plain values, keeping
// integers as int64 so typed handlers receive integers.
func parseJSON(s string) (any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("bad JSON argument: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("bad JSON argument: trailing data after the value")
	}
	return numbers(v), nil
}

func numbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = numbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = numbers(e)
		}
	}
	return v
}

// jsonable converts decoded values (maps with non-string keys included)
// into values encoding/json accepts.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case map[string]any:
		for k, e := range t {
			t[k] = jsonable(e)
		}
	case []any:
		for i, e := range t {
			t[i] = jsonable(e)
		}
	}
	return v
}
