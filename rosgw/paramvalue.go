package rosgw

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
	"reflect"
	"strings"
	"time"
)

// paramValue brings a value decoded from the shared state to the types the
// parameter server holds and gives back: see params.
func paramValue(v any) (any, error) {
	return paramValueAt(v, false, 0)
}

func paramValueAt(v any, inList bool, depth int) (any, error) {
	if depth > maxXMLRPCDepth {
		return nil, fmt.Errorf("rosgw: parameter nested deeper than %d", maxXMLRPCDepth)
	}
	switch t := v.(type) {
	case nil:
		return nil, errors.New("rosgw: null is no ROS parameter value")
	case bool, string, float64, []byte:
		return t, nil
	case float32:
		return float64(t), nil
	case int, int8, int16, int32, int64:
		return paramInt(reflect.ValueOf(t).Int()), nil
	case uint, uint8, uint16, uint32, uint64, uintptr:
		n := reflect.ValueOf(t).Uint()
		if n > math.MaxInt64 {
			return float64(n), nil
		}
		return paramInt(int64(n)), nil
	case time.Time:
		return t.UTC().Format(time.RFC3339Nano), nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			var err error
			if out[i], err = paramValueAt(e, true, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		return paramDict(maps.All(t), len(t), inList, depth)
	case map[any]any:
		return paramDict(maps.All(t), len(t), inList, depth)
	}
	return nil, fmt.Errorf("rosgw: a value of type %T is no ROS parameter value", v)
}

// paramInt keeps an integer of 32 bits, the XML-RPC integers, and makes a
// larger one a double.
func paramInt(n int64) any {
	if n != int64(int32(n)) {
		return float64(n)
	}
	return int(n)
}

// paramDict converts a map. Outside lists its keys are names in the ROS
// parameter tree: not empty, no '/'.
func paramDict[K comparable](all iter.Seq2[K, any], n int, inList bool, depth int) (any, error) {
	out := make(map[string]any, n)
	for k, e := range all {
		s, ok := any(k).(string)
		if !ok {
			return nil, fmt.Errorf("rosgw: a dictionary key of type %T", k)
		}
		if !inList && (s == "" || strings.Contains(s, "/")) {
			return nil, fmt.Errorf("rosgw: dictionary key %q is no ROS name", s)
		}
		var err error
		if out[s], err = paramValueAt(e, inList, depth+1); err != nil {
			return nil, err
		}
	}
	return out, nil
}
