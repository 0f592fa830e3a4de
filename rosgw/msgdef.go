package rosgw

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBadDefinition is wrapped by every error about a malformed, unresolvable or
// unsupported message definition.
var ErrBadDefinition = errors.New("rosgw: bad message definition")

// definitionSeparator is the line ROS writes between the sections of a full
// message definition.
var definitionSeparator = strings.Repeat("=", 80)

// maxFixedLen bounds the length of a fixed-size array field. goroslib refuses
// messages over 16 MiB, so no useful fixed array is longer.
const maxFixedLen = 1 << 24

// builtinTypes are the ROS 1 field types that are not messages.
var builtinTypes = map[string]bool{
	"bool": true, "int8": true, "uint8": true, "int16": true, "uint16": true,
	"int32": true, "uint32": true, "int64": true, "uint64": true,
	"float32": true, "float64": true, "string": true, "byte": true, "char": true,
	"time": true, "duration": true,
}

// MsgSpec is a parsed ROS 1 message type: its fields, its constants and the
// specs of the message types it uses. Specs returned by ParseDefinition share
// dependency pointers, so a type used twice is one *MsgSpec.
type MsgSpec struct {
	// Type is the full type name, e.g. "geometry_msgs/Twist".
	Type string
	// Fields are the message's fields in wire order.
	Fields []FieldSpec
	// Constants are the message's constants in definition order.
	Constants []ConstSpec
	// Deps holds every message spec reachable from this one (not including
	// itself), keyed by type name. It is never nil for a parsed spec.
	Deps map[string]*MsgSpec
}

// FieldSpec is one field of a message.
type FieldSpec struct {
	// Name is the ROS field name, e.g. "frame_id".
	Name string
	// Type is the element type: a builtin ("float64", "byte", "time", ...) or a
	// fully qualified message type ("std_msgs/Header").
	Type string
	// Array tells whether the field is an array of Type.
	Array bool
	// Len is -1 for a variable-length array, the length of a fixed array, and
	// 0 when Array is false.
	Len int
	// Msg is the spec of a message-typed field, nil for builtins.
	Msg *MsgSpec
}

// ConstSpec is one constant of a message, e.g. "byte DEBUG=1".
type ConstSpec struct {
	// Type is the constant's builtin type.
	Type string
	// Name is the constant's name.
	Name string
	// Value is the value's text as written, trimmed (as ROS uses it for MD5).
	Value string
}

// rawMsg is one section of a definition, parsed but not yet resolved.
type rawMsg struct {
	typ       string
	fields    []rawField
	constants []ConstSpec
}

// rawField is a field whose message type is qualified but not yet resolved.
type rawField struct {
	FieldSpec
	line int
}

// badDef returns an error wrapping ErrBadDefinition.
func badDef(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadDefinition}, args...)...)
}

// ParseDefinition parses a full message definition as ROS transmits it (the
// "message_definition" of a connection header, or gendeps --cat output): the
// main message's text, then for each dependency a line of 80 '=' characters,
// a line "MSG: pkg/Name" and its text. typeName ("pkg/Name") is the main
// message's type.
//
// A message type written without a package resolves to the package of the
// message that uses it (for the main message, typeName's package), except
// Header, which is always std_msgs/Header. Errors wrap ErrBadDefinition and
// name the type and line: malformed lines, unknown field types, missing or
// duplicate dependencies, and recursive types.
func ParseDefinition(typeName, text string) (*MsgSpec, error) {
	if !validTypeName(typeName) {
		return nil, badDef("invalid message type name %q", typeName)
	}
	raws, err := parseSections(typeName, text)
	if err != nil {
		return nil, err
	}
	r := resolver{raws: raws, done: map[string]*MsgSpec{}, visiting: map[string]bool{}}
	spec, err := r.resolve(typeName)
	if err != nil {
		return nil, err
	}
	fillDeps(spec)
	return spec, nil
}

