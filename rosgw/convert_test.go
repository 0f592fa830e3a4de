package rosgw

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2/pkg/msgproc"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/rosgraph_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/protocommon"
)

// encode serializes a message with goroslib, without the length prefix.
func encode(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := protocommon.MessageEncode(&buf, v); err != nil {
		t.Fatalf("MessageEncode: %v", err)
	}
	return buf.Bytes()[4:]
}

// decode deserializes b (without length prefix) into dst with goroslib.
func decode(t *testing.T, b []byte, dst any) {
	t.Helper()
	framed := append([]byte{byte(len(b)), byte(len(b) >> 8), byte(len(b) >> 16), byte(len(b) >> 24)}, b...)
	if err := protocommon.MessageDecode(bytes.NewReader(framed), dst); err != nil {
		t.Fatalf("MessageDecode: %v", err)
	}
}

// tm is the map form of a time or duration.
func tm(secs, nsecs int64) map[string]any { return map[string]any{"secs": secs, "nsecs": nsecs} }

// header is the map form of a std_msgs/Header.
func header(seq, secs, nsecs int64, frame string) map[string]any {
	return map[string]any{"seq": seq, "stamp": tm(secs, nsecs), "frame_id": frame}
}

// vec is the map form of a Vector3, Point or Quaternion (with w).
func vec(xyzw ...float64) map[string]any {
	m := map[string]any{}
	for i, v := range xyzw {
		m[string("xyzw"[i])] = v
	}
	return m
}

func twistValues() map[string]any {
	return map[string]any{"linear": vec(1, -2.5, 3e10), "angular": vec(0, 0, -0.125)}
}

// poseStampedValues mirrors testdata/geometry_msgs__PoseStamped.wire.
func poseStampedValues() map[string]any {
	return map[string]any{
		"header": header(42, 1600000000, 1, "odom"),
		"pose":   map[string]any{"position": vec(1.25, 0, 0), "orientation": vec(0, 0, 0, 1)},
	}
}

func float64MultiArrayValues() map[string]any {
	dim := func(label string, size, stride int64) map[string]any {
		return map[string]any{"label": label, "size": size, "stride": stride}
	}
	return map[string]any{
		"layout": map[string]any{"dim": []any{dim("rows", 2, 6), dim("cols", 3, 3)}, "data_offset": int64(1)},
		"data":   []any{0.0, 1.5, -2.0, math.Inf(1), 4.0, 5.0, 6.0},
	}
}

// kitchenValues mirrors testdata/custom__Kitchen.wire.
func kitchenValues() map[string]any {
	item := func(n int64, v float64) map[string]any {
		return map[string]any{
			"tag": map[string]any{"name": fmt.Sprintf("tag%d", n)},
			"thing": map[string]any{
				"leaves": []any{map[string]any{"kind": n}, map[string]any{"kind": n + 1}},
				"header": header(n, n, 5, fmt.Sprintf("f%d", n)),
			},
			"value": v,
		}
	}
	return map[string]any{
		"header": header(7, 1700000000, 123456789, "map"),
		"b":      int64(-5), "c": int64(250),
		"bytes": []any{int64(-1), int64(0), int64(127), int64(-128)}, "chars": []byte{1, 2, 0xfe, 0xff},
		"data": []byte{0, 0x10, 0x20}, "fixed_data": []byte("abc"), "small": []any{int64(-1), int64(2), int64(-3)},
		"stamps": []any{tm(1, 2), tm(4000000000, 999999999)}, "spans": []any{tm(-3, 0), tm(3, 4)},
		"t": tm(0, 0), "d": tm(-1, 0),
		"items": []any{item(1, 1.5), item(2, -2.25), item(3, 0)}, "pair": []any{item(4, 4), item(5, 5)},
		"p": vec(1, -2, 3.5), "names": []any{"a", "", "héllo"}, "two_names": []any{"x", "y"},
		"big": uint64(math.MaxUint64), "neg": int64(math.MinInt64), "f": 0.5,
		"doubles": []any{1e300, math.Copysign(0, -1), 3.25}, "ok": true, "oks": []any{true, false, true},
		"u16": int64(65535), "i16": int64(-32768), "u32": int64(4294967295), "i32": int64(-2147483648),
		"nothing": map[string]any{},
	}
}

