package rosgw

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bluenviron/goroslib/v2/pkg/msgproc"
)

// The testdata/*.msgdef goldens hold, after a "type md5" line, a message's full
// definition text. Those of real ROS types are ROS's own _full_text and
// _md5sum, from the Debian python3-std-msgs, python3-geometry-msgs and
// python3-rosgraph-msgs packages, e.g.:
//
//	/usr/bin/python3 -c "from geometry_msgs.msg import Twist as M; print(M._md5sum); print(M._full_text)"
//
// The custom__*.msgdef types (package rosgw_test) were written for these
// tests; their MD5 sums were computed with ROS's genmsg
// (genmsg.msg_loader.load_msg_from_string on each section, then
// genmsg.gentools.compute_md5). The *.wire files hold messages serialized by
// ROS's genpy (genpy.dynamic.generate_dynamic, then serialize), as hex, with
// the values of kitchenValues and poseStampedValues.

// golden is one testdata/*.msgdef file.
type golden struct {
	typ, md5, text string
}

// goroslibMD5Differs lists the golden types whose MD5 goroslib's msgproc
// cannot reproduce: they use byte[]/char[N] arrays (goroslib writes int8[] /
// uint8[N]) or, for rosgw_test/Kitchen, also a string constant with a comma.
var goroslibMD5Differs = map[string]bool{
	"std_msgs/ByteMultiArray": true,
	"rosgw_test/Kitchen":      true,
}

// loadGoldens reads every testdata/*.msgdef file.
func loadGoldens(t *testing.T) map[string]golden {
	t.Helper()
	files, err := filepath.Glob("testdata/*.msgdef")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]golden{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		head, text, _ := strings.Cut(string(b), "\n")
		typ, sum, ok := strings.Cut(head, " ")
		if !ok || len(sum) != 32 {
			t.Fatalf("%s: bad header line %q", f, head)
		}
		out[typ] = golden{typ: typ, md5: sum, text: text}
	}
	return out
}

// mustParse parses the golden of typ.
func mustParse(t *testing.T, typ string) *MsgSpec {
	t.Helper()
	g, ok := loadGoldens(t)[typ]
	if !ok {
		t.Fatalf("no golden for %s", typ)
	}
	spec, err := ParseDefinition(typ, g.text)
	if err != nil {
		t.Fatalf("ParseDefinition(%s): %v", typ, err)
	}
	return spec
}

func TestGoldenMD5(t *testing.T) {
	goldens := loadGoldens(t)
	for _, typ := range []string{
		"geometry_msgs/Twist", "std_msgs/String", "std_msgs/Header", "std_msgs/Float64MultiArray",
		"geometry_msgs/PoseStamped", "geometry_msgs/TwistWithCovariance", "std_msgs/ColorRGBA",
		"std_msgs/Time", "std_msgs/Duration", "std_msgs/Char", "std_msgs/Byte", "std_msgs/Empty",
		"std_msgs/ByteMultiArray", "rosgraph_msgs/Log", "rosgw_test/Constants", "rosgw_test/Kitchen",
	} {
		if _, ok := goldens[typ]; !ok {
			t.Errorf("missing golden %s", typ)
		}
	}
	if len(goldens) < 60 {
		t.Errorf("only %d goldens", len(goldens))
	}
	for typ, g := range goldens {
		t.Run(typ, func(t *testing.T) { checkGolden(t, g) })
	}
}

// checkGolden checks our MD5 and goroslib's view of our Go type for g.
func checkGolden(t *testing.T, g golden) {
	spec, err := ParseDefinition(g.typ, g.text)
	if err != nil {
		t.Fatalf("ParseDefinition: %v", err)
	}
	if sum, err := spec.MD5(); err != nil || sum != g.md5 {
		t.Errorf("MD5() = %q, %v; want %s", sum, err, g.md5)
	}
	gt, err := spec.GoType()
	if err != nil {
		t.Fatalf("GoType: %v", err)
	}
	zero := reflect.New(gt).Elem().Interface()
	if typ, err := msgproc.Type(zero); err != nil || typ != g.typ {
		t.Errorf("msgproc.Type = %q, %v", typ, err)
	}
	sum, err := msgproc.MD5(zero)
	if err != nil {
		t.Fatalf("msgproc.MD5: %v", err)
	}
	if differs := goroslibMD5Differs[g.typ]; (sum != g.md5) != differs {
		t.Errorf("msgproc.MD5 = %s, golden %s, expected to differ: %v", sum, g.md5, differs)
	}
	if goroslibMD5Differs[g.typ] {
		return
	}
	// What goroslib would send as message_definition for our type reads back.
	def, err := msgproc.Definition(zero)
	if err != nil {
		t.Fatalf("msgproc.Definition: %v", err)
	}
	back, err := ParseDefinition(g.typ, def)
	if err != nil {
		t.Fatalf("ParseDefinition(goroslib's definition): %v\n%s", err, def)
	}
	if sum, _ := back.MD5(); sum != g.md5 {
		t.Errorf("goroslib's definition reparses with MD5 %s", sum)
	}
}

