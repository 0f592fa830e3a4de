package experiment

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// svgText parses an SVG, failing on malformed XML, and returns its root
// element's name and its text.
func svgText(t *testing.T, b []byte) (string, string) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	var root string
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("malformed SVG: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
		case xml.CharData:
			text.Write(tok)
			text.WriteString("\n")
		}
	}
	return root, text.String()
}

func TestPlot(t *testing.T) {
	ops := loadWith(func(op Op) string {
		switch {
		case within(op, 1200, 1500):
			return Unknown
		case within(op, 2600, 2700):
			return Fail
		}
		return ""
	})
	for i := range 100 {
		ops = append(ops, Op{Kind: "call", Key: "svc", Start: atMS(i * 30), End: atMS(i*30 + i%7 + 1), Outcome: OK})
	}
	sortByStart(ops)
	faults := []Fault{
		{Name: "kill leader", Start: atMS(1000), End: atMS(2000)},
		{Name: `partition <c1|c2 & c3>`, Start: atMS(2500), End: atMS(2600)},
		{Name: "pause", Start: atMS(2900)},
	}
	var b bytes.Buffer
	if err := Plot(ops, faults, &b); err != nil {
		t.Fatal(err)
	}
	root, text := svgText(t, b.Bytes())
	if root != "svg" {
		t.Fatalf("root element %q", root)
	}
	for _, want := range []string{"kill leader", "partition <c1|c2 & c3>", "pause", "throughput", "latency",
		"put", "get", "call", "failed", "unknown outcome", "1 s", "2 s", "1ms"} {
		if !strings.Contains(text, want) {
			t.Errorf("plot lacks %q", want)
		}
	}
	if n := strings.Count(b.String(), "<circle"); n < 40 { // 30 unknown, 10 failed
		t.Errorf("%d ops marked, want the 40 that failed", n)
	}
}

func TestPlotEdges(t *testing.T) {
	for name, c := range map[string]struct {
		ops    []Op
		faults []Fault
	}{
		"empty":       {},
		"faults only": {faults: []Fault{{Name: "f", Start: atMS(0), End: atMS(500)}}},
		"one op":      {ops: []Op{put("c", "k", "v", 1, 0, 0)}},
		"a day long": {ops: []Op{put("c", "k", "v", 1, 0, 1), put("c", "k", "w", 2, 86_400_000, 86_400_001)},
			faults: []Fault{{Name: "f", Start: atMS(3_600_000)}}},
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Plot(c.ops, c.faults, &b); err != nil {
				t.Fatal(err)
			}
			if b.Len() > 4<<20 {
				t.Fatalf("plot of %d bytes", b.Len())
			}
			svgText(t, b.Bytes())
		})
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("broken pipe")
	}
	return len(p), nil
}

func TestPlotWriteError(t *testing.T) {
	ops := []Op{put("c", "k", "v", 1, 0, int(time.Second/time.Millisecond))}
	if err := Plot(ops, nil, &failingWriter{n: 100}); err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("got %v", err)
	}
}
