package pyzmp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
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

// python is Debian's CPython, with python3-zmq, python3-six and
// python3-tblib, which the test script installs.
const python = "/usr/bin/python3"

// exampleDir holds examples/pyzmp: a minimal pyzmp, a node and a client.
const exampleDir = "../examples/pyzmp"

func startPeer(t *testing.T, name string, join ...string) *peer.Peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := peer.New(ctx, peer.Config{
		Name: name, Gossip: discovery.LocalConfig(), IPCDir: t.TempDir(), Join: join,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

type addIn struct {
	A int `msgpack:"a"`
	B int `msgpack:"b"`
}

func provideDemo(t *testing.T, p *peer.Peer) {
	t.Helper()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.Provide("demo/add", peer.Func(func(_ context.Context, in addIn) (int, error) { return in.A + in.B, nil })))
	must(p.Provide("echo", func(_ context.Context, r *peer.Request) (any, error) {
		var v any
		return v, r.Decode(&v)
	}))
	must(p.Provide("fail", func(context.Context, *peer.Request) (any, error) { return nil, errors.New("plain go failure") }))
	// what a Python provider's exception looks like on the mesh
	must(p.Provide("pyfail", func(context.Context, *peer.Request) (any, error) {
		return nil, errors.New("KeyError: missing key\nTraceback (most recent call last):\n  File \"x.py\", line 1, in f")
	}))
	must(p.Provide("slow", func(ctx context.Context, _ *peer.Request) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}))
}

