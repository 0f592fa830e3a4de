package codec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// Pickle opcodes, named as in Python's pickle module.
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opFloat          = 'F'
	opInt            = 'I'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opLong           = 'L'
	opBinInt2        = 'M'
	opNone           = 'N'
	opReduce         = 'R'
	opString         = 'S'
	opBinString      = 'T'
	opShortBinString = 'U'
	opUnicode        = 'V'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opGet            = 'g'
	opBinGet         = 'h'
	opInst           = 'i'
	opLongBinGet     = 'j'
	opList           = 'l'
	opEmptyList      = ']'
	opObj            = 'o'
	opPut            = 'p'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opBinFloat       = 'G'
	opProto          = 0x80
	opNewObj         = 0x81
	opTuple1         = 0x85
	opTuple2         = 0x86
	opTuple3         = 0x87
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opLong1          = 0x8a
	opLong4          = 0x8b
	opBinBytes       = 'B'
	opShortBinBytes  = 'C'
	opShortBinUni    = 0x8c
	opBinUnicode8    = 0x8d
	opBinBytes8      = 0x8e
	opEmptySet       = 0x8f
	opAddItems       = 0x90
	opFrozenSet      = 0x91
	opStackGlobal    = 0x93
	opMemoize        = 0x94
	opFrame          = 0x95
	opByteArray8     = 0x96
)

// Estimated bytes gopickle allocates for one opcode, spent from the
// scan's budget.
const (
	costValue     = 48  // a boxed value and its stack slot
	costItem      = 32  // an item copied into a list, dict or set
	costContainer = 192 // an empty list, dict or tuple
	costMark      = 320 // gopickle gives each MARK a fresh 16-slot stack
	costMemo      = 96  // a memo map entry
)

// symKind is what the scan knows about a value on gopickle's stack.
type symKind uint8

const (
	symOther symKind = iota
	symString
	symBytes
	symList
	symDict
	symODict
	symSet
	symFrozenSet
	symTuple
	symGlobal
)

// sym is a value on the scan's model of gopickle's stack. It is small,
// since the memo can hold many.
type sym struct {
	kind    symKind
	builtin pickleBuiltin // for symGlobal: what it names, 0 for a class
	// For symString, the start of the string, enough to name a global: n
	// bytes of the input from ref, or decoded[-1-ref] if ref is negative.
	ref, n int32
}

// pickleScan walks a pickle's opcodes with a model of the unpickler's
// stack and memo, before gopickle runs. It rejects what gopickle would
// mishandle: lengths beyond the input (gopickle allocates them first),
// deep MARK nesting, too many memo entries or too much allocation,
// unknown memo keys, globals off the allow-list (including those gopickle
// resolves without asking), odd dict items, and trailing bytes.
//
// It also rewrites the stream where gopickle falls short, each time so that
// the value comes out as Python would decode it:
//
//   - UNICODE (protocol 0 strings) is decoded from raw-unicode-escape,
//     which gopickle skips, and STRING (Python 2) from its escapes, which
//     gopickle also skips; both become BINUNICODE.
//   - EMPTY_SET, ADDITEMS and FROZENSET become EMPTY_LIST, APPENDS and
//     LIST: gopickle keeps sets in Go maps, which lose the order of the
//     items and panic on bytes items. The scan tracks which lists are sets
//     so that list and set opcodes still apply only to their own kind.
//   - An empty LONG1 or LONG4 becomes BININT1 0: gopickle panics on it.
//   - FRAME is dropped: gopickle needs no frames, and rewrites inside one
//     would break its length.
type pickleScan struct {
	codec    *PickleCodec
	data     []byte
	off      int  // next byte to read
	opStart  int  // offset of the current opcode, for errors
	inFrame  bool // whether reads come from a frame
	frameEnd int  // end of the current frame
	stack    []sym
	marks    []int // stack lengths at each open MARK
	memo     map[int]sym
	decoded  []string // strings the scan decoded, for sym.ref
	budget   int
	rw       rewriter
}

