package pyzmp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/mesh"
	"github.com/pyros-mesh/pyros/peer"
)

// pyException is a Python exception to raise in a pyzmp caller.
type pyException struct {
	class   codec.PickleGlobal
	message string
}

// unknownService is pyzmp's exception for a service nobody provides.
var unknownService = codec.PickleGlobal{Module: "pyzmp.exceptions", Name: "UnknownServiceException"}

// builtinExceptions are the Python exception names a provider's error may
// start with that a pyzmp caller raises as such.
var builtinExceptions = map[string]bool{
	"ArithmeticError": true, "AssertionError": true, "AttributeError": true,
	"ConnectionError": true, "EOFError": true, "Exception": true,
	"FileExistsError": true, "FileNotFoundError": true, "ImportError": true,
	"IndexError": true, "KeyError": true, "LookupError": true,
	"MemoryError": true, "NameError": true, "NotImplementedError": true,
	"OSError": true, "OverflowError": true, "PermissionError": true,
	"RecursionError": true, "RuntimeError": true, "TimeoutError": true,
	"TypeError": true, "UnicodeError": true, "ValueError": true,
	"ZeroDivisionError": true,
}

func builtin(name, message string) pyException {
	return pyException{codec.PickleGlobal{Module: "builtins", Name: name}, message}
}

// exceptionOf says which exception a pyzmp caller raises for a mesh error.
func exceptionOf(service string, err error) pyException {
	var re *mesh.RemoteError
	switch {
	case errors.Is(err, peer.ErrUnknownService), errors.Is(err, mesh.ErrNoService):
		return pyException{unknownService, "Unknown Service " + service + ": " + err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return builtin("TimeoutError", err.Error())
	case errors.Is(err, mesh.ErrBadRequest):
		return builtin("TypeError", err.Error())
	case errors.As(err, &re) && re.Code == mesh.CodeHandler:
		first, _, _ := strings.Cut(re.Message, "\n")
		if name, msg, ok := strings.Cut(first, ": "); ok && builtinExceptions[name] {
			return builtin(name, msg)
		}
	}
	return builtin("RuntimeError", err.Error())
}

// encodeError writes a ServiceResponse that raises e, with no traceback.
func encodeError(c *codec.PickleCodec, service string, e pyException) ([]byte, error) {
	excType, err := c.Marshal(e.class)
	if err != nil {
		return nil, err
	}
	excValue, err := c.Marshal(codec.PickleObject{Module: e.class.Module, Name: e.class.Name, Args: []any{e.message}})
	if err != nil {
		return nil, err
	}
	tb, _ := c.Marshal(nil)
	exc := codec.PickleObject{Module: messageModule, Name: "ServiceException", Args: []any{excType, excValue, tb}}
	return c.Marshal(codec.PickleObject{Module: messageModule, Name: "ServiceResponse", Args: []any{service, nil, exc}})
}

// NodeError is an exception a pyzmp node raised for a call.
type NodeError struct {
	Type      string // module.Class, builtins omitted: "ValueError"
	Message   string
	Traceback string // "Traceback (most recent call last):\n..." or ""
}

func (e *NodeError) Error() string {
	s := e.Type
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Traceback != "" {
		s += "\n" + e.Traceback
	}
	return s
}

// Is makes pyzmp's UnknownServiceException match mesh.ErrNoService, so the
// caller may try another provider.
func (e *NodeError) Is(target error) bool {
	return target == mesh.ErrNoService && e.Type == unknownService.String()
}

// decodeException reads a ServiceException without resolving anything: the
// class from its name, its arguments as plain values, tblib's traceback
// objects as plain fields.
func decodeException(fields map[string]any) *NodeError {
	e := &NodeError{Type: "Exception"}
	typ, _ := fields["exc_type"].([]byte)
	if g, err := codec.PickleGlobalOf(typ); err == nil {
		e.Type = strings.TrimPrefix(g.String(), "builtins.")
		if value, _ := fields["exc_value"].([]byte); value != nil {
			e.Message = exceptionMessage(g, value)
		}
	}
	if tb, _ := fields["traceback"].([]byte); tb != nil {
		e.Traceback = tracebackText(tb)
	}
	return e
}

// exceptionMessage reads the arguments of a pickled exception instance of
// class g, as str() shows them.
func exceptionMessage(g codec.PickleGlobal, b []byte) string {
	c := codec.NewPickle()
	c.AllowClass(g.Module, g.Name, nil)
	var o codec.PickleObject
	if err := c.Unmarshal(b, &o); err != nil {
		return "(unreadable exception value: " + err.Error() + ")"
	}
	switch len(o.Args) {
	case 0:
		return ""
	case 1:
		if s, ok := o.Args[0].(string); ok {
			return s
		}
		return fmt.Sprint(o.Args[0])
	}
	return fmt.Sprint(o.Args...)
}

// tracebackText renders tblib's pickled Traceback as Python prints one;
// any other traceback (pyzmp sends a string when tblib is missing) is
// returned as text when it is a string, or dropped.
func tracebackText(b []byte) string {
	c := codec.NewPickle()
	for _, n := range []string{"Traceback", "Frame", "Code"} {
		c.AllowClass("tblib", n, nil)
	}
	var v any
	if err := c.Unmarshal(b, &v); err != nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	var sb strings.Builder
	for tb, i := v, 0; tb != nil && i < 100; i++ {
		o, ok := tb.(codec.PickleObject)
		if !ok {
			break
		}
		if i == 0 {
			sb.WriteString("Traceback (most recent call last):")
		}
		frame, _ := o.Fields["tb_frame"].(codec.PickleObject)
		code, _ := frame.Fields["f_code"].(codec.PickleObject)
		fmt.Fprintf(&sb, "\n  File \"%v\", line %v, in %v", code.Fields["co_filename"], o.Fields["tb_lineno"], code.Fields["co_name"])
		tb = o.Fields["tb_next"]
	}
	return sb.String()
}
