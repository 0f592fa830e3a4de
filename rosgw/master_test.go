package rosgw

import (
	"testing"

	"github.com/bluenviron/goroslib/v2/pkg/apimaster"
)

// TestKnown: the gateway's node counts as known to the master only while
// the master lists it among the publishers of /rosout, which a goroslib
// node registers once, when it is made; a bridge registered since with a
// restarted master does not make it known.
func TestKnown(t *testing.T) {
	t.Setenv("ROS_NAMESPACE", "")
	g := &Gateway{cfg: Config{Node: "pyros_gw"}}
	entry := func(name string, nodes ...string) apimaster.SystemStateEntry {
		return apimaster.SystemStateEntry{Name: name, Nodes: nodes}
	}
	cases := []struct {
		name  string
		state apimaster.SystemState
		want  bool
	}{
		{"registered", apimaster.SystemState{PublishedTopics: []apimaster.SystemStateEntry{
			entry("/chatter", "/talker"), entry("/rosout", "/talker", "/pyros_gw")}}, true},
		{"new master", apimaster.SystemState{PublishedTopics: []apimaster.SystemStateEntry{
			entry("/rosout", "/talker")}}, false},
		{"new master, a bridge registered since", apimaster.SystemState{
			PublishedTopics:  []apimaster.SystemStateEntry{entry("/greeting", "/pyros_gw")},
			SubscribedTopics: []apimaster.SystemStateEntry{entry("/chatter", "/pyros_gw")}}, false},
		{"empty", apimaster.SystemState{}, false},
	}
	for _, c := range cases {
		if got := g.known(&c.state); got != c.want {
			t.Errorf("%s: known = %v, want %v", c.name, got, c.want)
		}
	}
	t.Setenv("ROS_NAMESPACE", "/robot")
	if got := g.nodeName(); got != "/robot/pyros_gw" {
		t.Errorf("node name in $ROS_NAMESPACE /robot: %q", got)
	}
}
