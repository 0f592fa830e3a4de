package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// callRequest is the body of POST /api/call.
type callRequest struct {
	Service string `json:"service"`
	Arg     any    `json:"-"`
}

// decodeCall reads a call: {"service": NAME, "arg": JSON}, arg optional.
// Integers stay int64, so typed handlers receive integers.
func decodeCall(b []byte) (callRequest, error) {
	var raw struct {
		Service string          `json:"service"`
		Arg     json.RawMessage `json:"arg"`
	}
	if err := strictDecode(b, &raw); err != nil {
		return callRequest{}, err
	}
	if raw.Service == "" {
		return callRequest{}, errors.New(`"service" is missing: send {"service": "NAME", "arg": VALUE}`)
	}
	req := callRequest{Service: raw.Service}
	if len(raw.Arg) > 0 {
		if err := strictDecode(raw.Arg, &req.Arg); err != nil {
			return callRequest{}, fmt.Errorf("arg: %w", err)
		}
		req.Arg = numbers(req.Arg)
	}
	return req, nil
}

// strictDecode decodes exactly one JSON value, with numbers as json.Number.
func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the value")
	}
	return nil
}

// numbers turns json.Numbers into int64 where they are integers, float64
// otherwise.
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
