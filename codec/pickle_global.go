package codec

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// PickleGlobal is a reference to a Python global, such as a class. Marshal
// writes it as that global, which Python resolves (importing its module)
// when it loads the pickle: pickle.dumps(ValueError) is a PickleGlobal.
type PickleGlobal struct {
	Module string `json:"module" msgpack:"module"`
	Name   string `json:"name" msgpack:"name"`
}

func (g PickleGlobal) String() string { return g.Module + "." + g.Name }

// PickleGlobalOf reads a pickle that holds one global and nothing else, as
// pickle.dumps(SomeClass) makes at any protocol, without resolving it. The
// Python 2 module __builtin__ reads as builtins. Any other pickle is an
// error matching ErrMalformed.
func PickleGlobalOf(data []byte) (PickleGlobal, error) {
	r := globalReader{data: data}
	g, err := r.read()
	if err != nil {
		return PickleGlobal{}, err
	}
	if g.Module == "__builtin__" || g.Module == "exceptions" {
		g.Module = "builtins"
	}
	if !validPickleName(g.Module) || !validPickleName(g.Name) {
		return PickleGlobal{}, malformed("invalid global name %q", clipName(g.String()))
	}
	return g, nil
}

// globalReader walks the few opcodes a pickled global is made of.
type globalReader struct {
	data []byte
	off  int
}

func (r *globalReader) read() (PickleGlobal, error) {
	var strs []string
	var g *PickleGlobal
	for r.off < len(r.data) {
		op := r.data[r.off]
		r.off++
		var err error
		switch op {
		case opProto:
			err = r.skip(1)
		case opFrame:
			err = r.skip(8)
		case opMemoize:
		case opBinPut:
			err = r.skip(1)
		case opLongBinPut:
			err = r.skip(4)
		case opPut:
			_, err = r.line()
		case opGlobal:
			var mod, name string
			if mod, err = r.line(); err == nil {
				name, err = r.line()
			}
			g = &PickleGlobal{mod, name}
		case opShortBinUni, opBinUnicode:
			var s string
			s, err = r.str(op)
			strs = append(strs, s)
		case opStackGlobal:
			if len(strs) != 2 {
				return PickleGlobal{}, malformed("STACK_GLOBAL without module and name")
			}
			g = &PickleGlobal{strs[0], strs[1]}
			strs = nil
		case opStop:
			if g == nil || len(strs) != 0 || r.off != len(r.data) {
				return PickleGlobal{}, malformed("not a pickled global alone")
			}
			return *g, nil
		default:
			return PickleGlobal{}, malformed("not a pickled global alone (opcode %#02x)", op)
		}
		if err != nil {
			return PickleGlobal{}, err
		}
	}
	return PickleGlobal{}, malformed("pickle ends before STOP")
}

func (r *globalReader) skip(n int) error {
	if len(r.data)-r.off < n {
		return malformed("truncated pickle")
	}
	r.off += n
	return nil
}

func (r *globalReader) line() (string, error) {
	i := strings.IndexByte(string(r.data[r.off:min(len(r.data), r.off+maxPickleNameLen+1)]), '\n')
	if i < 0 {
		return "", malformed("global name too long or unterminated")
	}
	s := string(r.data[r.off : r.off+i])
	r.off += i + 1
	return s, nil
}

func (r *globalReader) str(op byte) (string, error) {
	n := 0
	if op == opShortBinUni {
		if err := r.skip(1); err != nil {
			return "", err
		}
		n = int(r.data[r.off-1])
	} else {
		if err := r.skip(4); err != nil {
			return "", err
		}
		n = int(binary.LittleEndian.Uint32(r.data[r.off-4:]))
	}
	if n > maxPickleNameLen {
		return "", malformed("global name of %d bytes", n)
	}
	if err := r.skip(n); err != nil {
		return "", err
	}
	return string(r.data[r.off-n : r.off]), nil
}

// globalRef writes g for Marshal.
func (e *pickleEncoder) globalRef(g PickleGlobal) error {
	if !validPickleName(g.Module) || !validPickleName(g.Name) {
		return fmt.Errorf("codec: pickle: invalid global name %q.%q", clipName(g.Module), clipName(g.Name))
	}
	e.global(g.Module, g.Name)
	return nil
}
