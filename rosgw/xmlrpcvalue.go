package rosgw

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The XML-RPC values of the ROS master API, in both directions. goroslib's
// pkg/xmlrpc decodes into typed structs only, so it cannot read a parameter
// that is a list or a dictionary; this codec reads any <value> into plain
// Go values and writes them back:
//
//	<int>, <i4>, <i8>       int
//	<boolean>               bool
//	<double>                float64
//	<string>, bare text     string (an empty <value/> is "", as the spec says)
//	<base64>                []byte
//	<dateTime.iso8601>      string, as written
//	<nil/>                  nil
//	<array>                 []any
//	<struct>                map[string]any
//
// Both directions are bounded, since a master is another process that may be
// hostile or broken: values nest maxXMLRPCDepth deep at most, and a response
// is maxXMLRPCResponse bytes at most.

const (
	// maxXMLRPCDepth bounds the nesting of arrays and structs. A ROS
	// parameter tree a few levels deep is common; 64 is far beyond any.
	maxXMLRPCDepth = 64
	// maxXMLRPCResponse bounds a response body. A parameter server holding
	// a large URDF is a few hundred KiB.
	maxXMLRPCResponse = 16 << 20
)

// ErrXMLRPC is returned when a master's answer is not valid XML-RPC, nests
// too deep or is too large; the errors wrapping it say which.
var ErrXMLRPC = errors.New("rosgw: bad XML-RPC")

// decodeXMLRPCValue reads one <value> element from data.
func decodeXMLRPCValue(data []byte) (any, error) {
	if len(data) > maxXMLRPCResponse {
		return nil, fmt.Errorf("%w: a value of over %d bytes", ErrXMLRPC, maxXMLRPCResponse)
	}
	p := newValueParser(bytes.NewReader(data))
	start, err := p.start()
	if err != nil {
		return nil, err
	}
	if start.Name.Local != "value" {
		return nil, p.errorf("<%s> where <value> is expected", start.Name.Local)
	}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	return v, p.eof()
}

// valueParser reads XML-RPC from a token stream.
type valueParser struct {
	d     *xml.Decoder
	depth int // arrays and structs open
}

func newValueParser(r io.Reader) *valueParser {
	d := xml.NewDecoder(r)
	d.Strict = true
	return &valueParser{d: d}
}

func (p *valueParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrXMLRPC, fmt.Sprintf(format, args...))
}

// token is the next token that matters: comments, processing instructions
// and directives are skipped.
func (p *valueParser) token() (xml.Token, error) {
	for {
		tok, err := p.d.Token()
		if err == io.EOF {
			return nil, p.errorf("unexpected end of document")
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrXMLRPC, err)
		}
		switch tok.(type) {
		case xml.Comment, xml.ProcInst, xml.Directive:
			continue
		}
		return tok, nil
	}
}

// start reads the next start element, skipping white space.
func (p *valueParser) start() (xml.StartElement, error) {
	for {
		tok, err := p.token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) == 0 {
				continue
			}
			return xml.StartElement{}, p.errorf("unexpected text %.40q", t)
		case xml.EndElement:
			return xml.StartElement{}, p.errorf("unexpected </%s>", t.Name.Local)
		}
	}
}

// startOrEnd reads the next start element or the end of the element name,
// skipping white space; end reports the latter.
func (p *valueParser) startOrEnd(name string) (start xml.StartElement, end bool, err error) {
	for {
		tok, err := p.token()
		if err != nil {
			return start, false, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, false, nil
		case xml.EndElement:
			if t.Name.Local != name {
				return start, false, p.errorf("</%s> where </%s> is expected", t.Name.Local, name)
			}
			return start, true, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return start, false, p.errorf("unexpected text %.40q in <%s>", t, name)
			}
		}
	}
}

// expect reads the start element name.
func (p *valueParser) expect(name string) error {
	s, err := p.start()
	if err == nil && s.Name.Local != name {
		err = p.errorf("<%s> where <%s> is expected", s.Name.Local, name)
	}
	return err
}

// end reads the end of the element name, skipping white space.
func (p *valueParser) end(name string) error {
	s, end, err := p.startOrEnd(name)
	if err == nil && !end {
		err = p.errorf("<%s> where </%s> is expected", s.Name.Local, name)
	}
	return err
}

