package rosgw

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// ErrBadValue is wrapped by every error about a value that does not fit its
// message type; the error names the field path, e.g. "pose.position.x" or
// "layout.dim[1].size".
var ErrBadValue = errors.New("rosgw: bad value")

// maxRosSecs is the largest ROS time seconds value (uint32).
const maxRosSecs = math.MaxUint32

var (
	uint32Type = reflect.TypeOf(uint32(0))
	int32Type  = reflect.TypeOf(int32(0))
)

// fieldIndexes caches, per struct type, the field index of each ROS name.
var fieldIndexes sync.Map

// badValue returns an error wrapping ErrBadValue for the field at path.
func badValue(path, format string, args ...any) error {
	if path == "" {
		path = "message"
	}
	return fmt.Errorf("%w: %s: "+format, append([]any{ErrBadValue, path}, args...)...)
}

// ToMap converts a message to a map keyed by ROS field names. v is a pointer
// to a struct built by GoType or to any goroslib-compatible message struct
// (fields named by their rosname tag, else by goroslib's CamelCase to
// snake_case rule). Values become:
//
//   - bool, string: themselves
//   - integers (also byte and char): int64, except uint64, which stays uint64
//   - float32, float64: float64
//   - time: map[string]any{"secs": int64, "nsecs": int64}, secs and nsecs as
//     ROS has them on the wire (uint32 each; the zero time.Time is 0, 0)
//   - duration: map[string]any{"secs": int64, "nsecs": int64}, normalised as
//     ROS does with 0 <= nsecs < 1e9 (-1.5 s is secs -2, nsecs 500000000)
//   - uint8 and char arrays: []byte (a copy)
//   - other arrays: []any (byte[] too: ROS 1's byte is a signed int8)
//   - nested messages: map[string]any
func ToMap(v any) (map[string]any, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil, badValue("", "expected a pointer to a message struct, got %T", v)
	}
	return structToMap(rv, "")
}

// structToMap converts a message struct value.
func structToMap(rv reflect.Value, path string) (map[string]any, error) {
	t := rv.Type()
	out := make(map[string]any, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		if isMarker(sf) {
			continue
		}
		name := rosFieldName(sf)
		fpath := joinPath(path, name)
		if !sf.IsExported() {
			return nil, badValue(fpath, "unexported field %s", sf.Name)
		}
		val, err := valueToAny(rv.Field(i), fpath)
		if err != nil {
			return nil, err
		}
		out[name] = val
	}
	return out, nil
}

// valueToAny converts one field value (see ToMap).
func valueToAny(v reflect.Value, path string) (any, error) {
	switch v.Type() {
	case timeType:
		return timeToMap(v.Interface().(time.Time), path)
	case durationType:
		return durationToMap(time.Duration(v.Int())), nil
	}
	switch v.Kind() {
	case reflect.Bool:
		return v.Bool(), nil
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), nil
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return int64(v.Uint()), nil
	case reflect.Uint64:
		return v.Uint(), nil
	case reflect.Float32, reflect.Float64:
		return v.Float(), nil
	case reflect.String:
		return v.String(), nil
	case reflect.Slice, reflect.Array:
		return arrayToAny(v, path)
	case reflect.Struct:
		return structToMap(v, path)
	}
	return nil, badValue(path, "unsupported Go type %s", v.Type())
}

// arrayToAny converts a slice or array: []byte for uint8 elements, else []any.
func arrayToAny(v reflect.Value, path string) (any, error) {
	if v.Type().Elem().Kind() == reflect.Uint8 {
		b := make([]byte, v.Len())
		reflect.Copy(reflect.ValueOf(b), v)
		return b, nil
	}
	out := make([]any, v.Len())
	for i := range out {
		el, err := valueToAny(v.Index(i), indexPath(path, i))
		if err != nil {
			return nil, err
		}
		out[i] = el
	}
	return out, nil
}

