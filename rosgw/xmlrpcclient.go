package rosgw

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
)

// xmlrpcClient calls the XML-RPC methods of one server over HTTP, with the
// values of xmlrpcvalue.go.
type xmlrpcClient struct {
	url string
	hc  *http.Client
}

func newXMLRPCClient(host string, hc *http.Client) *xmlrpcClient {
	return &xmlrpcClient{url: "http://" + host + "/", hc: hc}
}

// faultError is an XML-RPC fault: the server failed to run the method.
type faultError struct {
	Code    int
	Message string
}

func (e *faultError) Error() string {
	return fmt.Sprintf("rosgw: XML-RPC fault %d: %s", e.Code, e.Message)
}

// call runs method with args and returns its result: a *faultError if the
// server answers with a fault, an error wrapping ErrXMLRPC if its answer is
// not valid XML-RPC or over maxXMLRPCResponse bytes.
func (c *xmlrpcClient) call(ctx context.Context, method string, args ...any) (any, error) {
	body, err := encodeCall(method, args)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("rosgw: %s: %w", method, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("rosgw: %s: HTTP %s", method, res.Status)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, maxXMLRPCResponse+1))
	if err != nil {
		return nil, fmt.Errorf("rosgw: %s: %w", method, err)
	}
	if len(data) > maxXMLRPCResponse {
		return nil, fmt.Errorf("%w: %s: answer over %d bytes", ErrXMLRPC, method, maxXMLRPCResponse)
	}
	v, err := decodeResponse(data)
	if err != nil {
		return nil, fmt.Errorf("rosgw: %s: %w", method, err)
	}
	return v, nil
}

// encodeCall writes a methodCall.
func encodeCall(method string, args []any) ([]byte, error) {
	b := append([]byte(`<?xml version="1.0"?><methodCall><methodName>`), method...)
	b = append(b, "</methodName><params>"...)
	var err error
	for _, a := range args {
		b = append(b, "<param>"...)
		if b, err = appendValue(b, a, 0); err != nil {
			return nil, err
		}
		b = append(b, "</param>"...)
	}
	return append(b, "</params></methodCall>"...), nil
}

// decodeResponse reads a methodResponse: its one value, or its fault.
func decodeResponse(data []byte) (any, error) {
	p := newValueParser(bytes.NewReader(data))
	if err := p.expect("methodResponse"); err != nil {
		return nil, err
	}
	s, err := p.start()
	if err != nil {
		return nil, err
	}
	var v any
	switch s.Name.Local {
	case "params":
		if err := p.expect("param"); err != nil {
			return nil, err
		}
		if err := p.expect("value"); err != nil {
			return nil, err
		}
		if v, err = p.value(); err != nil {
			return nil, err
		}
		if err := p.end("param"); err != nil {
			return nil, err
		}
	case "fault":
		if err := p.expect("value"); err != nil {
			return nil, err
		}
		f, err := p.value()
		if err != nil {
			return nil, err
		}
		m, _ := f.(map[string]any)
		code, ok1 := m["faultCode"].(int)
		msg, ok2 := m["faultString"].(string)
		if !ok1 || !ok2 {
			return nil, p.errorf("a fault that is no {faultCode, faultString}")
		}
		err = &faultError{Code: code, Message: msg}
		if err2 := p.endAll("fault", "methodResponse"); err2 != nil {
			return nil, err2
		}
		return nil, err
	default:
		return nil, p.errorf("<%s> in <methodResponse>", s.Name.Local)
	}
	return v, p.endAll("params", "methodResponse")
}

// endAll reads the ends of the elements names, then the end of the document.
func (p *valueParser) endAll(names ...string) error {
	for _, n := range names {
		if err := p.end(n); err != nil {
			return err
		}
	}
	return p.eof()
}

// masterError is a ROS master's answer whose code is not 1 (success): 0
// is a failure, -1 an error, as the ROS master API says.
type masterError struct {
	Method string
	Code   int
	Status string
}

func (e *masterError) Error() string {
	return fmt.Sprintf("rosgw: %s: %s (code %d)", e.Method, e.Status, e.Code)
}

// masterCall runs a method of the ROS master API, whose answer is
// [code, statusMessage, value], and returns the value; a *masterError
// when the code is not 1.
func (c *xmlrpcClient) masterCall(ctx context.Context, method string, args ...any) (any, error) {
	v, err := c.call(ctx, method, args...)
	if err != nil {
		return nil, err
	}
	r, _ := v.([]any)
	if len(r) != 3 {
		return nil, fmt.Errorf("%w: %s: an answer that is no [code, statusMessage, value]", ErrXMLRPC, method)
	}
	code, ok1 := r[0].(int)
	status, ok2 := r[1].(string)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: %s: an answer that is no [code, statusMessage, value]", ErrXMLRPC, method)
	}
	if code != 1 {
		return nil, &masterError{Method: method, Code: code, Status: status}
	}
	return r[2], nil
}

// paramServer is the parameter API of a ROS master, called as caller.
type paramServer struct {
	c      *xmlrpcClient
	caller string
}

// get returns a parameter's value; a dictionary's is its whole subtree.
func (s paramServer) get(ctx context.Context, name string) (any, error) {
	return s.c.masterCall(ctx, "getParam", s.caller, name)
}

// set sets a parameter; a map value replaces the subtree at name.
func (s paramServer) set(ctx context.Context, name string, v any) error {
	_, err := s.c.masterCall(ctx, "setParam", s.caller, name, v)
	return err
}

// del deletes a parameter, and all under it.
func (s paramServer) del(ctx context.Context, name string) error {
	_, err := s.c.masterCall(ctx, "deleteParam", s.caller, name)
	return err
}

// names lists the parameters: the leaves of the tree, not the
// dictionaries (for /pid: {kp: 1, gains: [1, 2]}, /pid/kp and /pid/gains).
func (s paramServer) names(ctx context.Context) ([]string, error) {
	v, err := s.c.masterCall(ctx, "getParamNames", s.caller)
	if err != nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: getParamNames: a %T, not a list", ErrXMLRPC, v)
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		n, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%w: getParamNames: a name of type %T", ErrXMLRPC, e)
		}
		out = append(out, n)
	}
	return out, nil
}
