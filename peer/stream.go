package peer

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/mesh"
)

// source describes where a stream's messages come from.
type source struct {
	stream, from string
	codec        codec.Codec
}

// Message is one stream message as a subscriber receives it.
type Message struct {
	Seq     uint64 // the publisher's sequence number: gaps mean lost messages
	payload []byte
	src     *source
}

// Stream names the stream.
func (m Message) Stream() string { return m.src.stream }

// From names the publishing peer.
func (m Message) From() string { return m.src.from }

// Codec names the payload's codec.
func (m Message) Codec() string { return m.src.codec.Name() }

// Payload returns the encoded value. It is valid only while the handler
// runs (its memory is reused): copy it to keep it; Decode copies.
func (m Message) Payload() []byte { return m.payload }

// Decode decodes the message's value into v.
func (m Message) Decode(v any) error { return m.src.codec.Unmarshal(m.payload, v) }

// PublishOption configures a publisher.
type PublishOption func(*Publisher)

// Latched makes the publisher keep its last value and send it to every
// subscriber that appears later, like a ROS latched topic.
func Latched() PublishOption { return func(p *Publisher) { p.latched = true } }

// Typed declares the type of the messages, e.g. a ROS type such as
// "geometry_msgs/Twist": it travels in the catalog, so that a ROS gateway
// can publish the stream into ROS.
func Typed(msgType string) PublishOption { return func(p *Publisher) { p.msgType = msgType } }

// Publisher sends values on one stream. Send never blocks.
type Publisher struct {
	p       *Peer
	name    string
	id      uint64
	codec   codec.Codec
	latched bool
	msgType string
	src     *source

	seq     atomic.Uint64
	sent    atomic.Uint64
	bytes   atomic.Uint64 // payload bytes sent
	dropped atomic.Uint64
	outs    atomic.Pointer[[]*mesh.StreamOut] // remote subscriber peers, copy on write

	mu     sync.Mutex // orders latched updates and out changes
	last   []byte
	closed bool
}

// PublisherStats counts what a publisher did.
type PublisherStats struct {
	Sent        uint64 // messages sent (each counted once, whatever the fan-out)
	Bytes       uint64 // their payload bytes
	Dropped     uint64 // deliveries to a peer dropped because its link was full or gone
	Subscribers int    // remote peers the stream currently goes to
}

// Publish starts publishing on the stream name. Several publishers, on one
// peer or many, may share a name; subscribers receive from all of them.
func (p *Peer) Publish(name string, opts ...PublishOption) (*Publisher, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if p.isClosed() {
		return nil, ErrClosed
	}
	var idb [8]byte
	rand.Read(idb[:])
	pub := &Publisher{p: p, name: name, id: binary.LittleEndian.Uint64(idb[:]), codec: p.codec}
	pub.src = &source{stream: name, from: p.cfg.Name, codec: p.codec}
	for _, o := range opts {
		o(pub)
	}
	pub.outs.Store(&[]*mesh.StreamOut{})
	if err := p.streams.addPub(pub); err != nil {
		return nil, err
	}
	p.publishCatalog()
	p.routeStreams()
	return pub, nil
}

// Send encodes v with the peer's codec and sends it to every subscriber.
// It never blocks: deliveries that do not fit are dropped and counted.
func (pub *Publisher) Send(v any) error {
	b, err := pub.codec.Marshal(v)
	if err != nil {
		return fmt.Errorf("peer: encode message for %s: %w", pub.name, err)
	}
	return pub.SendEncoded(b)
}

// SendEncoded sends a payload already encoded with the publisher's codec
// (Codec names it). The payload must not be modified afterwards.
func (pub *Publisher) SendEncoded(payload []byte) error {
	seq := pub.seq.Add(1)
	if pub.latched {
		pub.mu.Lock()
		if pub.closed {
			pub.mu.Unlock()
			return ErrClosed
		}
		pub.last = payload
		pub.mu.Unlock()
	}
	pub.sent.Add(1)
	pub.bytes.Add(uint64(len(payload)))
	for _, o := range *pub.outs.Load() {
		if !o.Send(seq, payload) {
			pub.dropped.Add(1)
		}
	}
	pub.p.streams.deliverLocal(pub.name, pub.src, seq, payload)
	return nil
}

// Codec names the codec of the publisher's payloads.
func (pub *Publisher) Codec() string { return pub.codec.Name() }

// Stats returns the publisher's counters.
func (pub *Publisher) Stats() PublisherStats {
	return PublisherStats{Sent: pub.sent.Load(), Bytes: pub.bytes.Load(), Dropped: pub.dropped.Load(), Subscribers: len(*pub.outs.Load())}
}

// Close stops publishing; subscribers are told the stream ended.
func (pub *Publisher) Close() error {
	pub.mu.Lock()
	if pub.closed {
		pub.mu.Unlock()
		return nil
	}
	pub.closed = true
	outs := *pub.outs.Load()
	pub.outs.Store(&[]*mesh.StreamOut{})
	pub.mu.Unlock()
	for _, o := range outs {
		o.Close()
	}
	pub.p.streams.removePub(pub)
	pub.p.publishCatalog()
	return nil
}

// addOut starts sending to a new subscriber peer (with the latched value).
func (pub *Publisher) addOut(o *mesh.StreamOut) bool {
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if pub.closed {
		return false
	}
	if pub.latched && pub.last != nil {
		o.Send(pub.seq.Load(), pub.last)
	}
	outs := append(append([]*mesh.StreamOut{}, *pub.outs.Load()...), o)
	pub.outs.Store(&outs)
	return true
}

// pruneOuts drops outs whose peer no longer subscribes or whose link died,
// and returns the peers still served.
func (pub *Publisher) pruneOuts(want map[string]bool) map[string]bool {
	pub.mu.Lock()
	defer pub.mu.Unlock()
	have := make(map[string]bool)
	var keep []*mesh.StreamOut
	for _, o := range *pub.outs.Load() {
		if o.Alive() && want[o.Peer()] && !have[o.Peer()] {
			keep = append(keep, o)
			have[o.Peer()] = true
			continue
		}
		o.Close()
	}
	pub.outs.Store(&keep)
	return have
}

// open opens the stream toward one subscriber peer; it runs in its own
// goroutine because dialing may take time.
func (pub *Publisher) open(ctx context.Context, t mesh.Target) {
	o, err := pub.p.node.OpenStream(ctx, t, mesh.StreamOpen{Stream: pub.name, Codec: pub.codec.Name(), Publisher: pub.id})
	if err != nil {
		pub.p.log.Debug("cannot open stream", "stream", pub.name, "to", t.Name, "err", err)
		return
	}
	if !pub.addOut(o) {
		o.Close()
	}
}
