package codec

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// namedCodec is the json codec under another name.
type namedCodec struct {
	Codec
	name string
}

func (c namedCodec) Name() string { return c.name }

func named(name string) Codec { return namedCodec{Codec: NewJSON(), name: name} }

func TestRegistryRegisterLookup(t *testing.T) {
	r := NewRegistry()
	c := named("proto.v2")
	if err := r.Register(c); err != nil {
		t.Fatalf("Register: %v", err)
	}
	got, err := r.Lookup("proto.v2")
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if got != c {
		t.Fatalf("Lookup returned %v, want %v", got, c)
	}
}

func TestRegistryRejectsInvalidNames(t *testing.T) {
	for _, name := range []string{
		"",
		strings.Repeat("a", maxNameLen+1),
		"MsgPack",
		"msg pack",
		"msg/pack",
		"msgpäck",
		"json\x00",
	} {
		err := NewRegistry().Register(named(name))
		if !errors.Is(err, ErrInvalidName) {
			t.Errorf("Register(%q) = %v, want ErrInvalidName", name, err)
		}
	}
	if err := NewRegistry().Register(nil); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Register(nil) = %v, want ErrInvalidName", err)
	}
}

func TestRegistryAcceptsValidNames(t *testing.T) {
	for _, name := range []string{"a", "msgpack", "json", "cbor-1.0_x", strings.Repeat("z", maxNameLen)} {
		if err := NewRegistry().Register(named(name)); err != nil {
			t.Errorf("Register(%q) = %v", name, err)
		}
	}
}

func TestRegistryDuplicate(t *testing.T) {
	r := Default()
	err := r.Register(named(Msgpack))
	if !errors.Is(err, ErrDuplicate) {
		t.Fatalf("Register(duplicate) = %v, want ErrDuplicate", err)
	}
	c, _ := r.Lookup(Msgpack)
	if c.Name() != Msgpack {
		t.Fatalf("duplicate replaced the original codec")
	}
}

func TestRegistryLookupUnknown(t *testing.T) {
	_, err := Default().Lookup("cbor")
	if !errors.Is(err, ErrUnknownCodec) {
		t.Fatalf("Lookup = %v, want ErrUnknownCodec", err)
	}
	if want := fmt.Sprintf("%v: %q", ErrUnknownCodec, "cbor"); err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}
}

func TestRegistryLookupClipsLongNames(t *testing.T) {
	_, err := Default().Lookup(strings.Repeat("x", 1<<20))
	if !errors.Is(err, ErrUnknownCodec) {
		t.Fatalf("Lookup = %v, want ErrUnknownCodec", err)
	}
	if len(err.Error()) > 200 {
		t.Fatalf("error message is %d bytes long", len(err.Error()))
	}
}

func TestRegistryNamesSorted(t *testing.T) {
	r := NewRegistry(named("zeta"), named("alpha"), named("mid"))
	want := []string{"alpha", "mid", "zeta"}
	if got := r.Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	if got := NewRegistry().Names(); len(got) != 0 {
		t.Fatalf("empty registry Names() = %v", got)
	}
}

func TestDefaultIsIndependent(t *testing.T) {
	a, b := Default(), Default()
	if want := []string{JSON, Msgpack, Pickle}; !slices.Equal(a.Names(), want) {
		t.Fatalf("Default().Names() = %v, want %v", a.Names(), want)
	}
	if err := a.Register(named("extra")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lookup("extra"); !errors.Is(err, ErrUnknownCodec) {
		t.Fatalf("registering in one Default registry changed another")
	}
}

func TestDefaultPickleCodecsAreIndependent(t *testing.T) {
	a, _ := Default().Lookup(Pickle)
	b, _ := Default().Lookup(Pickle)
	a.(*PickleCodec).AllowClass("app", "Point", nil)
	data := []byte("\x80\x02capp\nPoint\n)\x81.")
	var v any
	if err := a.Unmarshal(data, &v); err != nil {
		t.Fatalf("after AllowClass: %v", err)
	}
	if err := b.Unmarshal(data, &v); !errors.Is(err, ErrPickleGlobal) {
		t.Fatalf("AllowClass on one Default registry's codec changed another's: %v", err)
	}
}

func TestNewRegistryPanicsOnBadCodec(t *testing.T) {
	defer func() {
		r := recover()
		err, ok := r.(error)
		if !ok || !errors.Is(err, ErrDuplicate) {
			t.Fatalf("recovered %v, want an error wrapping ErrDuplicate", r)
		}
	}()
	NewRegistry(NewJSON(), NewJSON())
}

func TestRegistryConcurrentUse(t *testing.T) {
	r := Default()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				name := fmt.Sprintf("c%d-%d", i, j)
				if err := r.Register(named(name)); err != nil {
					t.Errorf("Register(%q): %v", name, err)
					return
				}
				if _, err := r.Lookup(name); err != nil {
					t.Errorf("Lookup(%q): %v", name, err)
					return
				}
				_ = r.Names()
			}
		}()
	}
	wg.Wait()
	if got := len(r.Names()); got != 3+8*50 {
		t.Fatalf("registry holds %d codecs, want %d", got, 3+8*50)
	}
}