// timeToMap converts a time as goroslib holds it. goroslib decodes the wire
// seconds as int32, so times past 2038 come back negative; uint32 undoes that.
func timeToMap(t time.Time, path string) (map[string]any, error) {
	if t.IsZero() {
		return secsNsecs(0, 0), nil
	}
	secs := t.Unix()
	if secs < math.MinInt32 || secs > maxRosSecs {
		return nil, badValue(path, "time %v is outside the ROS time range", t)
	}
	return secsNsecs(int64(uint32(secs)), int64(t.Nanosecond())), nil
}

// durationToMap converts a duration to ROS's normalised secs and nsecs.
func durationToMap(d time.Duration) map[string]any {
	secs, nsecs := int64(d/time.Second), int64(d%time.Second)
	if nsecs < 0 {
		secs, nsecs = secs-1, nsecs+int64(time.Second)
	}
	return secsNsecs(secs, nsecs)
}

// secsNsecs returns the map form of a time or duration.
func secsNsecs(secs, nsecs int64) map[string]any {
	return map[string]any{"secs": secs, "nsecs": nsecs}
}

// FromMap builds a new message of type spec from a map keyed by ROS field
// names and returns a pointer to it (a *GoType() value). Fields missing from m
// stay zero. Values are accepted as ToMap produces them and more loosely:
//
//   - numbers may be of any Go integer or float kind, or json.Number, as long
//     as the value fits the field exactly: 3.0 is fine for an int32, 3.5 or
//     300 for an int8 is not; float fields take any number in range, rounded
//     to float32 where needed
//   - arrays may be []any or any Go slice or array; uint8 and char arrays
//     also take []byte; nil is an empty variable array; fixed arrays must
//     have exactly their length
//   - times and durations take a map with "secs" and "nsecs" (time: uint32
//     each, duration: int32 each; nsecs over 1e9 carry into secs), or a
//     time.Time / time.Duration
//   - nested messages take a map with string keys
//
// Any other value, an unknown field, or an out of range number is an error
// wrapping ErrBadValue that names the field path.
func FromMap(spec *MsgSpec, m map[string]any) (any, error) {
	if spec == nil {
		return nil, badValue("", "nil message spec")
	}
	t, err := spec.GoType()
	if err != nil {
		return nil, err
	}
	ptr := reflect.New(t)
	if err := fillStruct(ptr.Elem(), m, ""); err != nil {
		return nil, err
	}
	return ptr.Interface(), nil
}

// fillStruct sets the fields of dst from m, in sorted key order so that the
// error reported for a map with several bad fields is deterministic.
func fillStruct(dst reflect.Value, m map[string]any, path string) error {
	idx := fieldIndex(dst.Type())
	for _, name := range slices.Sorted(maps.Keys(m)) {
		fpath := joinPath(path, name)
		i, ok := idx[name]
		if !ok {
			return badValue(fpath, "unknown field")
		}
		if err := setValue(dst.Field(i), m[name], fpath); err != nil {
			return err
		}
	}
	return nil
}

// fieldIndex returns the field index of each ROS field name of struct type t.
func fieldIndex(t reflect.Type) map[string]int {
	if idx, ok := fieldIndexes.Load(t); ok {
		return idx.(map[string]int)
	}
	idx := map[string]int{}
	for i := range t.NumField() {
		if sf := t.Field(i); !isMarker(sf) && sf.IsExported() {
			idx[rosFieldName(sf)] = i
		}
	}
	fieldIndexes.Store(t, idx)
	return idx
}

// setValue stores val into dst (see FromMap for the accepted forms).
func setValue(dst reflect.Value, val any, path string) error {
	switch dst.Type() {
	case timeType:
		return setTime(dst, val, path)
	case durationType:
		return setDuration(dst, val, path)
	}
	switch dst.Kind() {
	case reflect.Bool:
		b, ok := val.(bool)
		if !ok {
			return wrongType(path, "bool", val)
		}
		dst.SetBool(b)
		return nil
	case reflect.String:
		s, ok := val.(string)
		if !ok {
			return wrongType(path, "string", val)
		}
		dst.SetString(s)
		return nil
	case reflect.Slice, reflect.Array:
		return setArray(dst, val, path)
	case reflect.Struct:
		m, ok := asStringMap(val)
		if !ok {
			return wrongType(path, "map", val)
		}
		return fillStruct(dst, m, path)
	}
	return setNumber(dst, val, path)
}