func TestParseTwist(t *testing.T) {
	s := mustParse(t, "geometry_msgs/Twist")
	if s.Type != "geometry_msgs/Twist" || len(s.Fields) != 2 || len(s.Constants) != 0 {
		t.Fatalf("spec = %+v", s)
	}
	lin, ang := s.Fields[0], s.Fields[1]
	if lin.Name != "linear" || ang.Name != "angular" || lin.Type != "geometry_msgs/Vector3" || lin.Array {
		t.Errorf("fields = %+v", s.Fields)
	}
	if lin.Msg == nil || lin.Msg != ang.Msg {
		t.Errorf("Vector3 spec not shared: %p %p", lin.Msg, ang.Msg)
	}
	if len(s.Deps) != 1 || s.Deps["geometry_msgs/Vector3"] != lin.Msg {
		t.Errorf("Deps = %v", s.Deps)
	}
	want := []FieldSpec{{Name: "x", Type: "float64"}, {Name: "y", Type: "float64"}, {Name: "z", Type: "float64"}}
	if !reflect.DeepEqual(lin.Msg.Fields, want) || lin.Msg.Deps == nil {
		t.Errorf("Vector3 = %+v", lin.Msg)
	}
}

func TestParseArraysAndDeps(t *testing.T) {
	cov := mustParse(t, "geometry_msgs/TwistWithCovariance").Fields[1]
	if cov.Name != "covariance" || cov.Type != "float64" || !cov.Array || cov.Len != 36 || cov.Msg != nil {
		t.Errorf("covariance = %+v", cov)
	}
	fma := mustParse(t, "std_msgs/Float64MultiArray")
	data, dim := fma.Fields[1], fma.Fields[0].Msg.Fields[0]
	if data.Type != "float64" || !data.Array || data.Len != -1 {
		t.Errorf("data = %+v", data)
	}
	if dim.Name != "dim" || dim.Type != "std_msgs/MultiArrayDimension" || !dim.Array || dim.Len != -1 || dim.Msg == nil {
		t.Errorf("dim = %+v", dim)
	}
	ps := mustParse(t, "geometry_msgs/PoseStamped")
	var deps []string
	for k := range ps.Deps {
		deps = append(deps, k)
	}
	if len(deps) != 4 || ps.Deps["std_msgs/Header"] == nil || ps.Deps["geometry_msgs/Quaternion"] == nil {
		t.Errorf("PoseStamped deps = %v", deps)
	}
	if h := ps.Fields[0]; h.Name != "header" || h.Type != "std_msgs/Header" || h.Msg.Fields[1].Type != "time" {
		t.Errorf("header = %+v", h)
	}
}

func TestParseKitchen(t *testing.T) {
	s := mustParse(t, "rosgw_test/Kitchen")
	consts := map[string]ConstSpec{}
	for _, c := range s.Constants {
		consts[c.Name] = c
	}
	for name, want := range map[string]ConstSpec{
		"A":     {"int32", "A", "1"},
		"B":     {"uint8", "B", "255"},
		"S":     {"string", "S", "hello world # not a comment"},
		"EMPTY": {"string", "EMPTY", ""},
		"Q":     {"string", "Q", "\"quoted\" \\back`tick"},
		"BB":    {"byte", "BB", "-3"},
		"FLAG":  {"bool", "FLAG", "True"},
	} {
		if consts[name] != want {
			t.Errorf("constant %s = %+v, want %+v", name, consts[name], want)
		}
	}
	fields := map[string]FieldSpec{}
	for _, f := range s.Fields {
		fields[f.Name] = f
	}
	item := fields["items"].Msg
	if fields["items"].Type != "rosgw_test/Item" || fields["pair"].Msg != item || fields["pair"].Len != 2 {
		t.Fatalf("items = %+v, pair = %+v", fields["items"], fields["pair"])
	}
	// Unqualified types resolve in the package of the message using them.
	thing := item.Fields[1].Msg
	if thing.Type != "other_pkg/Thing" || thing.Fields[0].Type != "other_pkg/Leaf" {
		t.Errorf("thing = %+v", thing)
	}
	if thing.Fields[1].Msg != fields["header"].Msg || item.Fields[0].Type != "rosgw_test/Tag" {
		t.Errorf("Header or Tag not resolved as expected: %+v", item)
	}
	if e := fields["nothing"].Msg; e.Type != "rosgw_test/Empty" || len(e.Fields) != 0 {
		t.Errorf("nothing = %+v", e)
	}
	if len(s.Deps) != 7 {
		t.Errorf("Deps has %d types", len(s.Deps))
	}
}