// parseSections splits text into its sections and parses each one.
func parseSections(typeName, text string) (map[string]*rawMsg, error) {
	raws := map[string]*rawMsg{}
	cur := &rawMsg{typ: typeName}
	raws[typeName] = cur
	expectHeader := false
	for i, line := range strings.Split(text, "\n") {
		lineNo := i + 1
		line = strings.TrimRight(line, "\r")
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == definitionSeparator:
			expectHeader = true
		case expectHeader && trimmed == "":
		case expectHeader:
			next, err := sectionHeader(trimmed, lineNo, raws)
			if err != nil {
				return nil, err
			}
			cur, expectHeader = next, false
			raws[cur.typ] = cur
		default:
			if err := cur.parseLine(line, lineNo); err != nil {
				return nil, err
			}
		}
	}
	if expectHeader {
		return nil, badDef("separator at end of definition without a MSG: line")
	}
	return raws, nil
}

// sectionHeader parses a dependency's "MSG: pkg/Name" line.
func sectionHeader(line string, lineNo int, raws map[string]*rawMsg) (*rawMsg, error) {
	typ, ok := strings.CutPrefix(line, "MSG:")
	typ = strings.TrimSpace(typ)
	if !ok || !validTypeName(typ) {
		return nil, badDef("line %d: expected \"MSG: pkg/Name\" after separator, got %q", lineNo, line)
	}
	if _, dup := raws[typ]; dup {
		return nil, badDef("line %d: duplicate definition of %s", lineNo, typ)
	}
	return &rawMsg{typ: typ}, nil
}

// parseLine parses one line of a message's own text.
func (m *rawMsg) parseLine(line string, lineNo int) error {
	clean, _, _ := strings.Cut(line, "#")
	clean = strings.TrimSpace(clean)
	if clean == "" {
		return nil
	}
	var err error
	if strings.Contains(clean, "=") {
		err = m.parseConstant(line, clean)
	} else {
		err = m.parseField(clean, lineNo)
	}
	if err != nil {
		return badDef("%s line %d: %v: %q", m.typ, lineNo, err, strings.TrimSpace(line))
	}
	return nil
}

// parseConstant parses "type NAME=value". A string constant's value is the rest
// of the raw line (it may contain '#'); other values end at a comment.
func (m *rawMsg) parseConstant(line, clean string) error {
	typ, rest := clean, ""
	if i := strings.IndexAny(clean, " \t"); i >= 0 {
		typ, rest = clean[:i], clean[i:]
	}
	if typ == "time" || typ == "duration" || !builtinTypes[typ] {
		return fmt.Errorf("invalid constant type %q", typ)
	}
	if typ == "string" {
		_, raw, _ := strings.Cut(line, typ)
		rest = raw
	}
	name, value, _ := strings.Cut(rest, "=")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !validBaseName(name) {
		return fmt.Errorf("invalid constant name %q", name)
	}
	if err := checkConstValue(typ, value); err != nil {
		return err
	}
	for _, c := range m.constants {
		if c.Name == name {
			return fmt.Errorf("duplicate constant %s", name)
		}
	}
	m.constants = append(m.constants, ConstSpec{Type: typ, Name: name, Value: value})
	return nil
}

// checkConstValue checks that value is a valid literal of the builtin typ.
func checkConstValue(typ, value string) error {
	var err error
	switch typ {
	case "string":
		return nil
	case "bool":
		if value != "True" && value != "False" {
			_, err = strconv.ParseBool(value)
		}
	case "float32", "float64":
		_, err = strconv.ParseFloat(value, 64)
	case "byte", "int8", "int16", "int32", "int64":
		_, err = strconv.ParseInt(value, 10, intBits(typ))
	default:
		_, err = strconv.ParseUint(value, 10, intBits(typ))
	}
	if err != nil {
		return fmt.Errorf("invalid %s constant value %q", typ, value)
	}
	return nil
}

// intBits returns the width of a builtin integer type.
func intBits(typ string) int {
	switch typ {
	case "byte", "char", "int8", "uint8":
		return 8
	case "int16", "uint16":
		return 16
	case "int32", "uint32":
		return 32
	}
	return 64
}

