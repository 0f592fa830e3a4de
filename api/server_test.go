package api

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/discovery"
	"github.com/pyros-mesh/pyros/mesh"
	"github.com/pyros-mesh/pyros/peer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestServerOperationsAndBadInput drives the server as a process would,
// over a real unix-socket link: a call of the peer's own service, then
// unknown operations and payloads that are not pickles.
func TestServerOperationsAndBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := peer.New(ctx, peer.Config{Name: "api-test", Gossip: discovery.LocalConfig(), IPCDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Provide("t/double", peer.Func(func(_ context.Context, n int) (int, error) { return 2 * n, nil }))
	s, err := Listen(p, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	client, err := mesh.Listen(mesh.Config{Name: "process", IPCDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	pk := codec.NewPickle()
	target := mesh.Target{Name: "api-test-api", Endpoints: s.node.Endpoints()}
	do := func(op string, payload []byte) (map[string]any, error) {
		rep, err := client.Call(ctx, target, mesh.Request{Service: op, Codec: codec.Pickle, Payload: payload})
		if err != nil {
			return nil, err
		}
		var out map[string]any
		return out, pk.Unmarshal(rep.Payload, &out)
	}
	arg, _ := pk.Marshal(21)
	req, _ := pk.Marshal(map[string]any{"service": "t/double", "payload": arg})
	out, err := do("call", req)
	if err != nil || out["ok"] != true {
		t.Fatalf("call: %v %v", out, err)
	}
	var n int
	if err := pk.Unmarshal(out["payload"].([]byte), &n); err != nil || n != 42 {
		t.Fatalf("result %d %v", n, err)
	}
	var re *mesh.RemoteError
	if _, err := do("nope", req); !errors.As(err, &re) || !strings.Contains(re.Message, "unknown operation") {
		t.Fatalf("an unknown operation: %v", err)
	}
	if _, err := do("call", []byte("\x80\x04garbage")); !errors.As(err, &re) || re.Code != mesh.CodeBadRequest {
		t.Fatalf("a payload that is not a pickle: %v", err)
	}
	evil := []byte("cos\nsystem\n(S'true'\ntR.")
	if _, err := do("call", evil); !errors.As(err, &re) || re.Code != mesh.CodeBadRequest {
		t.Fatalf("a pickle calling os.system: %v", err)
	}
}
