package rosgw

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/bluenviron/goroslib/v2/pkg/apimaster"
	"github.com/bluenviron/goroslib/v2/pkg/apislave"
	"github.com/bluenviron/goroslib/v2/pkg/prototcp"
)

// probeTimeout bounds one conversation with a publisher.
const probeTimeout = 3 * time.Second

// published is what a publisher says of its topic.
type published struct {
	Type, MD5, Definition string
}

// probeTopic asks a publisher of topic what it publishes: it connects as a
// subscriber of any type (md5sum "*", as rostopic does) and reads the
// publisher's connection header, which carries the full definition.
func probeTopic(ctx context.Context, master *apimaster.Client, callerID, node, topic string) (published, error) {
	var out published
	nodeURL, err := master.LookupNode(node)
	if err != nil {
		return out, fmt.Errorf("rosgw: look up %s: %w", node, err)
	}
	host, err := hostOf(nodeURL)
	if err != nil {
		return out, err
	}
	slave := apislave.NewClient(host, callerID, &http.Client{Timeout: probeTimeout})
	proto, err := slave.RequestTopic(topic, [][]any{{"TCPROS"}})
	if err != nil {
		return out, fmt.Errorf("rosgw: request %s from %s: %w", topic, node, err)
	}
	addr, err := tcprosAddr(proto)
	if err != nil {
		return out, err
	}
	d := net.Dialer{Timeout: probeTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return out, fmt.Errorf("rosgw: connect to %s for %s: %w", node, topic, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(probeTimeout))
	tc := prototcp.NewConn(conn)
	err = tc.WriteHeader(&prototcp.HeaderSubscriber{Callerid: callerID, Topic: topic, Type: "*", Md5sum: "*", TcpNodelay: 1})
	if err != nil {
		return out, fmt.Errorf("rosgw: probe %s: %w", topic, err)
	}
	raw, err := tc.ReadHeaderRaw()
	if err != nil {
		return out, fmt.Errorf("rosgw: probe %s: %w", topic, err)
	}
	if e, ok := raw["error"]; ok {
		return out, fmt.Errorf("rosgw: %s refused the probe of %s: %s", node, topic, e)
	}
	return published{Type: raw["type"], MD5: raw["md5sum"], Definition: raw["message_definition"]}, nil
}

// hostOf turns a ROS XML-RPC URI (http://host:port/) into host:port.
func hostOf(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%w: %q is not a ROS URI (http://host:port)", ErrConfig, uri)
	}
	return u.Host, nil
}

// tcprosAddr reads a requestTopic answer: ["TCPROS", host, port].
func tcprosAddr(proto []any) (string, error) {
	if len(proto) < 3 {
		return "", fmt.Errorf("rosgw: unexpected requestTopic answer %v", proto)
	}
	host, ok1 := proto[1].(string)
	port, ok2 := proto[2].(int)
	if !ok1 || !ok2 {
		return "", fmt.Errorf("rosgw: unexpected requestTopic answer %v", proto)
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}