// wrongType returns the error for a value of the wrong Go type.
func wrongType(path, want string, val any) error {
	return badValue(path, "expected %s, got %T", want, val)
}

// number is a numeric value of any Go kind, widened.
type number struct {
	kind byte // 'i' signed, 'u' unsigned, 'f' float
	i    int64
	u    uint64
	f    float64
}

// asNumber widens val if it is a Go integer, float or json.Number.
func asNumber(val any) (number, bool) {
	if n, ok := val.(json.Number); ok {
		return parseJSONNumber(string(n))
	}
	rv := reflect.ValueOf(val)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return number{kind: 'i', i: rv.Int()}, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return number{kind: 'u', u: rv.Uint()}, true
	case reflect.Float32, reflect.Float64:
		return number{kind: 'f', f: rv.Float()}, true
	}
	return number{}, false
}

// parseJSONNumber parses a json.Number as an integer if it is one.
func parseJSONNumber(s string) (number, bool) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return number{kind: 'i', i: i}, true
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return number{kind: 'u', u: u}, true
	}
	f, err := strconv.ParseFloat(s, 64)
	return number{kind: 'f', f: f}, err == nil
}

// setNumber stores a numeric val into an integer or float dst.
func setNumber(dst reflect.Value, val any, path string) error {
	kind := dst.Kind()
	n, ok := asNumber(val)
	if !ok {
		return wrongType(path, kind.String(), val)
	}
	switch kind {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, ok := n.toInt()
		if !ok || dst.OverflowInt(i) {
			return outOfRange(path, kind, val)
		}
		dst.SetInt(i)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, ok := n.toUint()
		if !ok || dst.OverflowUint(u) {
			return outOfRange(path, kind, val)
		}
		dst.SetUint(u)
	case reflect.Float32, reflect.Float64:
		f := n.toFloat()
		if dst.OverflowFloat(f) {
			return outOfRange(path, kind, val)
		}
		dst.SetFloat(f)
	default:
		return badValue(path, "unsupported Go type %s", dst.Type())
	}
	return nil
}

// outOfRange returns the error for a number that does not fit its field.
func outOfRange(path string, kind reflect.Kind, val any) error {
	return badValue(path, "%v (%T) does not fit %s exactly", val, val, kind)
}

// toInt returns n as an int64 if it is an integer in range.
func (n number) toInt() (int64, bool) {
	switch n.kind {
	case 'i':
		return n.i, true
	case 'u':
		return int64(n.u), n.u <= math.MaxInt64
	}
	ok := n.f == math.Trunc(n.f) && n.f >= math.MinInt64 && n.f < math.MaxInt64
	return int64(n.f), ok
}

// toUint returns n as a uint64 if it is a non-negative integer in range.
func (n number) toUint() (uint64, bool) {
	switch n.kind {
	case 'i':
		return uint64(n.i), n.i >= 0
	case 'u':
		return n.u, true
	}
	ok := n.f == math.Trunc(n.f) && n.f >= 0 && n.f < math.MaxUint64
	return uint64(n.f), ok
}

// toFloat returns n as a float64, rounding large integers.
func (n number) toFloat() float64 {
	switch n.kind {
	case 'i':
		return float64(n.i)
	case 'u':
		return float64(n.u)
	}
	return n.f
}

// setArray stores a slice-like val into a slice or array dst.
func setArray(dst reflect.Value, val any, path string) error {
	src := reflect.ValueOf(val)
	switch {
	case val == nil:
		src = reflect.ValueOf([]any{})
	case src.Kind() != reflect.Slice && src.Kind() != reflect.Array:
		return wrongType(path, "array", val)
	}
	n := src.Len()
	if dst.Kind() == reflect.Array && n != dst.Len() {
		return badValue(path, "expected %d elements, got %d", dst.Len(), n)
	}
	if dst.Kind() == reflect.Slice {
		dst.Set(reflect.MakeSlice(dst.Type(), n, n))
	}
	if b, ok := val.([]byte); ok && dst.Type().Elem().Kind() == reflect.Uint8 {
		reflect.Copy(dst, reflect.ValueOf(b))
		return nil
	}
	for i := range n {
		if err := setValue(dst.Index(i), src.Index(i).Interface(), indexPath(path, i)); err != nil {
			return err
		}
	}
	return nil
}