// roundTrip converts m to a message, encodes and decodes it, and returns the
// encoding and the decoded message's map.
func roundTrip(t *testing.T, spec *MsgSpec, m map[string]any) ([]byte, map[string]any) {
	t.Helper()
	v, err := FromMap(spec, m)
	if err != nil {
		t.Fatalf("FromMap: %v", err)
	}
	b := encode(t, v)
	fresh := spec.New()
	decode(t, b, fresh)
	back, err := ToMap(fresh)
	if err != nil {
		t.Fatalf("ToMap: %v", err)
	}
	return b, back
}

func TestRoundTrip(t *testing.T) {
	for typ, values := range map[string]map[string]any{
		"geometry_msgs/Twist":        twistValues(),
		"geometry_msgs/PoseStamped":  poseStampedValues(),
		"std_msgs/Float64MultiArray": float64MultiArrayValues(),
		"rosgw_test/Kitchen":         kitchenValues(),
	} {
		t.Run(typ, func(t *testing.T) {
			_, back := roundTrip(t, mustParse(t, typ), values)
			if !reflect.DeepEqual(back, values) {
				t.Errorf("round trip:\n got %#v\nwant %#v", back, values)
			}
		})
	}
}

// TestWireMatchesGenpy checks encoding and decoding against bytes that ROS's
// own Python serializer produced.
func TestWireMatchesGenpy(t *testing.T) {
	for name, c := range map[string]struct {
		typ    string
		values map[string]any
	}{
		"custom__Kitchen":            {"rosgw_test/Kitchen", kitchenValues()},
		"geometry_msgs__PoseStamped": {"geometry_msgs/PoseStamped", poseStampedValues()},
	} {
		t.Run(c.typ, func(t *testing.T) {
			raw, err := os.ReadFile("testdata/" + name + ".wire")
			if err != nil {
				t.Fatal(err)
			}
			want, err := hex.DecodeString(strings.TrimSpace(string(raw)))
			if err != nil {
				t.Fatal(err)
			}
			spec := mustParse(t, c.typ)
			got, back := roundTrip(t, spec, c.values)
			if !bytes.Equal(got, want) {
				t.Errorf("encoding differs from genpy:\n got %x\nwant %x", got, want)
			}
			fresh := spec.New()
			decode(t, want, fresh)
			if m, err := ToMap(fresh); err != nil || !reflect.DeepEqual(m, c.values) || !reflect.DeepEqual(back, m) {
				t.Errorf("decoding genpy's bytes: %v\n got %#v\nwant %#v", err, m, c.values)
			}
		})
	}
}

// TestCompiledTypes checks the dynamic types against goroslib's generated
// ones: same MD5, and identical bytes in both directions.
func TestCompiledTypes(t *testing.T) {
	stamp := time.Unix(1700000000, 42).UTC()
	for typ, compiled := range map[string]any{
		"geometry_msgs/Twist": &geometry_msgs.Twist{
			Linear: geometry_msgs.Vector3{X: 1, Y: -2.5, Z: 3e10}, Angular: geometry_msgs.Vector3{Z: -0.125},
		},
		"geometry_msgs/PoseStamped": &geometry_msgs.PoseStamped{
			Header: std_msgs.Header{Seq: 3, Stamp: stamp, FrameId: "map"},
			Pose:   geometry_msgs.Pose{Position: geometry_msgs.Point{X: 1}, Orientation: geometry_msgs.Quaternion{W: 1}},
		},
		"std_msgs/Float64MultiArray": &std_msgs.Float64MultiArray{
			Layout: std_msgs.MultiArrayLayout{Dim: []std_msgs.MultiArrayDimension{{Label: "x", Size: 2, Stride: 2}}},
			Data:   []float64{1, 2},
		},
		"rosgraph_msgs/Log": &rosgraph_msgs.Log{
			Header: std_msgs.Header{Stamp: stamp}, Level: rosgraph_msgs.Log_WARN, Name: "/n",
			Msg: "hi", Line: 9, Topics: []string{"/a", "/b"},
		},
	} {
		t.Run(typ, func(t *testing.T) { checkCompiled(t, mustParse(t, typ), compiled) })
	}
}