// maxPickleInput is the longest input the scan takes: sym holds offsets as
// int32.
const maxPickleInput = math.MaxInt32

// scanPickle checks data and returns the equivalent stream for gopickle.
func (p *PickleCodec) scanPickle(data []byte) ([]byte, error) {
	if len(data) > maxPickleInput {
		return nil, malformed("input of %d bytes is too long", len(data))
	}
	s := pickleScan{
		codec:  p,
		data:   data,
		memo:   make(map[int]sym),
		budget: pickleBudget(len(data)),
		rw:     rewriter{data: data},
	}
	if err := s.run(); err != nil {
		return nil, err
	}
	return s.rw.result(), nil
}

// pickleBudget is the estimated allocation allowed for an n-byte input.
func pickleBudget(n int) int { return pickleBudgetBase + 4*n }

// run scans opcodes up to STOP, which must end the input.
func (s *pickleScan) run() error {
	for {
		start, err := s.take(1)
		if err != nil {
			return err
		}
		s.opStart = start
		op := s.data[start]
		if op == opStop {
			_, err := s.pop()
			if err != nil {
				return err
			}
			break
		}
		handle := scanOps[op]
		if handle == nil {
			return s.fail("unsupported opcode %#02x", op)
		}
		if err := handle(s); err != nil {
			return err
		}
	}
	if s.off != len(s.data) {
		return malformed("%d trailing bytes after STOP", len(s.data)-s.off)
	}
	return nil
}

// fail returns an error about the current opcode.
func (s *pickleScan) fail(format string, args ...any) error {
	return malformed("%s at offset %d", fmt.Sprintf(format, args...), s.opStart)
}

// spend takes cost from the allocation budget.
func (s *pickleScan) spend(cost int) error {
	s.budget -= cost
	if s.budget < 0 {
		return s.fail("decoding would allocate too much")
	}
	return nil
}

// take consumes n bytes and returns where they start. As in Python, a read
// inside a frame must fit in it, and reading goes on after a frame only
// once the frame is used up.
func (s *pickleScan) take(n uint64) (int, error) {
	limit := s.limit()
	if n > uint64(limit-s.off) {
		if s.inFrame {
			return 0, s.fail("read past the end of a frame")
		}
		return 0, s.fail("truncated: %d bytes needed, %d left", n, limit-s.off)
	}
	start := s.off
	s.off += int(n)
	return start, nil
}

// limit returns where the current read must end, leaving a used-up frame.
func (s *pickleScan) limit() int {
	if s.inFrame && s.off == s.frameEnd {
		s.inFrame = false
	}
	if s.inFrame {
		return s.frameEnd
	}
	return len(s.data)
}

// line consumes a newline-terminated argument and returns it without the
// newline.
func (s *pickleScan) line() ([]byte, error) {
	limit := s.limit()
	i := bytes.IndexByte(s.data[s.off:limit], '\n')
	if i < 0 {
		return nil, s.fail("truncated: newline expected")
	}
	l := s.data[s.off : s.off+i]
	s.off += i + 1
	return l, s.spend(2 * len(l))
}

// uint consumes a little-endian unsigned integer of width bytes.
func (s *pickleScan) uint(width int) (uint64, error) {
	start, err := s.take(uint64(width))
	if err != nil {
		return 0, err
	}
	b := s.data[start : start+width]
	switch width {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.LittleEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.LittleEndian.Uint32(b)), nil
	}
	return binary.LittleEndian.Uint64(b), nil
}

// length consumes a length of width bytes, and then that many bytes,
// returning where they start and how many there are.
func (s *pickleScan) length(width int) (start, n int, err error) {
	u, err := s.uint(width)
	if err != nil {
		return 0, 0, err
	}
	start, err = s.take(u)
	return start, int(u), err
}