// setTime stores a ROS time given as a secs/nsecs map or a time.Time.
func setTime(dst reflect.Value, val any, path string) error {
	t, ok := val.(time.Time)
	if !ok {
		secs, nsecs, err := secsNsecsFrom(val, uint32Type, path)
		if err != nil {
			return err
		}
		t = time.Unix(0, secs*int64(time.Second)+nsecs).UTC()
	}
	if s := t.Unix(); !t.IsZero() && (s < 0 || s > maxRosSecs) {
		return badValue(path, "time %v is outside the ROS time range", t)
	}
	if t.Equal(time.Unix(0, 0)) {
		t = time.Time{} // as goroslib decodes 0, 0
	}
	dst.Set(reflect.ValueOf(t))
	return nil
}

// setDuration stores a ROS duration given as a secs/nsecs map or a time.Duration.
func setDuration(dst reflect.Value, val any, path string) error {
	d, ok := val.(time.Duration)
	if !ok {
		secs, nsecs, err := secsNsecsFrom(val, int32Type, path)
		if err != nil {
			return err
		}
		d = time.Duration(secs)*time.Second + time.Duration(nsecs)
	}
	// goroslib writes d/1s (truncated) as the int32 seconds.
	if s := int64(d / time.Second); s < math.MinInt32 || s > math.MaxInt32 {
		return badValue(path, "duration %v is outside the ROS duration range", d)
	}
	dst.SetInt(int64(d))
	return nil
}

// secsNsecsFrom reads a {"secs", "nsecs"} map, each value checked against the
// integer type part (uint32 for time, int32 for duration).
func secsNsecsFrom(val any, part reflect.Type, path string) (int64, int64, error) {
	m, ok := asStringMap(val)
	if !ok {
		return 0, 0, wrongType(path, `map with "secs" and "nsecs"`, val)
	}
	var out [2]int64
	for i, key := range []string{"secs", "nsecs"} {
		v := reflect.New(part).Elem()
		if x, ok := m[key]; ok {
			if err := setNumber(v, x, path+"."+key); err != nil {
				return 0, 0, err
			}
		}
		if v.CanInt() {
			out[i] = v.Int()
		} else {
			out[i] = int64(v.Uint())
		}
	}
	for k := range m {
		if k != "secs" && k != "nsecs" {
			return 0, 0, badValue(path+"."+k, "unknown field")
		}
	}
	return out[0], out[1], nil
}

// asStringMap returns val as a map[string]any if it is a map with string keys.
func asStringMap(val any) (map[string]any, bool) {
	if m, ok := val.(map[string]any); ok {
		return m, true
	}
	rv := reflect.ValueOf(val)
	if rv.Kind() != reflect.Map {
		return nil, false
	}
	out := make(map[string]any, rv.Len())
	for it := rv.MapRange(); it.Next(); {
		k := it.Key()
		if k.Kind() == reflect.Interface {
			k = k.Elem()
		}
		if k.Kind() != reflect.String {
			return nil, false
		}
		out[k.String()] = it.Value().Interface()
	}
	return out, true
}

// isMarker reports whether sf is one of goroslib's embedded marker fields.
func isMarker(sf reflect.StructField) bool {
	return sf.Anonymous && (sf.Type == packageType || sf.Type == nameType || sf.Type == definitionsType)
}

// rosFieldName returns the ROS name of a struct field as goroslib derives it:
// the rosname tag, else the Go name converted from CamelCase to snake_case.
func rosFieldName(sf reflect.StructField) string {
	if name := sf.Tag.Get("rosname"); name != "" {
		return name
	}
	var b strings.Builder
	for i, r := range sf.Name {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// joinPath appends a field name to a field path.
func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// indexPath appends an array index to a field path.
func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}
