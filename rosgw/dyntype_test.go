package rosgw

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/bluenviron/goroslib/v2/pkg/msgproc"
)

func TestGoTypeIdentical(t *testing.T) {
	a, err := mustParse(t, "geometry_msgs/PoseStamped").GoType()
	if err != nil {
		t.Fatal(err)
	}
	spec := mustParse(t, "geometry_msgs/PoseStamped")
	var wg sync.WaitGroup
	types := make([]reflect.Type, 8)
	for i := range types {
		wg.Go(func() { types[i], _ = spec.GoType() })
	}
	wg.Wait()
	for i, b := range types {
		if a != b {
			t.Errorf("call %d returned %v, first call %v", i, b, a)
		}
	}
	if got := reflect.TypeOf(spec.New()); got != reflect.PointerTo(a) {
		t.Errorf("New() is %v", got)
	}
}

func TestGoTypeDistinguishesSameMD5(t *testing.T) {
	point, vec := mustParse(t, "geometry_msgs/Point"), mustParse(t, "geometry_msgs/Vector3")
	pt, _ := point.GoType()
	vt, _ := vec.GoType()
	if pt == vt {
		t.Fatal("Point and Vector3 share a Go type")
	}
	if name, _ := msgproc.Type(reflect.New(vt).Elem().Interface()); name != "geometry_msgs/Vector3" {
		t.Errorf("msgproc.Type = %s", name)
	}
	// A message field and an array of it have the same MD5 text, not the same type.
	one := &MsgSpec{Type: "p/M", Fields: []FieldSpec{{Name: "v", Type: vec.Type, Msg: vec}}}
	many := &MsgSpec{Type: "p/M", Fields: []FieldSpec{{Name: "v", Type: vec.Type, Msg: vec, Array: true, Len: -1}}}
	ot, err1 := one.GoType()
	mt, err2 := many.GoType()
	if err1 != nil || err2 != nil || ot == mt || mt.Field(2).Type.Kind() != reflect.Slice {
		t.Errorf("one %v (%v), many %v (%v)", ot, err1, mt, err2)
	}
}

func TestGoTypeLayout(t *testing.T) {
	gt, err := mustParse(t, "rosgw_test/Kitchen").GoType()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name, typ, tag string
		anon           bool
	}{
		{"Package", "msg.Package", `ros:"rosgw_test"`, true},
		{"Name", "msg.Name", `ros:"Kitchen"`, true},
		{"Definitions", "msg.Definitions", `ros:"int32 A=1,uint8 B=255,string S=hello world # not a comment,` +
			`string EMPTY=,string Q=\"quoted\" \\back` + "`" + `tick,float64 PI=3.14159,bool FLAG=True,byte BB=-3,` +
			`char CC=200,int64 MIN=-9223372036854775808,uint64 MAX=18446744073709551615"`, true},
		{"F0", "struct", `rosname:"header"`, false},
		{"F1", "int8", `rosname:"b" rostype:"byte"`, false},
		{"F2", "uint8", `rosname:"c" rostype:"char"`, false},
		{"F3", "[]int8", `rosname:"bytes" rostype:"byte"`, false},
		{"F4", "[4]uint8", `rosname:"chars" rostype:"char"`, false},
		{"F5", "[]uint8", `rosname:"data"`, false},
		{"F8", "[]time.Time", `rosname:"stamps"`, false},
		{"F9", "[2]time.Duration", `rosname:"spans"`, false},
		{"F12", "[]struct", `rosname:"items"`, false},
		{"F13", "[2]struct", `rosname:"pair"`, false},
	}
	for _, w := range want {
		f, ok := gt.FieldByName(w.name)
		typ := f.Type.String()
		if i := strings.Index(typ, "struct"); i >= 0 {
			typ = typ[:i+len("struct")]
		}
		if !ok || typ != w.typ || string(f.Tag) != w.tag || f.Anonymous != w.anon {
			t.Errorf("field %s = %s %s %q anon %v; want %+v", w.name, f.Name, typ, f.Tag, f.Anonymous, w)
		}
	}
	if gt.NumField() != 3+28 {
		t.Errorf("%d fields", gt.NumField())
	}
	if gt.Field(3).Type.Field(3).Type != timeType {
		t.Errorf("header.stamp is %v", gt.Field(3).Type.Field(3).Type)
	}
}

func TestGoTypeHandBuiltErrors(t *testing.T) {
	loop := &MsgSpec{Type: "p/Loop"}
	loop.Fields = []FieldSpec{{Name: "self", Type: "p/Loop", Msg: loop}}
	big := &MsgSpec{Type: "p/Big", Fields: []FieldSpec{{Name: "d", Type: "float64", Array: true, Len: 1 << 20}}}
	for _, c := range []struct {
		name string
		spec *MsgSpec
		want string
	}{
		{"unresolved", &MsgSpec{Type: "p/M", Fields: []FieldSpec{{Name: "v", Type: "p/V"}}}, `message type "p/V" has no spec`},
		{"mismatch", &MsgSpec{Type: "p/M", Fields: []FieldSpec{{Name: "v", Type: "p/V", Msg: big}}}, `type "p/V" but spec of "p/Big"`},
		{"bad len", &MsgSpec{Type: "p/M", Fields: []FieldSpec{{Name: "v", Type: "int8", Len: 3}}}, "bad array length 3"},
		{"recursive", loop, "recursive message type"},
		{"bad type name", &MsgSpec{Type: "M"}, `invalid message type name "M"`},
		{"bad field name", &MsgSpec{Type: "p/M", Fields: []FieldSpec{{Name: "a b", Type: "int8"}}}, `invalid field name "a b"`},
		{"too big", &MsgSpec{Type: "p/M", Fields: []FieldSpec{{Name: "b", Type: "p/Big", Msg: big, Array: true, Len: 100}}}, "Go type would exceed"},
		{"too big struct", &MsgSpec{Type: "p/M", Fields: []FieldSpec{
			{Name: "a", Type: "p/Big", Msg: big, Array: true, Len: 5}, {Name: "b", Type: "p/Big", Msg: big, Array: true, Len: 5},
		}}, "p/M: Go type would exceed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			gt, err := c.spec.GoType()
			if err == nil || !errors.Is(err, ErrBadDefinition) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("GoType() = %v, %v; want error with %q", gt, err, c.want)
			}
			if v := c.spec.New(); v != nil {
				t.Errorf("New() = %T", v)
			}
		})
	}
	if _, err := big.GoType(); err != nil {
		t.Errorf("8 MiB type: %v", err)
	}
}
