package rosgw

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// methodCall is a call as a server reads it, its values raw.
type methodCall struct {
	Method string `xml:"methodName"`
	Params []struct {
		Value struct {
			Inner []byte `xml:",innerxml"`
		} `xml:"value"`
	} `xml:"params>param"`
}

// fakeServer answers each call with answer(call); its client talks to it
// on loopback.
func fakeServer(t *testing.T, answer func(c methodCall, args []any) string) *xmlrpcClient {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c methodCall
		body, _ := io.ReadAll(r.Body)
		if err := xml.Unmarshal(body, &c); err != nil {
			t.Errorf("the client sent %q: %v", body, err)
		}
		args := make([]any, len(c.Params))
		for i, p := range c.Params {
			v, err := decodeXMLRPCValue(append(append([]byte("<value>"), p.Value.Inner...), "</value>"...))
			if err != nil {
				t.Errorf("the client sent %q: %v", body, err)
			}
			args[i] = v
		}
		io.WriteString(w, answer(c, args))
	}))
	t.Cleanup(srv.Close)
	return newXMLRPCClient(strings.TrimPrefix(srv.URL, "http://"), &http.Client{Timeout: 5 * time.Second})
}

func response(value string) string {
	return "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n" + value + "\n</param>\n</params>\n</methodResponse>\n"
}

// TestParamServerCalls: the four parameter calls send the ROS master API's
// arguments and read its [code, statusMessage, value] answers; a code
// other than 1 is a *masterError.
func TestParamServerCalls(t *testing.T) {
	store := map[string]any{"/pid": map[string]any{"kp": 1.5, "gains": []any{1, 2, 3}}}
	c := fakeServer(t, func(c methodCall, args []any) string {
		if len(args) == 0 || args[0] != "/pyros_gw" {
			t.Errorf("%s: caller %v", c.Method, args[0])
		}
		ok := func(v any) string {
			b, err := encodeXMLRPCValue([]any{1, "ok", v})
			if err != nil {
				t.Fatal(err)
			}
			return response(string(b))
		}
		switch c.Method {
		case "getParam":
			if v, found := store[args[1].(string)]; found {
				return ok(v)
			}
			return response(`<value><array><data><value><int>-1</int></value><value>Parameter [x] is not set</value><value><int>0</int></value></data></array></value>`)
		case "setParam":
			store[args[1].(string)] = args[2]
			return ok(0)
		case "deleteParam":
			delete(store, args[1].(string))
			return ok(0)
		case "getParamNames":
			return ok([]any{"/pid/kp", "/pid/gains"})
		}
		return "<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member>" +
			"<member><name>faultString</name><value>no such method</value></member></struct></value></fault></methodResponse>"
	})
	ps := paramServer{c: c, caller: "/pyros_gw"}
	ctx := context.Background()
	if v, err := ps.get(ctx, "/pid"); err != nil || !reflect.DeepEqual(v, store["/pid"]) {
		t.Fatalf("get /pid: %#v, %v", v, err)
	}
	cfg := map[string]any{"a": 1, "b": []any{true, false}}
	if err := ps.set(ctx, "/cfg", cfg); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(store["/cfg"], cfg) {
		t.Fatalf("the server got %#v", store["/cfg"])
	}
	if err := ps.del(ctx, "/cfg"); err != nil {
		t.Fatal(err)
	}
	var me *masterError
	if _, err := ps.get(ctx, "/cfg"); !errors.As(err, &me) || me.Code != -1 || !strings.Contains(me.Status, "not set") {
		t.Fatalf("get of a deleted parameter: %v", err)
	}
	if names, err := ps.names(ctx); err != nil || !reflect.DeepEqual(names, []string{"/pid/kp", "/pid/gains"}) {
		t.Fatalf("names: %v, %v", names, err)
	}
	var fe *faultError
	if _, err := c.call(ctx, "nope", "/pyros_gw"); !errors.As(err, &fe) || fe.Code != 1 || fe.Message != "no such method" {
		t.Fatalf("a fault: %v", err)
	}
}

// TestXMLRPCCallHostile: a server that answers with something else than a
// ROS master API answer, too much, or over HTTP errors fails the call with
// a clear error, and the call returns.
func TestXMLRPCCallHostile(t *testing.T) {
	cases := map[string]string{
		"not xml-rpc":         "<html>hello</html>",
		"two params":          "<methodResponse><params><param><value>1</value></param><param><value>2</value></param></params></methodResponse>",
		"no params":           "<methodResponse></methodResponse>",
		"fault without code":  "<methodResponse><fault><value><struct></struct></value></fault></methodResponse>",
		"fault not a struct":  "<methodResponse><fault><value>boom</value></fault></methodResponse>",
		"status not a list":   response("<value><int>1</int></value>"),
		"status too short":    response("<value><array><data><value><int>1</int></value><value>ok</value></data></array></value>"),
		"status code string":  response("<value><array><data><value>1</value><value>ok</value><value>x</value></data></array></value>"),
		"names not a list":    response("<value><array><data><value><int>1</int></value><value>ok</value><value>x</value></data></array></value>"),
		"names not strings":   response("<value><array><data><value><int>1</int></value><value>ok</value><value><array><data><value><int>1</int></value></data></array></value></data></array></value>"),
		"too deep":            response(`<value><array><data><value><int>1</int></value><value>ok</value>` + nested(maxXMLRPCDepth+1) + `</data></array></value>`),
		"trailing content":    response("<value>1</value>") + "<methodResponse/>",
		"garbage after fault": "<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member><member><name>faultString</name><value>x</value></member></struct></value></fault><x/></methodResponse>",
	}
	for name, body := range cases {
		c := fakeServer(t, func(methodCall, []any) string { return body })
		_, err := paramServer{c: c, caller: "/x"}.names(context.Background())
		if !errors.Is(err, ErrXMLRPC) {
			t.Errorf("%s: err %v, want ErrXMLRPC", name, err)
		}
	}

	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<methodResponse><params><param><value><string>")
		chunk := strings.Repeat("x", 1<<20)
		for range maxXMLRPCResponse>>20 + 1 {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
		io.WriteString(w, "</string></value></param></params></methodResponse>")
	}))
	defer big.Close()
	c := newXMLRPCClient(strings.TrimPrefix(big.URL, "http://"), &http.Client{Timeout: 10 * time.Second})
	if _, err := c.call(context.Background(), "getParam"); !errors.Is(err, ErrXMLRPC) || !strings.Contains(err.Error(), "bytes") {
		t.Errorf("an answer of over %d bytes: %v", maxXMLRPCResponse, err)
	}

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer failing.Close()
	c = newXMLRPCClient(strings.TrimPrefix(failing.URL, "http://"), &http.Client{Timeout: 5 * time.Second})
	if _, err := c.call(context.Background(), "getParam"); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("HTTP 500: %v", err)
	}

	if _, err := c.call(context.Background(), "setParam", make(chan int)); !errors.Is(err, ErrXMLRPC) {
		t.Errorf("an argument XML-RPC cannot carry: %v", err)
	}
}
