package rosgw

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestXMLRPCValueRoundTrip: every type the encoder takes comes back as the
// type the decoder gives for it.
func TestXMLRPCValueRoundTrip(t *testing.T) {
	when := time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("X", 3600))
	cases := []struct {
		name    string
		in, out any
	}{
		{"true", true, true},
		{"false", false, false},
		{"int", 42, 42},
		{"int negative", -7, -7},
		{"int8", int8(-8), -8},
		{"int16", int16(1600), 1600},
		{"int32 max", int32(math.MaxInt32), math.MaxInt32},
		{"int64 over 32 bits", int64(5_000_000_000), 5_000_000_000},
		{"int64 min", int64(math.MinInt64), math.MinInt64},
		{"uint8", uint8(255), 255},
		{"uint64", uint64(1 << 40), 1 << 40},
		{"float32", float32(0.5), 0.5},
		{"float64", 1.5, 1.5},
		{"float64 whole", 3.0, 3.0},
		{"float64 tiny", 5e-324, 5e-324},
		{"float64 huge", 1e300, 1e300},
		{"negative zero", math.Copysign(0, -1), math.Copysign(0, -1)},
		{"inf", math.Inf(1), math.Inf(1)},
		{"string", "arm", "arm"},
		{"string empty", "", ""},
		{"string markup", `<a href="x">&amp;</a>`, `<a href="x">&amp;</a>`},
		{"string spaces and lines", "  two\nlines\r\n\t", "  two\nlines\r\n\t"},
		{"string unicode", "höhe ✓ 日本", "höhe ✓ 日本"},
		{"bytes", []byte{0, 1, 2, 255}, []byte{0, 1, 2, 255}},
		{"bytes empty", []byte{}, []byte{}},
		{"time", when, "20240506T06:08:09"},
		{"nil", nil, nil},
		{"list", []any{1, 2.5, "x", true}, []any{1, 2.5, "x", true}},
		{"list empty", []any{}, []any{}},
		{"list of lists", []any{[]any{1}, []any{}}, []any{[]any{1}, []any{}}},
		{"dict", map[string]any{"kp": 1.5, "gains": []any{1, 2, 3}, "name": "arm"},
			map[string]any{"kp": 1.5, "gains": []any{1, 2, 3}, "name": "arm"}},
		{"dict empty", map[string]any{}, map[string]any{}},
		{"dict nested", map[string]any{"a": map[string]any{"b": map[string]any{"c": int64(1)}}},
			map[string]any{"a": map[string]any{"b": map[string]any{"c": 1}}}},
		{"map any", map[any]any{"a": uint16(1), "b": []any{true, false}}, map[string]any{"a": 1, "b": []any{true, false}}},
		{"list of dicts", []any{map[string]any{"x": 1}}, []any{map[string]any{"x": 1}}},
		{"typed slice", []string{"a", "b"}, []any{"a", "b"}},
		{"typed map", map[string]int{"a": 1}, map[string]any{"a": 1}},
	}
	for _, c := range cases {
		b, err := encodeXMLRPCValue(c.in)
		if err != nil {
			t.Errorf("%s: encode: %v", c.name, err)
			continue
		}
		got, err := decodeXMLRPCValue(b)
		if err != nil {
			t.Errorf("%s: decode %s: %v", c.name, b, err)
			continue
		}
		if !reflect.DeepEqual(got, c.out) {
			t.Errorf("%s: %s decodes to %#v, want %#v", c.name, b, got, c.out)
		}
	}
	nan, err := encodeXMLRPCValue(math.NaN())
	if err != nil {
		t.Fatal(err)
	}
	if v, err := decodeXMLRPCValue(nan); err != nil || !math.IsNaN(v.(float64)) {
		t.Errorf("NaN: %s decodes to %v, %v", nan, v, err)
	}
}

// TestXMLRPCEncodeCanonical: equal maps encode equally, whatever their
// order, so that encodings compare values.
func TestXMLRPCEncodeCanonical(t *testing.T) {
	a := map[string]any{}
	b := map[string]any{}
	for i := range 50 {
		k := strings.Repeat("k", i+1)
		a[k] = i
	}
	for i := 49; i >= 0; i-- {
		b[strings.Repeat("k", i+1)] = i
	}
	ea, _ := encodeXMLRPCValue(a)
	eb, _ := encodeXMLRPCValue(b)
	if !bytes.Equal(ea, eb) {
		t.Fatal("equal maps encode differently")
	}
	if n1, n2 := fingerprint(math.NaN()), fingerprint(math.NaN()); n1 != n2 {
		t.Fatal("NaN's fingerprint is not its own: a NaN parameter would be copied forever")
	}
	if fingerprint(1) == fingerprint(1.0) {
		t.Fatal("an int and a double have one fingerprint: ROS tells them apart")
	}
}