// base returns where the stack above the innermost MARK starts.
func (s *pickleScan) base() int {
	if len(s.marks) == 0 {
		return 0
	}
	return s.marks[len(s.marks)-1]
}

// push puts v on the stack, spending cost.
func (s *pickleScan) push(v sym, cost int) error {
	s.stack = append(s.stack, v)
	return s.spend(cost)
}

// top returns the value on top of the stack, above the innermost MARK.
func (s *pickleScan) top() (sym, error) {
	if len(s.stack) <= s.base() {
		return sym{}, s.fail("stack empty")
	}
	return s.stack[len(s.stack)-1], nil
}

// pop removes and returns the value on top of the stack.
func (s *pickleScan) pop() (sym, error) {
	v, err := s.top()
	if err == nil {
		s.stack = s.stack[:len(s.stack)-1]
	}
	return v, err
}

// popMark removes the values above the innermost MARK, and the MARK, and
// returns how many values there were.
func (s *pickleScan) popMark() (int, error) {
	if len(s.marks) == 0 {
		return 0, s.fail("no MARK open")
	}
	b := s.base()
	n := len(s.stack) - b
	s.stack = s.stack[:b]
	s.marks = s.marks[:len(s.marks)-1]
	return n, s.spend(costItem * n)
}

// scanOps handles each opcode the scan admits, except STOP. Opcodes left
// out are refused: persistent IDs, extension codes, NEWOBJ_EX, and
// out-of-band buffers, which need callbacks this codec does not provide.
var scanOps [256]func(*pickleScan) error

func init() {
	for op, n := range map[byte]int{opBinInt1: 1, opBinInt2: 2, opBinInt: 4, opBinFloat: 8} {
		scanOps[op] = scanFixed(n)
	}
	for _, op := range []byte{opNone, opNewTrue, opNewFalse, opInt, opFloat} {
		scanOps[op] = scanScalar
	}
	scanOps[opLong] = scanLong
	scanOps[opLong1] = scanLong1
	scanOps[opLong4] = scanLong4
	initScanStrings()
	initScanContainers()
	initScanObjects()
	initScanMemo()
	scanOps[opMark] = scanMark
	scanOps[opPop] = scanPop
	scanOps[opPopMark] = scanPopMark
	scanOps[opDup] = scanDup
	scanOps[opProto] = scanProto
	scanOps[opFrame] = scanFrame
}

// scanFixed handles an opcode with an n-byte argument that pushes a number.
func scanFixed(n int) func(*pickleScan) error {
	return func(s *pickleScan) error {
		if _, err := s.take(uint64(n)); err != nil {
			return err
		}
		return s.push(sym{}, costValue)
	}
}

// scanScalar handles NONE, NEWTRUE, NEWFALSE, and INT and FLOAT, whose
// decimal line gopickle parses itself.
func scanScalar(s *pickleScan) error {
	if op := s.data[s.opStart]; op == opInt || op == opFloat {
		if _, err := s.line(); err != nil {
			return err
		}
	}
	return s.push(sym{}, costValue)
}

// scanLong handles a decimal LONG, bounded as Python bounds it.
func scanLong(s *pickleScan) error {
	l, err := s.line()
	if err != nil {
		return err
	}
	digits := bytes.TrimSuffix(bytes.TrimLeft(l, "+-"), []byte("L"))
	if len(digits) > maxPickleIntDigits {
		return s.fail("integer of %d digits", len(digits))
	}
	return s.push(sym{}, costValue)
}

// scanLong1 handles LONG1, rewriting an empty one, on which gopickle
// panics, as the zero it stands for.
func scanLong1(s *pickleScan) error {
	_, n, err := s.length(1)
	if err != nil {
		return err
	}
	if n == 0 {
		s.rw.replace(s.opStart, s.off, opBinInt1, 0)
	}
	return s.push(sym{}, costValue+8*n)
}