// eof checks that nothing but white space and comments follows.
func (p *valueParser) eof() error {
	for {
		tok, err := p.d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrXMLRPC, err)
		}
		switch t := tok.(type) {
		case xml.Comment, xml.ProcInst:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return p.errorf("trailing text %.40q", t)
			}
		default:
			return p.errorf("trailing content after the document")
		}
	}
}

// text reads character data up to the end of the element name.
func (p *valueParser) text(name string) (string, error) {
	var b strings.Builder
	for {
		tok, err := p.token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.EndElement:
			if t.Name.Local != name {
				return "", p.errorf("</%s> in <%s>", t.Name.Local, name)
			}
			return b.String(), nil
		case xml.StartElement:
			return "", p.errorf("<%s> in <%s>", t.Name.Local, name)
		}
	}
}

// value reads the rest of a <value> element whose start was read.
func (p *valueParser) value() (any, error) {
	var text []byte
	for {
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			text = append(text, t...)
		case xml.EndElement: // no type element: a string
			if t.Name.Local != "value" {
				return nil, p.errorf("</%s> in <value>", t.Name.Local)
			}
			return string(text), nil
		case xml.StartElement:
			if len(bytes.TrimSpace(text)) != 0 {
				return nil, p.errorf("text and <%s> mixed in <value>", t.Name.Local)
			}
			v, err := p.typed(t.Name.Local)
			if err != nil {
				return nil, err
			}
			return v, p.end("value")
		}
	}
}

// typed reads the rest of a type element of a <value>.
func (p *valueParser) typed(typ string) (any, error) {
	switch typ {
	case "array":
		return p.array()
	case "struct":
		return p.structure()
	case "nil":
		return nil, p.end("nil")
	}
	s, err := p.text(typ)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "string", "dateTime.iso8601":
		return s, nil
	case "int", "i4", "i8":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n != int64(int(n)) {
			return nil, p.errorf("bad <%s> %.40q", typ, s)
		}
		return int(n), nil
	case "boolean":
		switch strings.TrimSpace(s) {
		case "1":
			return true, nil
		case "0":
			return false, nil
		}
		return nil, p.errorf("bad <boolean> %.40q", s)
	case "double":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, p.errorf("bad <double> %.40q", s)
		}
		return f, nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			return nil, p.errorf("bad <base64>: %v", err)
		}
		return b, nil
	}
	return nil, p.errorf("unknown type <%s>", typ)
}

// nest enters an array or struct.
func (p *valueParser) nest() error {
	if p.depth++; p.depth > maxXMLRPCDepth {
		return p.errorf("values nested deeper than %d", maxXMLRPCDepth)
	}
	return nil
}