// checkCompiled compares a spec's dynamic type with a goroslib compiled value.
func checkCompiled(t *testing.T, spec *MsgSpec, compiled any) {
	compiledMD5, _ := msgproc.MD5(reflect.ValueOf(compiled).Elem().Interface())
	if sum, _ := spec.MD5(); sum != compiledMD5 {
		t.Errorf("MD5 %s, goroslib's type %s", sum, compiledMD5)
	}
	want := encode(t, compiled)
	dyn := spec.New()
	decode(t, want, dyn)
	if got := encode(t, dyn); !bytes.Equal(got, want) {
		t.Errorf("dynamic re-encoding differs:\n got %x\nwant %x", got, want)
	}
	m, err := ToMap(dyn)
	if err != nil {
		t.Fatal(err)
	}
	if cm, err := ToMap(compiled); err != nil || !reflect.DeepEqual(cm, m) {
		t.Errorf("ToMap(compiled) = %v, %v; dynamic %v", cm, err, m)
	}
	fromMap, err := FromMap(spec, m)
	if err != nil {
		t.Fatal(err)
	}
	back := reflect.New(reflect.TypeOf(compiled).Elem()).Interface()
	decode(t, encode(t, fromMap), back)
	if !reflect.DeepEqual(back, compiled) {
		t.Errorf("compiled value after dynamic trip = %+v, want %+v", back, compiled)
	}
}