// scanLong4 handles LONG4 like LONG1, bounding its length: gopickle
// decodes it in quadratic time.
func scanLong4(s *pickleScan) error {
	u, err := s.uint(4)
	if err != nil {
		return err
	}
	if n := int32(u); n < 0 || n > maxPickleIntBytes {
		return s.fail("integer of %d bytes", n)
	}
	if _, err := s.take(u); err != nil {
		return err
	}
	if u == 0 {
		s.rw.replace(s.opStart, s.off, opBinInt1, 0)
	}
	return s.push(sym{}, costValue+8*int(u))
}

// scanMark opens a MARK, up to maxPickleDepth at once.
func scanMark(s *pickleScan) error {
	if len(s.marks) >= maxPickleDepth {
		return tooDeep(fmt.Sprintf("of MARK at offset %d", s.opStart))
	}
	s.marks = append(s.marks, len(s.stack))
	return s.spend(costMark)
}

// scanPop drops the top value or, above an empty stack, the MARK.
func scanPop(s *pickleScan) error {
	if len(s.stack) > s.base() {
		s.stack = s.stack[:len(s.stack)-1]
		return nil
	}
	_, err := s.popMark()
	return err
}

// scanPopMark drops everything down to and including the innermost MARK.
func scanPopMark(s *pickleScan) error {
	_, err := s.popMark()
	return err
}

// scanDup pushes the top value again.
func scanDup(s *pickleScan) error {
	v, err := s.top()
	if err != nil {
		return err
	}
	return s.push(v, costValue)
}

// scanProto checks the protocol number.
func scanProto(s *pickleScan) error {
	v, err := s.uint(1)
	if err != nil {
		return err
	}
	if v > 5 {
		return s.fail("unsupported protocol %d", v)
	}
	return nil
}

// scanFrame checks a FRAME and drops it from the stream: gopickle does not
// need frames, and rewrites inside one would break its length.
func scanFrame(s *pickleScan) error {
	n, err := s.uint(8)
	if err != nil {
		return err
	}
	if s.inFrame && s.off < s.frameEnd {
		return s.fail("frame starts inside a frame")
	}
	if n > uint64(len(s.data)-s.off) {
		return s.fail("frame of %d bytes exceeds input", n)
	}
	s.inFrame, s.frameEnd = true, s.off+int(n)
	s.rw.replace(s.opStart, s.off)
	return nil
}

// rewriter builds the stream gopickle decodes: the scanned input with some
// opcodes replaced. It copies nothing until the first replacement.
type rewriter struct {
	data    []byte
	out     []byte
	done    int // input before done is in out or replaced
	changed bool
}

// replace puts repl in place of the input from start to end.
func (w *rewriter) replace(start, end int, repl ...byte) {
	w.flush(start)
	w.out = append(w.out, repl...)
	w.done = end
}

// replaceString puts a BINUNICODE opcode for str in place of the input
// from start to end.
func (w *rewriter) replaceString(start, end int, str string) {
	w.flush(start)
	w.out = append(w.out, opBinUnicode)
	w.out = binary.LittleEndian.AppendUint32(w.out, uint32(len(str)))
	w.out = append(w.out, str...)
	w.done = end
}

// flush copies the input up to start that is not yet in out.
func (w *rewriter) flush(start int) {
	if !w.changed {
		w.out = make([]byte, 0, len(w.data)+16)
		w.changed = true
	}
	w.out = append(w.out, w.data[w.done:start]...)
}

// result returns the rewritten stream.
func (w *rewriter) result() []byte {
	if !w.changed {
		return w.data
	}
	return append(w.out, w.data[w.done:]...)
}

// atoi parses a decimal memo key as gopickle does.
func (s *pickleScan) atoi(l []byte) (int, error) {
	i, err := strconv.Atoi(string(l))
	if err != nil {
		return 0, s.fail("bad decimal argument %q", clipName(string(l)))
	}
	return i, nil
}