// parseField parses "type name" with type one of base, base[] or base[N].
func (m *rawMsg) parseField(clean string, lineNo int) error {
	parts := strings.Fields(clean)
	if len(parts) != 2 {
		return errors.New("expected \"type name\"")
	}
	f, err := parseFieldType(parts[0], packageOf(m.typ))
	if err != nil {
		return err
	}
	f.Name = parts[1]
	if !validBaseName(f.Name) {
		return fmt.Errorf("invalid field name %q", f.Name)
	}
	for _, g := range m.fields {
		if g.Name == f.Name {
			return fmt.Errorf("duplicate field %s", f.Name)
		}
	}
	m.fields = append(m.fields, rawField{FieldSpec: f, line: lineNo})
	return nil
}

// parseFieldType parses a field type and qualifies message types with pkg.
func parseFieldType(typ, pkg string) (FieldSpec, error) {
	f := FieldSpec{Type: typ}
	if base, arr, ok := strings.Cut(typ, "["); ok {
		n, err := parseArrayLen(arr)
		if err != nil {
			return f, fmt.Errorf("invalid array type %q: %v", typ, err)
		}
		f.Type, f.Array, f.Len = base, true, n
	}
	switch {
	case builtinTypes[f.Type]:
	case f.Type == "Header":
		f.Type = "std_msgs/Header"
	case strings.Contains(f.Type, "/"):
		if !validTypeName(f.Type) {
			return f, fmt.Errorf("invalid field type %q", typ)
		}
	case validBaseName(f.Type):
		f.Type = pkg + "/" + f.Type
	default:
		return f, fmt.Errorf("invalid field type %q", typ)
	}
	return f, nil
}

// parseArrayLen parses the part of an array type after '[': "]" or "N]".
func parseArrayLen(s string) (int, error) {
	digits, ok := strings.CutSuffix(s, "]")
	if !ok || strings.ContainsAny(digits, "[]") {
		return 0, errors.New("expected [] or [N]")
	}
	if digits == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 || strconv.Itoa(n) != digits {
		return 0, fmt.Errorf("bad length %q", digits)
	}
	if n > maxFixedLen {
		return 0, fmt.Errorf("length %d exceeds %d", n, maxFixedLen)
	}
	return n, nil
}

// resolver links parsed sections into MsgSpecs.
type resolver struct {
	raws     map[string]*rawMsg
	done     map[string]*MsgSpec
	visiting map[string]bool
}

// resolve returns the spec of typ, resolving its dependencies first.
func (r *resolver) resolve(typ string) (*MsgSpec, error) {
	if s, ok := r.done[typ]; ok {
		return s, nil
	}
	raw := r.raws[typ]
	r.visiting[typ] = true
	defer delete(r.visiting, typ)
	s := &MsgSpec{Type: typ, Constants: raw.constants, Fields: make([]FieldSpec, 0, len(raw.fields))}
	for _, rf := range raw.fields {
		f := rf.FieldSpec
		if !builtinTypes[f.Type] {
			sub, err := r.field(typ, rf)
			if err != nil {
				return nil, err
			}
			f.Msg = sub
		}
		s.Fields = append(s.Fields, f)
	}
	r.done[typ] = s
	return s, nil
}

// field resolves the message type of field rf of message typ.
func (r *resolver) field(typ string, rf rawField) (*MsgSpec, error) {
	switch {
	case r.visiting[rf.Type]:
		return nil, badDef("%s line %d: field %s: recursive use of %s", typ, rf.line, rf.Name, rf.Type)
	case r.raws[rf.Type] == nil:
		return nil, badDef("%s line %d: field %s: missing dependency %s (no \"MSG: %s\" section)",
			typ, rf.line, rf.Name, rf.Type, rf.Type)
	}
	return r.resolve(rf.Type)
}

