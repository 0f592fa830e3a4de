package rosgw

import (
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/goroslib/v2/pkg/msg"
)

// maxGoTypeSize bounds the in-memory size of a generated type (fixed arrays of
// nested messages multiply), so a hostile definition cannot make New allocate
// gigabytes.
const maxGoTypeSize = 64 << 20

// typeCache maps a spec's structural key (see goType) to its reflect.Type.
var typeCache sync.Map

var (
	packageType     = reflect.TypeOf(msg.Package(0))
	nameType        = reflect.TypeOf(msg.Name(0))
	definitionsType = reflect.TypeOf(msg.Definitions(0))
	timeType        = reflect.TypeOf(time.Time{})
	durationType    = reflect.TypeOf(time.Duration(0))
)

// scalarTypes maps builtin ROS types to the Go types goroslib uses for them.
var scalarTypes = map[string]reflect.Type{
	"bool": reflect.TypeOf(false), "int8": reflect.TypeOf(int8(0)),
	"uint8": reflect.TypeOf(uint8(0)), "int16": reflect.TypeOf(int16(0)),
	"uint16": reflect.TypeOf(uint16(0)), "int32": reflect.TypeOf(int32(0)),
	"uint32": reflect.TypeOf(uint32(0)), "int64": reflect.TypeOf(int64(0)),
	"uint64": reflect.TypeOf(uint64(0)), "float32": reflect.TypeOf(float32(0)),
	"float64": reflect.TypeOf(float64(0)), "string": reflect.TypeOf(""),
	"byte": reflect.TypeOf(int8(0)), "char": reflect.TypeOf(uint8(0)),
	"time": timeType, "duration": durationType,
}

// GoType returns a struct type for the message that goroslib accepts:
// msgproc.Type gives s.Type, msgproc.MD5 gives MD5() (see below for the two
// exceptions), and protocommon encodes and decodes it in ROS wire format.
//
// The struct embeds msg.Package and msg.Name markers (tags ros:"pkg" and
// ros:"Name"), then msg.Definitions holding the constants when there are any,
// then one field per ROS field named F0, F1, ... with a rosname tag carrying
// the ROS field name. Builtins map as goroslib's own generated types do: byte
// is int8 and char is uint8 (each tagged rostype), time is time.Time, duration
// is time.Duration, variable arrays are slices, fixed arrays are Go arrays and
// nested messages are nested structs.
//
// goroslib cannot express two things, so for messages that use them (or whose
// dependencies do) msgproc.MD5 differs from MD5(), which is ROS's value: an
// array of byte or char (goroslib writes int8[] / uint8[] in the MD5 text), and
// a constant whose text contains a comma (goroslib splits the Definitions tag
// on commas). Encoding and decoding are unaffected.
//
// Types are cached by structure, so every call for equal specs, even from
// separate ParseDefinition calls, returns the identical reflect.Type.
func (s *MsgSpec) GoType() (reflect.Type, error) {
	if _, err := s.MD5(); err != nil { // validates the whole spec tree
		return nil, err
	}
	t, _, err := s.goType()
	return t, err
}

// New returns a pointer to a new zero value of GoType(), or nil if GoType fails.
func (s *MsgSpec) New() any {
	t, err := s.GoType()
	if err != nil {
		return nil
	}
	return reflect.New(t).Interface()
}

// goType builds (or fetches from the cache) the type of a validated spec. It
// also returns the cache key: the type name, its MD5 and the keys and array
// shapes of the nested types in field order. The MD5 alone is not enough, as
// it ignores the names of nested types (geometry_msgs/Point and Vector3 have
// the same MD5) and whether a message field is an array.
func (s *MsgSpec) goType() (reflect.Type, string, error) {
	sum, err := s.MD5()
	if err != nil {
		return nil, "", err
	}
	fields := markerFields(s)
	key := []string{s.Type, sum}
	size := uintptr(0)
	for i, f := range s.Fields {
		sf, subKey, err := f.structField(i, s)
		if err != nil {
			return nil, "", err
		}
		if size += sf.Type.Size(); size > maxGoTypeSize {
			return nil, "", badDef("%s: Go type would exceed %d bytes", s.Type, maxGoTypeSize)
		}
		fields = append(fields, sf)
		key = append(key, subKey)
	}
	k := strings.Join(key, " ")
	if t, ok := typeCache.Load(k); ok {
		return t.(reflect.Type), k, nil
	}
	t, _ := typeCache.LoadOrStore(k, reflect.StructOf(fields))
	return t.(reflect.Type), k, nil
}

// markerFields returns the embedded goroslib markers for s: package, name and,
// if s has constants, definitions.
func markerFields(s *MsgSpec) []reflect.StructField {
	pkg, name, _ := strings.Cut(s.Type, "/")
	fields := []reflect.StructField{
		{Name: "Package", Type: packageType, Anonymous: true, Tag: rosTag("ros", pkg)},
		{Name: "Name", Type: nameType, Anonymous: true, Tag: rosTag("ros", name)},
	}
	if len(s.Constants) == 0 {
		return fields
	}
	defs := make([]string, len(s.Constants))
	for i, c := range s.Constants {
		defs[i] = c.Type + " " + c.Name + "=" + c.Value
	}
	return append(fields, reflect.StructField{
		Name: "Definitions", Type: definitionsType, Anonymous: true,
		Tag: rosTag("ros", strings.Join(defs, ",")),
	})
}

// structField returns the Go struct field for field i of owner, and the cache
// key of its nested message type ("" for builtins).
func (f FieldSpec) structField(i int, owner *MsgSpec) (reflect.StructField, string, error) {
	elem, key := scalarTypes[f.Type], ""
	if f.Msg != nil {
		var err error
		if elem, key, err = f.Msg.goType(); err != nil {
			return reflect.StructField{}, "", err
		}
		// The MD5 text omits the array suffix of message fields.
		key = "(" + key + ")" + strconv.FormatBool(f.Array) + strconv.Itoa(f.Len)
	}
	t := elem
	switch {
	case f.Array && f.Len < 0:
		t = reflect.SliceOf(elem)
	case f.Array:
		if elem.Size() > 0 && uintptr(f.Len) > maxGoTypeSize/elem.Size() {
			return reflect.StructField{}, "", badDef("%s field %s: Go type would exceed %d bytes",
				owner.Type, f.Name, maxGoTypeSize)
		}
		t = reflect.ArrayOf(f.Len, elem)
	}
	tag := rosTag("rosname", f.Name)
	if f.Type == "byte" || f.Type == "char" {
		tag += " " + rosTag("rostype", f.Type)
	}
	return reflect.StructField{Name: "F" + strconv.Itoa(i), Type: t, Tag: tag}, key, nil
}

// rosTag returns a struct tag `key:"value"` with value quoted as Go requires.
func rosTag(key, value string) reflect.StructTag {
	return reflect.StructTag(key + ":" + strconv.Quote(value))
}
