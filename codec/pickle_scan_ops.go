package codec

import "unicode/utf8"

// initScanStrings registers the handlers of string and bytes opcodes.
func initScanStrings() {
	for op, width := range map[byte]int{opShortBinUni: 1, opBinUnicode: 4, opBinUnicode8: 8, opShortBinString: 1} {
		scanOps[op] = scanCounted(width, symString)
	}
	for op, width := range map[byte]int{opShortBinBytes: 1, opBinBytes: 4, opBinBytes8: 8} {
		scanOps[op] = scanCounted(width, symBytes)
	}
	scanOps[opByteArray8] = scanCounted(8, symOther)
	scanOps[opBinString] = scanBinString
	scanOps[opUnicode] = scanUnicode
	scanOps[opString] = scanString
}

// scanCounted handles an opcode with a length of width bytes followed by
// that many bytes, pushing a value of kind k.
func scanCounted(width int, k symKind) func(*pickleScan) error {
	return func(s *pickleScan) error {
		start, n, err := s.length(width)
		if err != nil {
			return err
		}
		return s.pushString(k, s.data[start:start+n], int32(start))
	}
}

// pushString pushes a string or bytes value b, found at ref (see sym).
// Strings must be valid UTF-8, as Python requires and Go strings from
// Unmarshal promise.
func (s *pickleScan) pushString(k symKind, b []byte, ref int32) error {
	v := sym{kind: k}
	if k == symString {
		if !utf8.Valid(b) {
			return s.fail("string is not valid UTF-8")
		}
		v.ref, v.n = ref, int32(min(len(b), maxPickleNameLen+1))
	}
	return s.push(v, costValue+3*len(b))
}

// str returns the start of the string v, enough to name a global.
func (s *pickleScan) str(v sym) string {
	if v.ref < 0 {
		return s.decoded[-1-v.ref]
	}
	return string(s.data[v.ref : v.ref+v.n])
}

// scanBinString handles BINSTRING, whose length is signed.
func scanBinString(s *pickleScan) error {
	u, err := s.uint(4)
	if err != nil {
		return err
	}
	if int32(u) < 0 {
		return s.fail("negative BINSTRING length")
	}
	start, err := s.take(u)
	if err != nil {
		return err
	}
	return s.pushString(symString, s.data[start:s.off], int32(start))
}

// scanUnicode decodes UNICODE, protocol 0's raw-unicode-escape string.
func scanUnicode(s *pickleScan) error {
	l, err := s.line()
	if err != nil {
		return err
	}
	str, err := decodeRawUnicodeEscape(l)
	if err != nil {
		return s.fail("%v", err)
	}
	return s.replaceString(str)
}

// scanString decodes STRING, Python 2's quoted and escaped str.
func scanString(s *pickleScan) error {
	l, err := s.line()
	if err != nil {
		return err
	}
	str, err := decodeQuotedString(l)
	if err != nil {
		return s.fail("%v", err)
	}
	return s.replaceString(str)
}

// replaceString rewrites the current opcode as BINUNICODE str, and pushes
// str.
func (s *pickleScan) replaceString(str string) error {
	if len(str) > 1<<32-1 {
		return s.fail("string too long")
	}
	s.rw.replaceString(s.opStart, s.off, str)
	s.decoded = append(s.decoded, str[:min(len(str), maxPickleNameLen+1)])
	return s.pushString(symString, []byte(str), int32(-len(s.decoded)))
}

// initScanContainers registers the handlers of container opcodes.
func initScanContainers() {
	empty := map[byte]symKind{opEmptyDict: symDict, opEmptyList: symList, opEmptyTuple: symTuple, opEmptySet: symSet}
	for op, k := range empty {
		scanOps[op] = scanEmpty(k)
	}
	fromMark := map[byte]symKind{opList: symList, opTuple: symTuple, opDict: symDict, opFrozenSet: symFrozenSet}
	for op, k := range fromMark {
		scanOps[op] = scanFromMark(k)
	}
	for n := range 3 {
		scanOps[opTuple1+n] = scanTupleN(n + 1)
	}
	scanOps[opAppend] = scanAppend
	scanOps[opAppends] = scanAppends
	scanOps[opAddItems] = scanAppends
	scanOps[opSetItem] = scanSetItem
	scanOps[opSetItems] = scanSetItems
}

// scanEmpty pushes an empty container of kind k. An empty set is pushed to
// gopickle as an empty list.
func scanEmpty(k symKind) func(*pickleScan) error {
	return func(s *pickleScan) error {
		if k == symSet {
			s.rw.replace(s.opStart, s.off, opEmptyList)
		}
		return s.push(sym{kind: k}, costContainer)
	}
}