// fillDeps sets Deps on s and every spec reachable from it.
func fillDeps(s *MsgSpec) {
	if s.Deps != nil {
		return
	}
	s.Deps = map[string]*MsgSpec{}
	for _, f := range s.Fields {
		if f.Msg == nil {
			continue
		}
		fillDeps(f.Msg)
		s.Deps[f.Msg.Type] = f.Msg
		for k, v := range f.Msg.Deps {
			s.Deps[k] = v
		}
	}
}

// packageOf returns the package of a "pkg/Name" type name.
func packageOf(typ string) string {
	pkg, _, _ := strings.Cut(typ, "/")
	return pkg
}

// validTypeName reports whether s is "pkg/Name" with two valid base names.
func validTypeName(s string) bool {
	pkg, name, ok := strings.Cut(s, "/")
	return ok && validBaseName(pkg) && validBaseName(name)
}

// validBaseName reports whether s is a ROS base name: [A-Za-z][A-Za-z0-9_]*.
func validBaseName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || c != '_' && (c < '0' || c > '9')) {
			return false
		}
	}
	return true
}

// MD5 returns the message's MD5 sum as ROS computes it: the MD5 of the
// constants ("type NAME=value") then the fields ("type name", with a message
// type replaced by its own MD5 and no array suffix), one per line. It fails
// (wrapping ErrBadDefinition) on invalid or inconsistent hand-built specs.
func (s *MsgSpec) MD5() (string, error) {
	return s.md5(map[*MsgSpec]bool{})
}

// md5 computes MD5, with visiting guarding against cycles.
func (s *MsgSpec) md5(visiting map[*MsgSpec]bool) (string, error) {
	text, err := s.md5Text(visiting)
	if err != nil {
		return "", err
	}
	sum := md5.Sum([]byte(text))
	return hex.EncodeToString(sum[:]), nil
}

// md5Text is the text whose MD5 is the message's.
func (s *MsgSpec) md5Text(visiting map[*MsgSpec]bool) (string, error) {
	switch {
	case !validTypeName(s.Type):
		return "", badDef("invalid message type name %q", s.Type)
	case visiting[s]:
		return "", badDef("%s: recursive message type", s.Type)
	}
	visiting[s] = true
	defer delete(visiting, s)
	lines := make([]string, 0, len(s.Constants)+len(s.Fields))
	for _, c := range s.Constants {
		lines = append(lines, c.Type+" "+c.Name+"="+c.Value)
	}
	for _, f := range s.Fields {
		typ, err := f.md5Type(s, visiting)
		if err != nil {
			return "", err
		}
		lines = append(lines, typ+" "+f.Name)
	}
	return strings.Join(lines, "\n"), nil
}

// md5Type returns the type part of the field's line in the MD5 text.
func (f FieldSpec) md5Type(owner *MsgSpec, visiting map[*MsgSpec]bool) (string, error) {
	if err := f.check(owner); err != nil {
		return "", err
	}
	if f.Msg != nil {
		return f.Msg.md5(visiting)
	}
	switch {
	case !f.Array:
		return f.Type, nil
	case f.Len < 0:
		return f.Type + "[]", nil
	}
	return f.Type + "[" + strconv.Itoa(f.Len) + "]", nil
}

// check validates a (possibly hand-built) field of owner.
func (f FieldSpec) check(owner *MsgSpec) error {
	switch {
	case !validBaseName(f.Name):
		return badDef("%s: invalid field name %q", owner.Type, f.Name)
	case f.Msg == nil && !builtinTypes[f.Type]:
		return badDef("%s field %s: message type %q has no spec", owner.Type, f.Name, f.Type)
	case f.Msg != nil && f.Msg.Type != f.Type:
		return badDef("%s field %s: type %q but spec of %q", owner.Type, f.Name, f.Type, f.Msg.Type)
	case !f.Array && f.Len != 0, f.Array && (f.Len < -1 || f.Len > maxFixedLen):
		return badDef("%s field %s: bad array length %d", owner.Type, f.Name, f.Len)
	}
	return nil
}
