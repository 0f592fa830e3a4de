package codec_test

import (
	"fmt"

	"github.com/pyros-mesh/pyros/codec"
)

func Example() {
	type ping struct {
		From string `json:"from"`
		Seq  int    `json:"seq"`
	}
	reg := codec.Default()

	// Sender: encode, and put the codec name on the wire with the payload.
	c, err := reg.Lookup(codec.Msgpack)
	if err != nil {
		panic(err)
	}
	payload, err := c.Marshal(ping{From: "node-1", Seq: 7})
	if err != nil {
		panic(err)
	}
	name := c.Name()

	// Receiver: pick the codec the sender named.
	rc, err := reg.Lookup(name)
	if err != nil {
		panic(err)
	}
	var p ping
	if err := rc.Unmarshal(payload, &p); err != nil {
		panic(err)
	}
	fmt.Println(name, p.From, p.Seq)

	_, err = reg.Lookup("cbor")
	fmt.Println(err)
	// Output:
	// msgpack node-1 7
	// codec: unknown codec: "cbor"
}
