package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/pyros-mesh/pyros/codec"
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
	return codec.JSONNumbers(v), nil
}
