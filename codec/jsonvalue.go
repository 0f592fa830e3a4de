package codec

import (
	"encoding/json"
	"fmt"
)

// JSONNumbers turns the json.Numbers of a value decoded with UseNumber into
// int64 where they are integers, float64 otherwise, so typed handlers
// receive integers. Maps and slices are changed in place.
func JSONNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = JSONNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = JSONNumbers(e)
		}
	}
	return v
}

// JSONable converts decoded values (maps with non-string keys included)
// into values encoding/json accepts. Maps and slices are changed in place.
func JSONable(v any) any {
	switch t := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = JSONable(e)
		}
		return m
	case map[string]any:
		for k, e := range t {
			t[k] = JSONable(e)
		}
	case []any:
		for i, e := range t {
			t[i] = JSONable(e)
		}
	}
	return v
}
