package codec

import "testing"

func smallMap() map[string]any {
	return map[string]any{
		"type": "ping",
		"from": "node-7",
		"seq":  int64(42),
		"ok":   true,
		"rtt":  0.0125,
		"tags": []any{"a", "b"},
	}
}

func BenchmarkMsgpackRoundTrip(b *testing.B) {
	benchmarkRoundTrip(b, NewMsgpack())
}

func BenchmarkJSONRoundTrip(b *testing.B) {
	benchmarkRoundTrip(b, NewJSON())
}

func BenchmarkPickleRoundTrip(b *testing.B) {
	benchmarkRoundTrip(b, NewPickle())
}

func benchmarkRoundTrip(b *testing.B, c Codec) {
	v := smallMap()
	b.ReportAllocs()
	for b.Loop() {
		data, err := c.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		var out any
		if err := c.Unmarshal(data, &out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidMsgpack(b *testing.B) {
	data, err := NewMsgpack().Marshal(sampleMsg())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := validMsgpack(data, maxMsgpackDepth); err != nil {
			b.Fatal(err)
		}
	}
}
