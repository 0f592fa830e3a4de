package codec

import (
	"encoding/json"
	"fmt"
)

// jsonCodec encodes with encoding/json. It exists for debugging and for
// peers without msgpack; numbers decoded into interface values are float64.
type jsonCodec struct{}

var _ Codec = jsonCodec{}

// NewJSON returns the json codec, built on encoding/json.
func NewJSON() Codec { return jsonCodec{} }

func (jsonCodec) Name() string { return JSON }

func (jsonCodec) Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("codec: json marshal: %w", err)
	}
	return b, nil
}

// Unmarshal decodes data with encoding/json, which bounds its own nesting
// and allocates in proportion to the input.
func (jsonCodec) Unmarshal(data []byte, v any) error {
	if err := checkTarget(v); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}
