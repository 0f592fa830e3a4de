package codec

import (
	"encoding/hex"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestPickleGlobalOfPython reads what CPython writes for pickle.dumps(cls)
// at every protocol.
func TestPickleGlobalOfPython(t *testing.T) {
	const script = `
import collections, pickle, sys, types
m = types.ModuleType("pyzmp.exceptions")
class UnknownServiceException(Exception): pass
UnknownServiceException.__module__ = "pyzmp.exceptions"
m.UnknownServiceException = UnknownServiceException
sys.modules["pyzmp.exceptions"] = m
sys.modules["pyzmp"] = types.ModuleType("pyzmp")
for cls in (ValueError, KeyError, UnknownServiceException):
    for p in range(6):
        print(cls.__module__ + "." + cls.__name__, pickle.dumps(cls, protocol=p).hex())
`
	out, err := exec.Command("/usr/bin/python3", "-c", script).Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 18 {
		t.Fatalf("python3 printed %d lines", len(lines))
	}
	for _, line := range lines {
		want, h, _ := strings.Cut(line, " ")
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		g, err := PickleGlobalOf(b)
		if err != nil {
			t.Fatalf("%s (%s): %v", want, h, err)
		}
		if g.String() != want {
			t.Errorf("%s: got %s", h, g)
		}
	}
}

func TestPickleGlobalOfRefusesOthers(t *testing.T) {
	p := NewPickle()
	for _, v := range []any{nil, "builtins.ValueError", []any{"builtins", "ValueError"}} {
		b, err := p.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := PickleGlobalOf(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%v: err = %v, want ErrMalformed", v, err)
		}
	}
	bad := [][]byte{
		nil,
		[]byte("cbuiltins\nValueError"),         // no STOP
		[]byte("cbuiltins\nValueError\n.."),     // trailing
		[]byte("\x80\x04\x8c\x08builtins\x93."), // one string only
		[]byte("\x80\x04\x8c\xffab"),            // truncated
		[]byte("cbuil\xfftins\nValueError\n."),  // bad name
		[]byte("\x80\x04X\xff\xff\xff\x7f"),     // huge length
	}
	for _, b := range bad {
		if _, err := PickleGlobalOf(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: err = %v, want ErrMalformed", b, err)
		}
	}
}

// TestPickleGlobalAndExceptionToPython checks that Python loads a
// PickleGlobal as the class and a PickleObject of an exception class as
// an instance with its message.
func TestPickleGlobalAndExceptionToPython(t *testing.T) {
	p := NewPickle()
	g, err := p.Marshal(PickleGlobal{"builtins", "TimeoutError"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := p.Marshal(PickleObject{Module: "builtins", Name: "ValueError", Args: []any{"bad value"}})
	if err != nil {
		t.Fatal(err)
	}
	res := runPython(t, [][]byte{g, e})
	if res[0].Repr != "<class 'TimeoutError'>" {
		t.Errorf("global: repr %s", res[0].Repr)
	}
	if res[1].Type != "ValueError" || res[1].Repr != "ValueError('bad value')" {
		t.Errorf("exception: %s %s", res[1].Type, res[1].Repr)
	}
	if _, err := p.Marshal(PickleGlobal{"bad\nmodule", "x"}); err == nil {
		t.Error("invalid global name marshalled")
	}
}
