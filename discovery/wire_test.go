package discovery

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

var discard = slog.New(slog.DiscardHandler)

func TestWireRoundTrip(t *testing.T) {
	doc := catalog(5000, "w")
	typ, m, err := decodeState(encodeState(msgState, "node-1", stamp{7, 9}, doc))
	if err != nil || typ != msgState || m.name != "node-1" || m.st != (stamp{7, 9}) || !m.hasState || !bytes.Equal(m.state, doc) {
		t.Fatalf("state: %v %+v %v", typ, m.st, err)
	}
	typ, m, err = decodeState(encodeState(msgReply, "n", stamp{1, 0}, nil))
	if err != nil || typ != msgReply || !m.hasState || len(m.state) != 0 {
		t.Fatalf("empty reply: %v %v", typ, err)
	}
	typ, m, err = decodeState(encodeNotice("n", stamp{3, 4}))
	if err != nil || typ != msgNotice || m.hasState || m.st != (stamp{3, 4}) {
		t.Fatalf("notice: %v %+v %v", typ, m, err)
	}
	from, to, err := decodeFetch(encodeFetch("a", "b"))
	if err != nil || from != "a" || to != "b" {
		t.Fatalf("fetch: %q %q %v", from, to, err)
	}
	name, inc, err := decodeLeave(encodeLeave("a", 42))
	if err != nil || name != "a" || inc != 42 {
		t.Fatalf("leave: %q %d %v", name, inc, err)
	}
	e := newPushPullEncoder()
	e.add("a", stamp{1, 2}, []byte("x"), true)
	e.add(strings.Repeat("n", MaxNameLen), stamp{3, 4}, nil, false)
	ms, err := decodePushPull(e.bytes())
	if err != nil || len(ms) != 2 || string(ms[0].state) != "x" || ms[1].hasState || len(ms[1].name) != MaxNameLen {
		t.Fatalf("push/pull: %+v %v", ms, err)
	}
	if len(e.bytes()) != 5+entrySize("a", []byte("x"), true)+entrySize(ms[1].name, nil, false) {
		t.Fatal("entrySize disagrees with the encoding")
	}
}

func TestWireRejectsMalformed(t *testing.T) {
	valid := [][]byte{
		encodeState(msgState, "a", stamp{1, 2}, []byte("doc")),
		encodeNotice("a", stamp{1, 2}),
		encodeFetch("a", "b"),
		encodeLeave("a", 1),
		encodePushPullOf(full("a", 1, 2, "doc"), notice("b", 1, 1)),
	}
	decode := func(b []byte) error {
		if len(b) == 0 {
			return errMalformed
		}
		var err error
		switch msgType(b[0]) {
		case msgFetch:
			_, _, err = decodeFetch(b)
		case msgLeave:
			_, _, err = decodeLeave(b)
		case msgPushPull:
			_, err = decodePushPull(b)
		default:
			_, _, err = decodeState(b)
		}
		return err
	}
	for _, v := range valid {
		if err := decode(v); err != nil {
			t.Fatalf("valid message rejected: %v", err)
		}
		for cut := range len(v) {
			if err := decode(v[:cut]); !errors.Is(err, errMalformed) {
				t.Fatalf("type %d truncated to %d bytes: %v", v[0], cut, err)
			}
		}
		if err := decode(append(bytes.Clone(v), 0)); !errors.Is(err, errMalformed) {
			t.Fatalf("type %d with a trailing byte: %v", v[0], err)
		}
	}
	for name, b := range map[string][]byte{
		"state over MaxStateSize": {byte(msgState), 1, 'a', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0x40, 0x00, 0x01},
		"state length 4 GiB":      {byte(msgState), 1, 'a', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff},
		"empty name":              {byte(msgNotice), 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1},
		"too many entries":        {byte(msgPushPull), 0, 0, 0x10, 0x01},
		"4G entries":              {byte(msgPushPull), 0xff, 0xff, 0xff, 0xff},
		"unknown type":            {99},
	} {
		if err := decode(b); !errors.Is(err, errMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := decodeState(encodeFetch("a", "b")); !errors.Is(err, errMalformed) {
		t.Errorf("fetch decoded as a state message: %v", err)
	}
	if _, err := decodePushPull(encodeLeave("a", 1)); !errors.Is(err, errMalformed) {
		t.Errorf("leave decoded as push/pull: %v", err)
	}
}

func TestStampOrder(t *testing.T) {
	for _, c := range []struct {
		a, b stamp
		less bool
	}{
		{stamp{1, 5}, stamp{1, 6}, true},
		{stamp{1, 6}, stamp{1, 5}, false},
		{stamp{1, 100}, stamp{2, 0}, true},
		{stamp{2, 0}, stamp{1, 100}, false},
		{stamp{3, 3}, stamp{3, 3}, false},
	} {
		if got := c.a.less(c.b); got != c.less {
			t.Errorf("%v < %v = %v", c.a, c.b, got)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encodeState(msgState, "a", stamp{1, 2}, []byte("doc")))
	f.Add(encodeNotice("a", stamp{1, 2}))
	f.Add(encodeFetch("a", "b"))
	f.Add(encodeLeave("a", 3))
	f.Add(encodePushPullOf(full("a", 1, 2, "doc"), notice("b", 1, 1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, m, err := decodeState(b); err == nil {
			if len(m.name) == 0 || len(m.state) > MaxStateSize {
				t.Fatalf("accepted %+v", m)
			}
		}
		_, _, _ = decodeFetch(b)
		_, _, _ = decodeLeave(b)
		if ms, err := decodePushPull(b); err == nil && len(ms) > MaxMembers {
			t.Fatalf("%d entries", len(ms))
		}
		// The table must survive anything the decoders accept.
		tab := newStateTable("me", 1, nil, 1000, 4, newEventQueue(), func() {}, discard)
		tab.join(node("a"))
		d := &delegate{table: tab, fetcher: newFetcher(tab, time.Second, discard), logger: discard}
		d.NotifyMsg(b)
		d.MergeRemoteState(b, true)
	})
}
