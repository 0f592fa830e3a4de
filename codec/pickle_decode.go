package codec

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"reflect"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// Unmarshal decodes a pickle of protocol 0 to 5 into v; see PickleCodec for
// the values it yields. Errors about the input match ErrMalformed, and also
// ErrPickleGlobal for a global off the allow-list or ErrTooDeep for
// nesting deeper than 64 levels.
func (p *PickleCodec) Unmarshal(data []byte, v any) error {
	if err := checkTarget(v); err != nil {
		return err
	}
	raw, err := p.load(data)
	if err != nil {
		return err
	}
	return fillTarget(raw, v, pickleTreeBase+pickleTreeFactor*len(data))
}

// load scans data and runs gopickle on the result.
func (p *PickleCodec) load(data []byte) (v any, err error) {
	stream, err := p.scanPickle(data)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, malformed("gopickle panicked: %s", clipMessage(fmt.Sprint(r)))
		}
	}()
	u := pickle.NewUnpickler(bytes.NewReader(stream))
	u.FindClass = p.findClass
	v, err = u.Load()
	if err != nil {
		var pe *pickleError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, malformed("%s", clipMessage(err.Error()))
	}
	return v, nil
}

// clipMessage bounds an error message from gopickle, which may print a
// whole decoded value in one.
func clipMessage(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// fillTarget stores the decoded value raw in target. Targets that can hold
// the plain values get them; others are filled by the msgpack decoder from
// the msgpack form of the values.
func fillTarget(raw any, target any, budget int) error {
	c := pickleConverter{budget: budget}
	switch t := target.(type) {
	case *any:
		if reflect.ValueOf(*t).Kind() == reflect.Pointer {
			break // Decode into what *t points at, as the other codecs do.
		}
		v, err := c.convert(raw, 0)
		if err == nil {
			*t = v
		}
		return err
	case *map[string]any:
		return fillPlain(&c, raw, t)
	case *[]any:
		return fillPlain(&c, raw, t)
	case *PickleObject:
		return fillPlain(&c, raw, t)
	}
	c.msgpack = true
	v, err := c.convert(raw, 0)
	if err != nil {
		return err
	}
	if err := decodeViaMsgpack(v, target); err != nil {
		return malformed("cannot decode into %T: %v", target, err)
	}
	return nil
}

// fillPlain stores the plain value of raw in *p, which must be of its
// type. None leaves the zero value.
func fillPlain[T any](c *pickleConverter, raw any, p *T) error {
	v, err := c.convert(raw, 0)
	if err != nil {
		return err
	}
	if v == nil {
		var zero T
		*p = zero
		return nil
	}
	t, ok := v.(T)
	if !ok {
		t, ok = objectAs[T](v)
	}
	if !ok {
		return malformed("cannot decode %T into %T", v, p)
	}
	*p = t
	return nil
}

// objectAs returns the Fields or Args of v, if v is a PickleObject and T is
// their type.
func objectAs[T any](v any) (T, bool) {
	var t T
	obj, ok := v.(PickleObject)
	if !ok {
		return t, false
	}
	switch p := any(&t).(type) {
	case *map[string]any:
		*p = obj.Fields
		return t, obj.Fields != nil
	case *[]any:
		*p = obj.Args
		return t, true
	}
	return t, false
}

// decodeViaMsgpack encodes v with the msgpack codec's encoder and decodes
// the result into target, so targets are filled as the msgpack codec fills
// them. Like that codec, it turns the library's panics into errors.
func decodeViaMsgpack(v any, target any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("msgpack decoder panicked: %v", r)
		}
	}()
	e := encoderPool.Get().(*encoder)
	defer e.release()
	if err := e.enc.Encode(v); err != nil {
		return err
	}
	d := newDecoder(e.buf.Bytes())
	if err := d.decode(target); err != nil {
		return err
	}
	d.release()
	return nil
}

// pickleConverter turns gopickle's values into plain Go values. Memo
// references can make a small pickle describe a huge tree, so it spends a
// budget on every value, and it bounds the nesting, which also stops it on
// cycles.
type pickleConverter struct {
	budget  int
	msgpack bool // whether to produce values the msgpack encoder takes
}

// spend takes cost from the budget.
func (c *pickleConverter) spend(cost int) error {
	c.budget -= cost
	if c.budget < 0 {
		return malformed("value expands beyond the decoding budget")
	}
	return nil
}

// convert returns the plain value of v, which sits inside depth
// containers.
func (c *pickleConverter) convert(v any, depth int) (any, error) {
	if err := c.spend(costValue); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case nil, bool, float64:
		return x, nil
	case int:
		return int64(x), nil
	case *big.Int:
		return c.bigInt(x), nil
	case string:
		return x, c.spend(len(x))
	case []byte:
		return x, c.spend(len(x))
	case *types.ByteArray:
		return []byte(*x), c.spend(len(*x))
	case complex128:
		if c.msgpack {
			return []any{real(x), imag(x)}, nil
		}
		return x, nil
	}
	if depth >= maxPickleDepth {
		return nil, tooDeep("in the decoded value")
	}
	return c.container(v, depth)
}

