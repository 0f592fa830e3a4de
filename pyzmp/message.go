package pyzmp

import (
	"errors"
	"fmt"

	"github.com/pyros-mesh/pyros/codec"
)

// ErrMessage is returned for a frame that is not a pyzmp message.
var ErrMessage = errors.New("pyzmp: not a pyzmp message")

// The namedtuple classes of pyzmp.message and their fields.
const messageModule = "pyzmp.message"

var (
	requestFields   = []string{"service", "args", "kwargs"}
	responseFields  = []string{"service", "response", "exception"}
	exceptionFields = []string{"exc_type", "exc_value", "traceback"}
)

// newCodec returns a pickle codec that reads pyzmp's messages and nothing
// else beyond plain values.
func newCodec() *codec.PickleCodec {
	c := codec.NewPickle()
	c.AllowClass(messageModule, "ServiceRequest", requestFields)
	c.AllowClass(messageModule, "ServiceResponse", responseFields)
	c.AllowClass(messageModule, "ServiceException", exceptionFields)
	return c
}

// request is a decoded ServiceRequest.
type request struct {
	service string
	args    []any
	kwargs  map[string]any
}

// readObject decodes frame as an instance of pyzmp.message.name.
func readObject(c *codec.PickleCodec, frame []byte, name string) (map[string]any, error) {
	var o codec.PickleObject
	if err := c.Unmarshal(frame, &o); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMessage, err)
	}
	if o.Module != messageModule || o.Name != name {
		return nil, fmt.Errorf("%w: got %s.%s, want %s", ErrMessage, o.Module, o.Name, name)
	}
	return o.Fields, nil
}

// decodeRequest reads a ServiceRequest and its pickled arguments.
func decodeRequest(c *codec.PickleCodec, frame []byte) (request, error) {
	f, err := readObject(c, frame, "ServiceRequest")
	if err != nil {
		return request{}, err
	}
	var r request
	var ok bool
	if r.service, ok = f["service"].(string); !ok || r.service == "" {
		return request{}, fmt.Errorf("%w: ServiceRequest without a service name", ErrMessage)
	}
	if b, _ := f["args"].([]byte); len(b) > 0 {
		if err := c.Unmarshal(b, &r.args); err != nil {
			return r, fmt.Errorf("pyzmp: arguments of %s: %w", r.service, err)
		}
	}
	if b, _ := f["kwargs"].([]byte); len(b) > 0 {
		if err := c.Unmarshal(b, &r.kwargs); err != nil {
			return r, fmt.Errorf("pyzmp: keyword arguments of %s: %w", r.service, err)
		}
	}
	return r, nil
}

// encodeRequest writes a ServiceRequest with args and kwargs pickled.
func encodeRequest(c *codec.PickleCodec, r request) ([]byte, error) {
	if r.args == nil {
		r.args = []any{}
	}
	if r.kwargs == nil {
		r.kwargs = map[string]any{}
	}
	args, err := c.Marshal(r.args)
	if err != nil {
		return nil, err
	}
	kwargs, err := c.Marshal(r.kwargs)
	if err != nil {
		return nil, err
	}
	return c.Marshal(codec.PickleObject{Module: messageModule, Name: "ServiceRequest", Args: []any{r.service, args, kwargs}})
}

// encodeResponse writes a ServiceResponse carrying a pickled result.
func encodeResponse(c *codec.PickleCodec, service string, result []byte) ([]byte, error) {
	return c.Marshal(codec.PickleObject{Module: messageModule, Name: "ServiceResponse", Args: []any{service, result, nil}})
}

// toValue maps a pyzmp call's arguments onto one mesh request value.
func toValue(args []any, kwargs map[string]any) any {
	switch {
	case len(args) == 0 && len(kwargs) == 0:
		return nil
	case len(kwargs) == 0 && len(args) == 1:
		return args[0]
	case len(kwargs) == 0:
		return args
	case len(args) == 0:
		return kwargs
	}
	return map[string]any{"args": args, "kwargs": kwargs}
}

// toArgs maps a mesh request value onto a pyzmp call's arguments.
func toArgs(v any) ([]any, map[string]any) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		return x, nil
	case map[string]any:
		if len(x) == 2 {
			args, okA := x["args"].([]any)
			kwargs, okK := x["kwargs"].(map[string]any)
			if okA && okK {
				return args, kwargs
			}
		}
		return nil, x
	}
	return []any{v}, nil
}