// array reads <data><value>...</value>...</data></array>.
func (p *valueParser) array() (any, error) {
	if err := p.nest(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	if err := p.expect("data"); err != nil {
		return nil, err
	}
	out := []any{}
	for {
		s, end, err := p.startOrEnd("data")
		if err != nil {
			return nil, err
		}
		if end {
			return out, p.end("array")
		}
		if s.Name.Local != "value" {
			return nil, p.errorf("<%s> in <data>", s.Name.Local)
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

// structure reads <member><name>..</name><value>..</value></member>...</struct>.
func (p *valueParser) structure() (any, error) {
	if err := p.nest(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	out := map[string]any{}
	for {
		s, end, err := p.startOrEnd("struct")
		if err != nil {
			return nil, err
		}
		if end {
			return out, nil
		}
		if s.Name.Local != "member" {
			return nil, p.errorf("<%s> in <struct>", s.Name.Local)
		}
		if err := p.expect("name"); err != nil {
			return nil, err
		}
		name, err := p.text("name")
		if err != nil {
			return nil, err
		}
		if err := p.expect("value"); err != nil {
			return nil, err
		}
		if out[name], err = p.value(); err != nil {
			return nil, err
		}
		if err := p.end("member"); err != nil {
			return nil, err
		}
	}
}

// encodeXMLRPCValue writes v as a <value> element. It takes the values
// decodeXMLRPCValue returns and those a msgpack or JSON decoding into any
// gives: all integer and float types, map[any]any with string keys, and
// time.Time (as dateTime.iso8601, UTC), besides other slices and
// string-keyed maps. Integers outside 32 bits are written as <i8>, an
// extension most servers, rospy's included, read.
func encodeXMLRPCValue(v any) ([]byte, error) {
	return appendValue(nil, v, 0)
}

func appendValue(b []byte, v any, depth int) ([]byte, error) {
	b = append(b, "<value>"...)
	b, err := appendTyped(b, v, depth)
	return append(b, "</value>"...), err
}

func appendTyped(b []byte, v any, depth int) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return append(b, "<nil/>"...), nil
	case bool:
		if t {
			return append(b, "<boolean>1</boolean>"...), nil
		}
		return append(b, "<boolean>0</boolean>"...), nil
	case int:
		return appendInt(b, int64(t)), nil
	case int8:
		return appendInt(b, int64(t)), nil
	case int16:
		return appendInt(b, int64(t)), nil
	case int32:
		return appendInt(b, int64(t)), nil
	case int64:
		return appendInt(b, t), nil
	case uint, uint8, uint16, uint32, uint64, uintptr:
		n := reflect.ValueOf(t).Uint()
		if n > math.MaxInt64 {
			return b, fmt.Errorf("%w: integer %d does not fit 64 signed bits", ErrXMLRPC, n)
		}
		return appendInt(b, int64(n)), nil
	case float32:
		return appendDouble(b, float64(t)), nil
	case float64:
		return appendDouble(b, t), nil
	case string:
		b = append(b, "<string>"...)
		return append(appendEscaped(b, t), "</string>"...), nil
	case []byte:
		b = append(b, "<base64>"...)
		b = base64.StdEncoding.AppendEncode(b, t)
		return append(b, "</base64>"...), nil
	case time.Time:
		return append(t.UTC().AppendFormat(append(b, "<dateTime.iso8601>"...), "20060102T15:04:05"), "</dateTime.iso8601>"...), nil
	case []any:
		return appendArray(b, len(t), func(i int) any { return t[i] }, depth)
	case map[string]any:
		return appendStruct(b, t, depth)
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			s, ok := k.(string)
			if !ok {
				return b, fmt.Errorf("%w: struct member name of type %T", ErrXMLRPC, k)
			}
			m[s] = e
		}
		return appendStruct(b, m, depth)
	}
	return appendReflect(b, v, depth)
}

// appendReflect writes other slices, arrays and string-keyed maps.
func appendReflect(b []byte, v any, depth int) ([]byte, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		return appendArray(b, rv.Len(), func(i int) any { return rv.Index(i).Interface() }, depth)
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		m := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m[it.Key().String()] = it.Value().Interface()
		}
		return appendStruct(b, m, depth)
	}
	return b, fmt.Errorf("%w: cannot encode a value of type %T", ErrXMLRPC, v)
}

func appendInt(b []byte, n int64) []byte {
	tag := "int"
	if n != int64(int32(n)) {
		tag = "i8"
	}
	b = append(append(append(b, '<'), tag...), '>')
	b = strconv.AppendInt(b, n, 10)
	return append(append(append(b, "</"...), tag...), '>')
}

func appendDouble(b []byte, f float64) []byte {
	b = append(b, "<double>"...)
	b = strconv.AppendFloat(b, f, 'g', -1, 64)
	return append(b, "</double>"...)
}

// appendEscaped escapes s as XML character data; characters XML cannot
// carry become U+FFFD, as encoding/xml writes them.
func appendEscaped(b []byte, s string) []byte {
	var buf bytes.Buffer
	xml.EscapeText(&buf, []byte(s))
	return append(b, buf.Bytes()...)
}

func appendArray(b []byte, n int, at func(int) any, depth int) ([]byte, error) {
	if depth++; depth > maxXMLRPCDepth {
		return b, fmt.Errorf("%w: values nested deeper than %d", ErrXMLRPC, maxXMLRPCDepth)
	}
	b = append(b, "<array><data>"...)
	var err error
	for i := range n {
		if b, err = appendValue(b, at(i), depth); err != nil {
			return b, err
		}
	}
	return append(b, "</data></array>"...), nil
}

// appendStruct writes the members by name, so that equal maps encode
// equally.
func appendStruct(b []byte, m map[string]any, depth int) ([]byte, error) {
	if depth++; depth > maxXMLRPCDepth {
		return b, fmt.Errorf("%w: values nested deeper than %d", ErrXMLRPC, maxXMLRPCDepth)
	}
	b = append(b, "<struct>"...)
	var err error
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b = append(appendEscaped(append(b, "<member><name>"...), k), "</name>"...)
		if b, err = appendValue(b, m[k], depth); err != nil {
			return b, err
		}
		b = append(b, "</member>"...)
	}
	return append(b, "</struct>"...), nil
}