// bigInt returns n as int64 or uint64 if it fits, else as is.
func (c *pickleConverter) bigInt(n *big.Int) any {
	switch {
	case n.IsInt64():
		return n.Int64()
	case n.IsUint64():
		return n.Uint64()
	}
	return n
}

// container converts the values that hold other values.
func (c *pickleConverter) container(v any, depth int) (any, error) {
	switch x := v.(type) {
	case *types.List:
		return c.list(*x, depth)
	case *types.Tuple:
		return c.list(*x, depth)
	case *types.Dict:
		return c.dict(*x, depth)
	case *types.OrderedDict:
		return c.orderedDict(x, depth)
	case *pickleInstance:
		return c.object(x, depth)
	case *pickleClass, builtinCallable, *types.OrderedDictClass:
		return nil, errNotValue(v)
	}
	return nil, malformed("unsupported value of type %T", v)
}

// list converts the items of a list, tuple or set.
func (c *pickleConverter) list(items []any, depth int) ([]any, error) {
	out := make([]any, len(items))
	for i, it := range items {
		var err error
		if out[i], err = c.convert(it, depth+1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// orderedDict converts an OrderedDict like a dict.
func (c *pickleConverter) orderedDict(d *types.OrderedDict, depth int) (any, error) {
	entries := make([]types.DictEntry, 0, d.Len())
	for e := d.List.Front(); e != nil; e = e.Next() {
		entry := e.Value.(*types.OrderedDictEntry)
		entries = append(entries, types.DictEntry{Key: entry.Key, Value: entry.Value})
	}
	return c.dict(entries, depth)
}

// dict converts entries to map[string]any, or to map[any]any when some key
// is not a string. Later entries win over earlier ones with the same key.
func (c *pickleConverter) dict(entries []types.DictEntry, depth int) (any, error) {
	m := make(map[string]any, min(len(entries), maxMapHint))
	for i, e := range entries {
		k, err := c.key(e.Key)
		if err != nil {
			return nil, err
		}
		s, ok := k.(string)
		if !ok {
			return c.mixedDict(m, entries[i:], depth)
		}
		if m[s], err = c.convert(e.Value, depth+1); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// mixedDict converts the remaining entries of a dict whose keys are not
// all strings, after the entries already converted into m.
func (c *pickleConverter) mixedDict(m map[string]any, entries []types.DictEntry, depth int) (any, error) {
	out := make(map[any]any, len(m)+min(len(entries), maxMapHint))
	for k, v := range m {
		out[k] = v
	}
	for _, e := range entries {
		k, err := c.key(e.Key)
		if err != nil {
			return nil, err
		}
		if out[k], err = c.convert(e.Value, depth+1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// key converts a dict key, which must be None, a bool, a number that fits
// 64 bits, or a string; bytes keys become strings, as in the msgpack codec.
// Keys are not converted recursively, so a dict that is its own key cannot
// make this loop.
func (c *pickleConverter) key(rk any) (any, error) {
	if err := c.spend(costValue); err != nil {
		return nil, err
	}
	switch k := rk.(type) {
	case nil, bool, float64:
		return k, nil
	case int:
		return int64(k), nil
	case string:
		return k, c.spend(len(k))
	case []byte:
		return string(k), c.spend(len(k))
	case *big.Int:
		if n := c.bigInt(k); n != k {
			return n, nil
		}
	}
	return nil, malformed("unsupported dict key of type %T", rk)
}

// object converts an instance of an application class.
func (c *pickleConverter) object(o *pickleInstance, depth int) (any, error) {
	args, err := c.list(o.args, depth)
	if err != nil {
		return nil, err
	}
	obj := PickleObject{Module: o.class.module, Name: o.class.name, Args: args}
	if err := c.fields(&obj, o, depth); err != nil {
		return nil, err
	}
	if !c.msgpack {
		return obj, nil
	}
	if obj.Fields != nil {
		return obj.Fields, nil
	}
	return obj.Args, nil
}

// fields fills obj.Fields from the arguments by the registered field
// names, and then from the state BUILD gave, if any.
func (c *pickleConverter) fields(obj *PickleObject, o *pickleInstance, depth int) error {
	names := o.class.fields
	if names != nil {
		if len(obj.Args) != len(names) {
			return malformed("%v takes %d arguments, got %d", o, len(names), len(obj.Args))
		}
		obj.Fields = make(map[string]any, len(names))
		for i, f := range names {
			obj.Fields[f] = obj.Args[i]
		}
	}
	if o.state == nil {
		return nil
	}
	return c.state(obj, o, depth)
}

// state merges the attribute dict that BUILD gave into obj.Fields.
func (c *pickleConverter) state(obj *PickleObject, o *pickleInstance, depth int) error {
	d, ok := o.state.(*types.Dict)
	if !ok {
		return malformed("%v with state of type %T", o, o.state)
	}
	if obj.Fields == nil {
		obj.Fields = make(map[string]any, len(*d))
	}
	for _, e := range *d {
		k, ok := e.Key.(string)
		if !ok {
			return malformed("%v with attribute name of type %T", o, e.Key)
		}
		v, err := c.convert(e.Value, depth+1)
		if err != nil {
			return err
		}
		obj.Fields[k] = v
	}
	return nil
}