func TestToMapCompiledTwist(t *testing.T) {
	m, err := ToMap(&geometry_msgs.Twist{Linear: geometry_msgs.Vector3{X: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"linear": vec(1, 0, 0), "angular": vec(0, 0, 0)}; !reflect.DeepEqual(m, want) {
		t.Errorf("ToMap = %v", m)
	}
	h, err := ToMap(std_msgs.Header{FrameId: "f"}) // a struct value works too
	if err != nil || h["frame_id"] != "f" || !reflect.DeepEqual(h["stamp"], tm(0, 0)) {
		t.Errorf("ToMap(Header) = %v, %v", h, err)
	}
}

func TestFromMapLooseNumbers(t *testing.T) {
	spec := mustParse(t, "rosgw_test/Kitchen")
	for _, c := range []struct {
		field string
		in    any
		want  any
	}{
		{"i32", 7, int64(7)},
		{"i32", int8(-7), int64(-7)},
		{"i32", uint16(7), int64(7)},
		{"i32", 7.0, int64(7)},
		{"i32", float32(-2), int64(-2)},
		{"i32", json.Number("12"), int64(12)},
		{"i32", json.Number("12.0"), int64(12)},
		{"b", -128.0, int64(-128)},
		{"c", 255, int64(255)},
		{"big", float64(1 << 63), uint64(1 << 63)},
		{"big", json.Number("18446744073709551615"), uint64(math.MaxUint64)},
		{"neg", float64(math.MinInt64), int64(math.MinInt64)},
		{"f", 3, 3.0},
		{"f", 0.1, float64(float32(0.1))},
		{"doubles", []float64{1, 2}, []any{1.0, 2.0}},
		{"small", [3]int{1, 2, 3}, []any{int64(1), int64(2), int64(3)}},
		{"data", []any{1, 2.0, uint8(3)}, []byte{1, 2, 3}},
		{"chars", []any{1, 2, 3, 4}, []byte{1, 2, 3, 4}},
		{"data", nil, []byte{}},
		{"oks", nil, []any{}},
		{"p", map[any]any{"x": 1}, vec(1, 0, 0)},
		{"p", map[string]float64{"y": 2}, vec(0, 2, 0)},
		{"t", time.Unix(5, 6), tm(5, 6)},
		{"t", tm(1, 2_500_000_000), tm(3, 500_000_000)},
		{"d", time.Duration(-1500 * time.Millisecond), tm(-2, 500_000_000)},
		{"d", map[string]any{"nsecs": -1}, tm(-1, 999_999_999)},
		{"stamps", []any{map[string]any{"secs": uint32(4294967295)}}, []any{tm(4294967295, 0)}},
	} {
		t.Run(fmt.Sprintf("%s=%v", c.field, c.in), func(t *testing.T) {
			_, back := roundTrip(t, spec, map[string]any{c.field: c.in})
			if !reflect.DeepEqual(back[c.field], c.want) {
				t.Errorf("%s = %#v, want %#v", c.field, back[c.field], c.want)
			}
		})
	}
}

func TestFromMapErrors(t *testing.T) {
	for _, c := range []struct {
		typ, want string
		m         map[string]any
	}{
		{"geometry_msgs/Twist", "linear.w: unknown field", map[string]any{"linear": map[string]any{"w": 1.0}}},
		{"geometry_msgs/Twist", "speed: unknown field", map[string]any{"speed": 1.0}},
		{"geometry_msgs/Twist", "linear.x: expected float64, got string", map[string]any{"linear": map[string]any{"x": "1"}}},
		{"geometry_msgs/Twist", "angular.z: expected float64, got bool", map[string]any{"angular": map[string]any{"z": true}}},
		{"geometry_msgs/Twist", "linear: expected map, got []interface {}", map[string]any{"linear": []any{1.0}}},
		{"geometry_msgs/Twist", "linear: expected map, got map[int]int", map[string]any{"linear": map[int]int{1: 1}}},
		{"geometry_msgs/TwistWithCovariance", "covariance: expected 36 elements, got 35", map[string]any{"covariance": make([]float64, 35)}},
		{"geometry_msgs/TwistWithCovariance", "covariance: expected array, got float64", map[string]any{"covariance": 1.0}},
		{"std_msgs/Float64MultiArray", "layout.dim[1].size: -1 (int) does not fit uint32", map[string]any{"layout": map[string]any{
			"dim": []any{map[string]any{}, map[string]any{"size": -1}}}}},
		{"std_msgs/Float64MultiArray", "data[2]: expected float64, got <nil>", map[string]any{"data": []any{1.0, 2.0, nil}}},
		{"std_msgs/Byte", "data: 128 (int) does not fit int8", map[string]any{"data": 128}},
		{"std_msgs/Char", "data: 1.5 (float64) does not fit uint8", map[string]any{"data": 1.5}},
		{"std_msgs/Int32", "data: 2.147483648e+09 (float64) does not fit int32", map[string]any{"data": 2147483648.0}},
		{"std_msgs/Int64", "data: 9223372036854775808 (uint64) does not fit int64", map[string]any{"data": uint64(1 << 63)}},
		{"std_msgs/UInt64", "data: -1 (int64) does not fit uint64", map[string]any{"data": int64(-1)}},
		{"std_msgs/UInt64", "data: NaN (float64) does not fit uint64", map[string]any{"data": math.NaN()}},
		{"std_msgs/Float32", "data: 1e+300 (float64) does not fit float32", map[string]any{"data": 1e300}},
		{"std_msgs/Float32", "data: expected float32, got json.Number", map[string]any{"data": json.Number("x")}},
		{"std_msgs/Bool", "data: expected bool, got int", map[string]any{"data": 1}},
		{"std_msgs/String", "data: expected string, got []uint8", map[string]any{"data": []byte("x")}},
		{"std_msgs/UInt8MultiArray", "data[0]: 256 (int) does not fit uint8", map[string]any{"data": []any{256}}},
		{"std_msgs/Time", "data.secs: -1 (int) does not fit uint32", map[string]any{"data": map[string]any{"secs": -1}}},
		{"std_msgs/Time", "data.sec: unknown field", map[string]any{"data": map[string]any{"sec": 1}}},
		{"std_msgs/Time", "data: expected map with \"secs\" and \"nsecs\", got int", map[string]any{"data": 5}},
		{"std_msgs/Time", "data: time", map[string]any{"data": map[string]any{"secs": uint32(math.MaxUint32), "nsecs": 1e9}}},
		{"std_msgs/Time", "data: time", map[string]any{"data": time.Unix(-5, 0)}},
		{"std_msgs/Duration", "data.nsecs: 3e+09 (float64) does not fit int32", map[string]any{"data": map[string]any{"nsecs": 3e9}}},
		{"std_msgs/Duration", "data: duration", map[string]any{"data": 100 * 365 * 24 * time.Hour}},
	} {
		t.Run(c.want, func(t *testing.T) {
			v, err := FromMap(mustParse(t, c.typ), c.m)
			if err == nil || !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("FromMap = %v, %v; want error with %q", v, err, c.want)
			}
		})
	}
	if _, err := FromMap(nil, nil); !errors.Is(err, ErrBadValue) {
		t.Errorf("FromMap(nil) error %v", err)
	}
	bad := &MsgSpec{Type: "p/M", Fields: []FieldSpec{{Name: "v", Type: "p/V"}}}
	if _, err := FromMap(bad, nil); !errors.Is(err, ErrBadDefinition) {
		t.Errorf("FromMap(bad spec) error %v", err)
	}
}

func TestToMapErrors(t *testing.T) {
	var nilTwist *geometry_msgs.Twist
	for _, c := range []struct {
		v    any
		want string
	}{
		{5, "message: expected a pointer to a message struct, got int"},
		{nilTwist, "got *geometry_msgs.Twist"},
		{&struct{ A int }{}, "a: unsupported Go type int"},
		{&struct{ B []map[string]int }{B: []map[string]int{nil}}, "b[0]: unsupported Go type map[string]int"},
		{&struct{ x int32 }{}, "x: unexported field x"},
		{&struct{ T time.Time }{T: time.Unix(-1<<32, 0)}, "t: time"},
	} {
		m, err := ToMap(c.v)
		if err == nil || !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ToMap(%T) = %v, %v; want error with %q", c.v, m, err, c.want)
		}
	}
}