// scanFromMark builds a container of kind k from the values above the
// MARK. A frozenset is built by gopickle as a list.
func scanFromMark(k symKind) func(*pickleScan) error {
	return func(s *pickleScan) error {
		n, err := s.popMark()
		if err != nil {
			return err
		}
		if k == symDict && n%2 != 0 {
			return s.fail("odd number of dict items")
		}
		if k == symFrozenSet {
			s.rw.replace(s.opStart, s.off, opList)
		}
		return s.push(sym{kind: k}, costContainer)
	}
}

// scanTupleN builds a tuple of the n top values.
func scanTupleN(n int) func(*pickleScan) error {
	return func(s *pickleScan) error {
		if len(s.stack)-s.base() < n {
			return s.fail("stack too short for a %d-tuple", n)
		}
		s.stack = s.stack[:len(s.stack)-n]
		return s.push(sym{kind: symTuple}, costContainer)
	}
}

// scanAppend checks that APPEND adds to a list.
func scanAppend(s *pickleScan) error {
	if _, err := s.pop(); err != nil {
		return err
	}
	return s.expectTop(symList)
}

// scanAppends checks that APPENDS adds to a list and ADDITEMS to a set,
// which gopickle gets as APPENDS to a list.
func scanAppends(s *pickleScan) error {
	if _, err := s.popMark(); err != nil {
		return err
	}
	if s.data[s.opStart] == opAddItems {
		s.rw.replace(s.opStart, s.off, opAppends)
		return s.expectTop(symSet)
	}
	return s.expectTop(symList)
}

// expectTop checks that the top value is of kind k.
func (s *pickleScan) expectTop(k symKind) error {
	v, err := s.top()
	if err != nil {
		return err
	}
	if v.kind != k {
		return s.fail("opcode %#02x applied to the wrong kind of value", s.data[s.opStart])
	}
	return nil
}

// scanSetItem checks that SETITEM sets a key gopickle can store.
func scanSetItem(s *pickleScan) error {
	if _, err := s.pop(); err != nil {
		return err
	}
	key, err := s.pop()
	if err != nil {
		return err
	}
	return s.expectDict(key.kind == symBytes)
}

// scanSetItems checks SETITEMS like SETITEM, for each key above the MARK.
func scanSetItems(s *pickleScan) error {
	b := s.base()
	items := s.stack[min(b, len(s.stack)):]
	bytesKey := false
	for i := 0; i < len(items); i += 2 {
		bytesKey = bytesKey || items[i].kind == symBytes
	}
	n, err := s.popMark()
	if err != nil {
		return err
	}
	if n%2 != 0 {
		return s.fail("odd number of dict items")
	}
	return s.expectDict(bytesKey)
}

// expectDict checks that the top value is a dict. gopickle keeps an
// OrderedDict in a Go map, which panics on bytes keys.
func (s *pickleScan) expectDict(bytesKey bool) error {
	v, err := s.top()
	if err != nil {
		return err
	}
	switch {
	case v.kind == symODict && bytesKey:
		return s.fail("OrderedDict with bytes keys is not supported")
	case v.kind != symDict && v.kind != symODict:
		return s.fail("SETITEM applied to something other than a dict")
	}
	return nil
}

// initScanObjects registers the handlers of opcodes that resolve globals
// or build objects.
func initScanObjects() {
	scanOps[opGlobal] = scanGlobal
	scanOps[opStackGlobal] = scanStackGlobal
	scanOps[opInst] = scanInst
	scanOps[opObj] = scanObj
	scanOps[opReduce] = scanCall
	scanOps[opNewObj] = scanCall
	scanOps[opBuild] = scanBuild
}

// scanGlobal checks that GLOBAL names an allowed global.
func scanGlobal(s *pickleScan) error {
	g, err := s.globalLines()
	if err != nil {
		return err
	}
	return s.push(g, costValue)
}

// globalLines reads the module and name lines of GLOBAL or INST.
func (s *pickleScan) globalLines() (sym, error) {
	module, err := s.line()
	if err != nil {
		return sym{}, err
	}
	name, err := s.line()
	if err != nil {
		return sym{}, err
	}
	return s.global(pickleName{string(module), string(name)})
}

// global resolves n against the allow-list.
func (s *pickleScan) global(n pickleName) (sym, error) {
	b, ok := s.codec.resolve(n)
	if !ok {
		return sym{}, globalNotAllowed(n)
	}
	return sym{kind: symGlobal, builtin: b}, nil
}