// TestXMLRPCDecodeForms: the forms servers write, rospy's (rosmaster's)
// answers among them, read as the same values.
func TestXMLRPCDecodeForms(t *testing.T) {
	cases := []struct {
		xml  string
		want any
	}{
		{`<value>bare text</value>`, "bare text"},
		{`<value></value>`, ""},
		{`<value/>`, ""},
		{`<value>  <int> 7 </int>  </value>`, 7},
		{`<value><i4>-3</i4></value>`, -3},
		{`<value><i8>9000000000</i8></value>`, 9000000000},
		{`<value><boolean>1</boolean></value>`, true},
		{`<value><boolean>0</boolean></value>`, false},
		{`<value><double>-1.25e3</double></value>`, -1250.0},
		{`<value><double>nan</double></value>`, nil}, // checked below
		{`<value><string></string></value>`, ""},
		{`<value><string><![CDATA[<raw>]]></string></value>`, "<raw>"},
		{`<value><string>a&amp;b&#x41;</string></value>`, "a&bA"},
		{"<value><base64>AAEC\n/w==\n</base64></value>", []byte{0, 1, 2, 255}},
		{`<value><dateTime.iso8601>19980717T14:08:55</dateTime.iso8601></value>`, "19980717T14:08:55"},
		{`<value><nil/></value>`, nil},
		{`<value><ex:nil xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions"/></value>`, nil},
		{`<value><array><data></data></array></value>`, []any{}},
		{`<value><array><data><value>1</value><value><int>2</int></value></data></array></value>`, []any{"1", 2}},
		{`<value><struct></struct></value>`, map[string]any{}},
		{"<value><struct>\n<member>\n<name>a</name>\n<value><int>1</int></value>\n</member>\n<member><name>a</name><value>2</value></member></struct></value>",
			map[string]any{"a": "2"}},
		{`<!-- a comment --><value><!-- here too --><int>5</int></value>`, 5},
		{"<?xml version='1.0'?>\n<value><int>5</int></value>\n", 5},
		// The answer of rosmaster to getParam /cfg, as it writes it.
		{"<value><array><data>\n<value><int>1</int></value>\n<value><string>Parameter [/cfg]</string></value>\n" +
			"<value><struct>\n<member>\n<name>a</name>\n<value><int>1</int></value>\n</member>\n<member>\n<name>b</name>\n" +
			"<value><array><data>\n<value><boolean>1</boolean></value>\n<value><boolean>0</boolean></value>\n</data></array></value>\n" +
			"</member>\n</struct></value>\n</data></array></value>",
			[]any{1, "Parameter [/cfg]", map[string]any{"a": 1, "b": []any{true, false}}}},
	}
	for _, c := range cases {
		got, err := decodeXMLRPCValue([]byte(c.xml))
		if err != nil {
			t.Errorf("%s: %v", c.xml, err)
			continue
		}
		if strings.Contains(c.xml, "nan") {
			if f, ok := got.(float64); !ok || !math.IsNaN(f) {
				t.Errorf("%s: %#v, want NaN", c.xml, got)
			}
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %#v, want %#v", c.xml, got, c.want)
		}
	}
}

// nested is a value of n arrays, one in the other.
func nested(n int) string {
	return strings.Repeat("<value><array><data>", n) + "<value>x</value>" + strings.Repeat("</data></array></value>", n)
}