// TestTimeWire checks times and durations against ROS's wire format.
func TestTimeWire(t *testing.T) {
	spec := mustParse(t, "std_msgs/Time")
	// Seconds past 2^31: goroslib decodes them as negative int32, ToMap undoes it.
	wire := []byte{0x00, 0x28, 0x6b, 0xee, 0xff, 0xc9, 0x9a, 0x3b} // 4000000000 s, 999999999 ns
	dyn := spec.New()
	decode(t, wire, dyn)
	m, _ := ToMap(dyn)
	if !reflect.DeepEqual(m["data"], tm(4000000000, 999999999)) {
		t.Errorf("decoded %v", m)
	}
	// Re-encoding goroslib's decoded value garbles it (its encoder truncates
	// the negative UnixNano); the map path builds a positive time and is right.
	if b := encode(t, dyn); bytes.Equal(b, wire) {
		t.Errorf("goroslib now re-encodes post-2038 times correctly: simplify")
	}
	v, err := FromMap(spec, m)
	if b := encode(t, v); err != nil || !bytes.Equal(b, wire) {
		t.Errorf("FromMap(ToMap) encoded %x, %v", b, err)
	}
	// ROS normalises -1.5 s as (-2, 500000000); goroslib decodes that right but
	// encodes (-1, -500000000), which is the same duration.
	dspec := mustParse(t, "std_msgs/Duration")
	rosWire := []byte{0xfe, 0xff, 0xff, 0xff, 0x00, 0x65, 0xcd, 0x1d}
	d := dspec.New()
	decode(t, rosWire, d)
	if m, _ := ToMap(d); !reflect.DeepEqual(m["data"], tm(-2, 500000000)) {
		t.Errorf("decoded %v", m)
	}
	if b := encode(t, d); !bytes.Equal(b, []byte{0xff, 0xff, 0xff, 0xff, 0x00, 0x9b, 0x32, 0xe2}) {
		t.Errorf("goroslib encoding of -1.5 s changed: %x", b)
	}
}