// scanStackGlobal checks that STACK_GLOBAL names an allowed global with
// two strings from the stack.
func scanStackGlobal(s *pickleScan) error {
	name, err := s.pop()
	if err != nil {
		return err
	}
	module, err := s.pop()
	if err != nil {
		return err
	}
	if name.kind != symString || module.kind != symString {
		return s.fail("STACK_GLOBAL needs two strings")
	}
	g, err := s.global(pickleName{s.str(module), s.str(name)})
	if err != nil {
		return err
	}
	return s.push(g, costValue)
}

// scanInst handles INST: an allowed global called with the values above
// the MARK.
func scanInst(s *pickleScan) error {
	g, err := s.globalLines()
	if err != nil {
		return err
	}
	if _, err := s.popMark(); err != nil {
		return err
	}
	return s.push(sym{kind: resultKind(g)}, costContainer)
}

// scanObj handles OBJ: the first value above the MARK called with the
// others.
func scanObj(s *pickleScan) error {
	callee := sym{}
	if b := s.base(); len(s.stack) > b {
		callee = s.stack[b]
	}
	n, err := s.popMark()
	if err != nil {
		return err
	}
	if n == 0 || callee.kind != symGlobal {
		return s.fail("OBJ without a class")
	}
	return s.push(sym{kind: resultKind(callee)}, costContainer)
}

// scanCall handles REDUCE and NEWOBJ: a global called with an argument
// tuple.
func scanCall(s *pickleScan) error {
	if _, err := s.pop(); err != nil {
		return err
	}
	callee, err := s.pop()
	if err != nil {
		return err
	}
	if callee.kind != symGlobal {
		return s.fail("call of something other than a class or function")
	}
	return s.push(sym{kind: resultKind(callee)}, costContainer)
}

// resultKind returns the kind of what calling the global callee builds.
func resultKind(callee sym) symKind {
	switch callee.builtin {
	case builtinSet:
		return symSet
	case builtinFrozenSet:
		return symFrozenSet
	case builtinBytes, builtinEncode:
		return symBytes
	case builtinOrderedDict:
		return symODict
	}
	return symOther
}

// scanBuild handles BUILD, which sets the state of the value below it.
func scanBuild(s *pickleScan) error {
	if _, err := s.pop(); err != nil {
		return err
	}
	_, err := s.top()
	return err
}

// initScanMemo registers the handlers of memo opcodes.
func initScanMemo() {
	scanOps[opGet] = scanMemoText(false)
	scanOps[opPut] = scanMemoText(true)
	for op, width := range map[byte]int{opBinGet: 1, opLongBinGet: 4} {
		scanOps[op] = scanMemoBinary(width, false)
	}
	for op, width := range map[byte]int{opBinPut: 1, opLongBinPut: 4} {
		scanOps[op] = scanMemoBinary(width, true)
	}
	scanOps[opMemoize] = func(s *pickleScan) error { return s.put(len(s.memo)) }
}

// scanMemoText handles GET and PUT, whose key is a decimal line.
func scanMemoText(put bool) func(*pickleScan) error {
	return func(s *pickleScan) error {
		l, err := s.line()
		if err != nil {
			return err
		}
		i, err := s.atoi(l)
		if err != nil {
			return err
		}
		if put && i < 0 {
			return s.fail("negative PUT key")
		}
		return s.memoOp(i, put)
	}
}

// scanMemoBinary handles the GET and PUT opcodes with a binary key.
func scanMemoBinary(width int, put bool) func(*pickleScan) error {
	return func(s *pickleScan) error {
		i, err := s.uint(width)
		if err != nil {
			return err
		}
		return s.memoOp(int(i), put)
	}
}

// memoOp stores or fetches memo key i.
func (s *pickleScan) memoOp(i int, put bool) error {
	if put {
		return s.put(i)
	}
	v, ok := s.memo[i]
	if !ok {
		return s.fail("memo key %d not defined", i)
	}
	return s.push(v, costValue)
}

// put stores the top value under memo key i.
func (s *pickleScan) put(i int) error {
	v, err := s.top()
	if err != nil {
		return err
	}
	if _, ok := s.memo[i]; !ok {
		if len(s.memo) >= maxPickleMemo {
			return s.fail("more than %d memo entries", maxPickleMemo)
		}
		if err := s.spend(costMemo); err != nil {
			return err
		}
	}
	s.memo[i] = v
	return nil
}