func TestParseHeaderAndWhitespace(t *testing.T) {
	// "Header" is std_msgs/Header even when the package has its own Header.
	text := "Header  h\r\nint32\tx   # comment\r\n\r\n" + definitionSeparator + "\n\nMSG: std_msgs/Header\n" +
		"uint32 seq\ntime stamp\nstring frame_id\n" + definitionSeparator + "\nMSG: my_pkg/Header\nint8 unused\n"
	s, err := ParseDefinition("my_pkg/M", text)
	if err != nil {
		t.Fatal(err)
	}
	if s.Fields[0].Type != "std_msgs/Header" || s.Fields[1].Name != "x" || len(s.Deps) != 1 {
		t.Errorf("spec = %+v", s)
	}
}

func TestParseDefinitionErrors(t *testing.T) {
	dep := func(typ, body string) string { return "\n" + definitionSeparator + "\nMSG: " + typ + "\n" + body }
	for _, c := range []struct{ name, typ, text, want string }{
		{"bad type name", "Twist", "int32 x", `invalid message type name "Twist"`},
		{"bad type name 2", "a/b/c", "int32 x", "invalid message type name"},
		{"type only", "p/M", "int32", `p/M line 1: expected "type name": "int32"`},
		{"three words", "p/M", "int32 a\n int32 x y", `line 2: expected "type name"`},
		{"bad field name", "p/M", "int32 1x", `invalid field name "1x"`},
		{"bad field type", "p/M", "in-t32 x", `invalid field type "in-t32"`},
		{"bad qualified type", "p/M", "a/b/c x", `invalid field type "a/b/c"`},
		{"unclosed array", "p/M", "int32[3 x", "invalid array type"},
		{"negative array", "p/M", "int32[-1] x", "bad length"},
		{"leading zero", "p/M", "int32[03] x", "bad length"},
		{"nested array", "p/M", "int32[][] x", "invalid array type"},
		{"huge array", "p/M", "uint8[99999999] x", "exceeds"},
		{"duplicate field", "p/M", "int32 x\nfloat64 x", "duplicate field x"},
		{"constant time", "p/M", "time T=1", `invalid constant type "time"`},
		{"constant array", "p/M", "int32[] A=1", "invalid constant type"},
		{"constant message", "p/M", "Foo A=1", "invalid constant type"},
		{"constant range", "p/M", "int8 A=200", `invalid int8 constant value "200"`},
		{"constant unsigned", "p/M", "uint8 A=-1", "invalid uint8 constant value"},
		{"constant float", "p/M", "float64 F=abc", "invalid float64 constant value"},
		{"constant bool", "p/M", "bool B=maybe", "invalid bool constant value"},
		{"constant two =", "p/M", "int32 A=1=2", "invalid int32 constant value"},
		{"constant no name", "p/M", "int32 =1", "invalid constant name"},
		{"constant duplicate", "p/M", "int32 A=1\nint32 A=2", "duplicate constant A"},
		{"missing dependency", "p/M", "geometry_msgs/Vector3 v", "p/M line 1: field v: missing dependency geometry_msgs/Vector3"},
		{"missing relative dependency", "p/M", "Foo[] foos", "missing dependency p/Foo"},
		{"missing nested dependency", "p/M", "Foo f" + dep("p/Foo", "Bar b"), "p/Foo line 4: field b: missing dependency p/Bar"},
		{"self recursion", "p/M", "M m", "recursive use of p/M"},
		{"mutual recursion", "p/M", "B b" + dep("p/B", "M m"), "field m: recursive use of p/M"},
		{"bad MSG line", "p/M", "int32 x\n" + definitionSeparator + "\nint32 y", `expected "MSG: pkg/Name"`},
		{"bad MSG type", "p/M", "int32 x" + dep("Foo", ""), `expected "MSG: pkg/Name"`},
		{"trailing separator", "p/M", "int32 x\n" + definitionSeparator + "\n", "separator at end"},
		{"duplicate section", "p/M", "F f" + dep("p/F", "int32 a") + dep("p/F", "int32 a"), "duplicate definition of p/F"},
		{"main as section", "p/M", "int32 a" + dep("p/M", "int32 a"), "duplicate definition of p/M"},
		{"bad dep line", "p/M", "int32 a" + dep("p/Unused", "int32"), "p/Unused line 4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParseDefinition(c.typ, c.text)
			if err == nil {
				t.Fatalf("no error, spec %+v", s)
			}
			if !errors.Is(err, ErrBadDefinition) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not wrap ErrBadDefinition or lacks %q", err, c.want)
			}
		})
	}
}
