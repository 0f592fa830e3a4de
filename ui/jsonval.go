package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pyros-mesh/pyros/codec"
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
		req.Arg = codec.JSONNumbers(req.Arg)
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