// TestXMLRPCDecodeHostile: what a broken or hostile master sends fails
// with ErrXMLRPC, and no more than a depth of maxXMLRPCDepth or a size of
// maxXMLRPCResponse is ever read.
func TestXMLRPCDecodeHostile(t *testing.T) {
	if _, err := decodeXMLRPCValue([]byte(nested(maxXMLRPCDepth))); err != nil {
		t.Fatalf("%d nested arrays: %v", maxXMLRPCDepth, err)
	}
	deepStruct := strings.Repeat("<value><struct><member><name>a</name>", maxXMLRPCDepth+1) + "<value>x</value>" +
		strings.Repeat("</member></struct></value>", maxXMLRPCDepth+1)
	huge := "<value><string>" + strings.Repeat("x", maxXMLRPCResponse) + "</string></value>"
	cases := map[string]string{
		"arrays too deep":          nested(maxXMLRPCDepth + 1),
		"arrays far too deep":      nested(100_000),
		"structs too deep":         deepStruct,
		"huge":                     huge,
		"empty":                    "",
		"not xml":                  "not xml at all",
		"no value":                 "<int>1</int>",
		"unclosed":                 "<value><int>1</int>",
		"mismatched":               "<value><int>1</i4></value>",
		"unknown type":             "<value><float>1</float></value>",
		"bad int":                  "<value><int>1.5</int></value>",
		"int overflow":             "<value><int>99999999999999999999</int></value>",
		"bad boolean":              "<value><boolean>true</boolean></value>",
		"bad double":               "<value><double>one</double></value>",
		"bad base64":               "<value><base64>!!!</base64></value>",
		"element in a string":      "<value><string>a<b/></string></value>",
		"text and element":         "<value>text<int>1</int></value>",
		"two types":                "<value><int>1</int><int>2</int></value>",
		"array without data":       "<value><array><value>1</value></array></value>",
		"text in an array":         "<value><array><data>text</data></array></value>",
		"struct member no name":    "<value><struct><member><value>1</value></member></struct></value>",
		"struct member no value":   "<value><struct><member><name>a</name></member></struct></value>",
		"struct stray element":     "<value><struct><x/></struct></value>",
		"trailing element":         "<value>1</value><value>2</value>",
		"trailing text":            "<value>1</value>tail",
		"undefined entity":         "<value>&laughs;</value>",
		"entity declarations":      `<!DOCTYPE v [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><value>&b;</value>`,
		"unclosed deep":            strings.Repeat("<value><array><data>", 50),
		"nil with content":         "<value><nil>x</nil></value>",
		"invalid utf-8 in a name":  "<value><\xff/></value>",
		"value ends in a typename": "<value><int>1</value>",
	}
	for name, in := range cases {
		if _, err := decodeXMLRPCValue([]byte(in)); !errors.Is(err, ErrXMLRPC) {
			t.Errorf("%s: err %v, want ErrXMLRPC", name, err)
		}
	}
	_, err := decodeXMLRPCValue([]byte(nested(maxXMLRPCDepth + 1)))
	if !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("too deep: %v does not say why", err)
	}
}

// TestXMLRPCEncodeErrors: what XML-RPC cannot carry fails, cycles
// included.
func TestXMLRPCEncodeErrors(t *testing.T) {
	cyclic := []any{nil}
	cyclic[0] = cyclic
	deep := any("x")
	for range maxXMLRPCDepth + 1 {
		deep = []any{deep}
	}
	cases := map[string]any{
		"channel":          make(chan int),
		"func":             func() {},
		"non-string key":   map[any]any{1: "a"},
		"int-keyed map":    map[int]any{1: "a"},
		"uint64 too large": uint64(math.MaxUint64),
		"cycle":            cyclic,
		"too deep":         deep,
		"pointer":          new(int),
	}
	for name, v := range cases {
		if _, err := encodeXMLRPCValue(v); !errors.Is(err, ErrXMLRPC) {
			t.Errorf("%s: err %v, want ErrXMLRPC", name, err)
		}
	}
}

// FuzzXMLRPCValue: any input decodes or fails without a panic, and what
// decodes encodes to a value that decodes to itself.
func FuzzXMLRPCValue(f *testing.F) {
	for _, s := range []string{
		"<value>x</value>",
		"<value><int>1</int></value>",
		"<value><double>1.5</double></value>",
		"<value><boolean>1</boolean></value>",
		"<value><base64>AAE=</base64></value>",
		"<value><nil/></value>",
		"<value><array><data><value><i4>1</i4></value></data></array></value>",
		"<value><struct><member><name>a</name><value><string>b</string></value></member></struct></value>",
		nested(3),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decodeXMLRPCValue(data)
		if err != nil {
			if !errors.Is(err, ErrXMLRPC) {
				t.Fatalf("error not wrapping ErrXMLRPC: %v", err)
			}
			return
		}
		b, err := encodeXMLRPCValue(v)
		if err != nil {
			t.Fatalf("decoded %#v does not encode: %v", v, err)
		}
		w, err := decodeXMLRPCValue(b)
		if err != nil {
			t.Fatalf("encoding %s of %#v does not decode: %v", b, v, err)
		}
		if fingerprint(w) != string(b) {
			t.Fatalf("%#v: encodes to %s, then %s", v, b, fingerprint(w))
		}
	})
}
