package rosgw

import "testing"

func TestMatchName(t *testing.T) {
	for _, c := range []struct {
		pat, name string
		want      bool
	}{
		{"/robot/*", "/robot/odom", true},
		{"/robot/*", "/robot/arm/joint", false},
		{"**/get_loggers", "/talker/get_loggers", true},
		{"**/get_loggers", "/ns/talker/get_loggers", true},
		{"**/get_loggers", "/get_loggers", true},
		{"**/get_loggers", "/talker/get_loggers_x", false},
		{"**/set_logger_level", "/rostopic_123_456/set_logger_level", true},
		{"**/cam*/image", "/robot/cam1/image", true},
		{"/rosout", "/rosout_agg", false},
	} {
		if got := matchName(c.pat, c.name); got != c.want {
			t.Errorf("matchName(%q, %q) = %v", c.pat, c.name, got)
		}
	}
}