// pyClient runs client_main.py against endpoint with the given calls and
// returns one decoded answer per call.
func pyClient(t *testing.T, endpoint string, calls [][3]any) []map[string]any {
	t.Helper()
	var in strings.Builder
	for _, c := range calls {
		b, _ := json.Marshal(c)
		in.Write(append(b, '\n'))
	}
	cmd := exec.Command(python, filepath.Join(exampleDir, "call.py"), endpoint, "-")
	cmd.Stdin = strings.NewReader(in.String())
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("client_main.py: %v\n%s", err, stderrOf(err))
	}
	var res []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("client output %q: %v", line, err)
		}
		res = append(res, m)
	}
	if len(res) != len(calls) {
		t.Fatalf("client answered %d of %d calls:\n%s", len(res), len(calls), out)
	}
	return res
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// TestServeToPythonClient: pyzmp client code calls mesh services through
// a Serve endpoint, with every argument shape and error kind.
func TestServeToPythonClient(t *testing.T) {
	if err := exec.Command(python, "-c", "import zmq, six, tblib").Run(); err != nil {
		t.Fatalf("%s with python3-zmq, python3-six and python3-tblib is required (scripts/test.sh installs them): %v", python, err)
	}
	provider := startPeer(t, "provider")
	provideDemo(t, provider)
	gw := startPeer(t, "gateway", provider.Addr())
	s, err := Serve(gw, "ipc://"+filepath.Join(t.TempDir(), "services.pipe"), Config{CallTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitProvided(t, gw, "demo/add")

	res := pyClient(t, s.Endpoint(), [][3]any{
		{"demo/add", []any{}, map[string]any{"a": 2, "b": 3}},
		{"echo", []any{7}, map[string]any{}},
		{"echo", []any{1, "x"}, map[string]any{}},
		{"echo", []any{}, map[string]any{}},
		{"echo", []any{1}, map[string]any{"k": true}},
		{"fail", []any{}, map[string]any{}},
		{"pyfail", []any{}, map[string]any{}},
		{"nope", []any{}, map[string]any{}},
		{"slow", []any{}, map[string]any{}},
		{"demo/add", []any{"not a map"}, map[string]any{}},
	})
	want := []string{
		`{"result":5}`,
		`{"result":7}`,
		`{"result":[1,"x"]}`,
		`{"result":null}`,
		`{"result":{"args":[1],"kwargs":{"k":true}}}`,
		`builtins.RuntimeError plain go failure`,
		`builtins.KeyError missing key`,
		`pyzmp.exceptions.UnknownServiceException Unknown Service nope`,
		`builtins.TimeoutError deadline exceeded`,
		`builtins.TypeError bad request`,
	}
	for i, r := range res {
		t.Logf("call %d: %v", i, r)
		got := ""
		if e, ok := r["error"].(string); ok {
			got = e + " " + r["message"].(string)
			if !strings.HasPrefix(got, strings.Fields(want[i])[0]) || !strings.Contains(got, strings.SplitN(want[i], " ", 2)[1]) {
				t.Errorf("call %d: %s, want %s", i, got, want[i])
			}
			continue
		}
		b, _ := json.Marshal(map[string]any{"result": r["result"]})
		if string(b) != want[i] {
			t.Errorf("call %d: %s, want %s", i, b, want[i])
		}
	}
}

func waitProvided(t *testing.T, p *peer.Peer, service string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !provided(p, service) {
		if time.Now().After(deadline) {
			t.Fatalf("%s not in %s's catalog", service, p.Name())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func provided(p *peer.Peer, service string) bool {
	for _, s := range p.Services() {
		if s.Name == service && len(s.Providers) > 0 {
			return true
		}
	}
	return false
}

// startNode runs node_main.py bound to endpoint and returns the endpoint
// it bound and a function that stops it.
func startNode(t *testing.T, endpoint string) (string, func()) {
	t.Helper()
	cmd := exec.Command(python, filepath.Join(exampleDir, "node.py"), endpoint)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() {
		stdin.Close()
		cmd.Wait()
	}
	t.Cleanup(stop)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		t.Fatalf("pyzmp node did not start: %v\n%s", err, stderr.String())
	}
	go io.Copy(io.Discard, stdout)
	return strings.TrimSpace(line), stop
}

// TestImportFromPythonNode: a pyzmp node's services become mesh services.
func TestImportFromPythonNode(t *testing.T) {
	if err := exec.Command(python, "-c", "import zmq, tblib").Run(); err != nil {
		t.Fatalf("%s with python3-zmq and python3-tblib is required: %v", python, err)
	}
	ep, stop := startNode(t, "ipc://"+filepath.Join(t.TempDir(), "node", "services.pipe"))
	gw := startPeer(t, "gateway")
	var specs []Import
	for _, s := range []string{"py/add=add@" + ep, "echo=" + ep, "fail=" + ep, "none=" + ep, "py/missing=nope@" + ep} {
		im, err := ParseImport(s)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, im)
	}
	im, err := NewImporter(gw, specs, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	caller := startPeer(t, "caller", gw.Addr())
	waitProvided(t, caller, "py/add")

	call := func(service string, arg any) (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var out any
		err := caller.Call(ctx, service, arg, &out)
		return out, err
	}
	for _, c := range []struct {
		service string
		arg     any
		want    string
	}{
		{"py/add", map[string]any{"a": 2, "b": 3}, "5"},
		{"py/add", []any{"a", "b"}, `"ab"`},
		{"echo", 7, `{"args":[7],"kwargs":{}}`},
		{"echo", []any{1, 2}, `{"args":[1,2],"kwargs":{}}`},
		{"echo", map[string]any{"args": []any{[]any{1}}, "kwargs": map[string]any{"k": "v"}}, `{"args":[[1]],"kwargs":{"k":"v"}}`},
		{"echo", nil, `{"args":[],"kwargs":{}}`},
		{"none", nil, "null"},
	} {
		out, err := call(c.service, c.arg)
		if err != nil {
			t.Fatalf("%s(%v): %v", c.service, c.arg, err)
		}
		if b, _ := json.Marshal(out); string(b) != c.want {
			t.Errorf("%s(%v) = %s, want %s", c.service, c.arg, b, c.want)
		}
	}

	_, err = call("fail", nil)
	var re *peer.RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Message, "ValueError: bad input: -1 is negative") ||
		!strings.Contains(re.Message, "Traceback (most recent call last):") || !strings.Contains(re.Message, "in check") {
		t.Errorf("fail: %v", err)
	}
	if _, err = call("py/missing", nil); err == nil || !strings.Contains(err.Error(), "UnknownServiceException") {
		t.Errorf("missing: %v", err)
	}
	stop()
	start := time.Now()
	if _, err = call("py/add", []any{1, 2}); err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("node stopped: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("a call to a stopped node took %v", d)
	}
}

func TestParseImport(t *testing.T) {
	for s, want := range map[string]Import{
		"a=ipc:///tmp/x":        {"a", "a", "ipc:///tmp/x"},
		"a/b=c@tcp://1.2.3.4:5": {"a/b", "c", "tcp://1.2.3.4:5"},
		"a=tcp://u@1.2.3.4:5":   {"a", "a", "tcp://u@1.2.3.4:5"},
	} {
		got, err := ParseImport(s)
		if err != nil || got != want {
			t.Errorf("%q: %+v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "a", "=ipc:///x", "a=", "a=b@", "a=nothing"} {
		if _, err := ParseImport(s); !errors.Is(err, ErrImportSpec) {
			t.Errorf("%q: %v", s, err)
		}
	}
}

// TestServeHostile: frames that are not pyzmp requests get an exception
// back, and the endpoint keeps serving.
func TestServeHostile(t *testing.T) {
	p := startPeer(t, "gateway")
	provideDemo(t, p)
	s, err := Serve(p, "tcp://127.0.0.1:0", Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, _ := mesh.NewReqClient(s.Endpoint(), mesh.RepConfig{})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pk := newCodec()
	osSystem := []byte("cos\nsystem\n(S'touch /tmp/pwned'\ntR.")
	wrongClass, _ := pk.Marshal(codec.PickleObject{Module: messageModule, Name: "ServiceResponse", Args: []any{"x", nil, nil}})
	badArgs, _ := pk.Marshal(codec.PickleObject{Module: messageModule, Name: "ServiceRequest", Args: []any{"echo", osSystem, nil}})
	for _, frame := range [][]byte{nil, []byte("garbage"), osSystem, wrongClass, badArgs, {0x80, 0x04, 0x95, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}} {
		reply, err := c.Request(ctx, frame)
		if err != nil {
			t.Fatalf("%q: %v", frame, err)
		}
		var resp codec.PickleObject
		if err := pk.Unmarshal(reply, &resp); err != nil {
			t.Fatalf("%q: reply %v", frame, err)
		}
		exc, ok := resp.Fields["exception"].(codec.PickleObject)
		if !ok {
			t.Fatalf("%q: no exception in %v", frame, resp)
		}
		if e := decodeException(exc.Fields); e.Type != "TypeError" {
			t.Errorf("%q: raised %v", frame, e)
		}
	}
	good, _ := encodeRequest(pk, request{service: "echo", args: []any{"still here"}})
	reply, err := c.Request(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&Importer{pickle: pk}).readResponse(reply)
	if err != nil || resp != "still here" {
		t.Fatalf("after hostile frames: %v, %v", resp, err)
	}
}
