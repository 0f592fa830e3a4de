package discovery

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

type mlConfig = memberlist.Config

func withML(f func(*mlConfig)) *mlConfig {
	c := LocalConfig()
	f(c)
	return c
}

func TestConfigValidation(t *testing.T) {
	bad := map[string]Config{
		"no name":        {},
		"long name":      {Name: strings.Repeat("x", MaxNameLen+1)},
		"large meta":     {Name: "a", Meta: make([]byte, MaxMetaSize+1)},
		"large state":    {Name: "a", State: make([]byte, MaxStateSize+1)},
		"bad port":       {Name: "a", BindPort: 70000},
		"bad adv port":   {Name: "a", AdvertisePort: -1},
		"bad bind addr":  {Name: "a", BindAddr: "localhost"},
		"bad adv addr":   {Name: "a", AdvertiseAddr: "nope"},
		"tiny udp":       {Name: "a", Memberlist: withML(func(c *mlConfig) { c.UDPBufferSize = 100 })},
		"no tcp timeout": {Name: "a", Memberlist: withML(func(c *mlConfig) { c.TCPTimeout = 0 })},
	}
	for name, cfg := range bad {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestPresets(t *testing.T) {
	lan, local := LANConfig(), LocalConfig()
	if lan.ProbeInterval != 500*time.Millisecond || lan.ProbeTimeout != 250*time.Millisecond ||
		lan.SuspicionMult != 3 || lan.GossipInterval != 100*time.Millisecond || lan.PushPullInterval != 15*time.Second {
		t.Errorf("LANConfig = %+v", lan)
	}
	if local.ProbeInterval != 200*time.Millisecond || local.GossipInterval != 50*time.Millisecond ||
		local.PushPullInterval != 2*time.Second || local.TCPTimeout != time.Second {
		t.Errorf("LocalConfig = %+v", local)
	}
	if LANConfig() == lan {
		t.Error("presets must return fresh values")
	}
	// New must not modify the caller's memberlist config.
	mc := LocalConfig()
	d := newNode(t, "a", func(c *Config) { c.Memberlist = mc })
	if mc.Name == "a" || mc.Delegate != nil || mc.Transport != nil {
		t.Error("New modified Config.Memberlist")
	}
	_ = d
}

func TestParseLogLine(t *testing.T) {
	for line, want := range map[string]struct {
		level slog.Level
		msg   string
	}{
		"[DEBUG] memberlist: Stream connection from=x\n": {slog.LevelDebug, "Stream connection from=x"},
		"[INFO] memberlist: Marking b as failed\n":       {slog.LevelInfo, "Marking b as failed"},
		"[WARN] memberlist: Refuting\n":                  {slog.LevelWarn, "Refuting"},
		"[ERR] memberlist: Failed to send\n":             {slog.LevelWarn, "Failed to send"},
		"[ERR] memberlist: Failed to shut down\n":        {slog.LevelError, "Failed to shut down"},
		"[ERR] memberlist: Conflicting address for a\n":  {slog.LevelInfo, "Conflicting address for a"},
		"[ERROR] memberlist: Failed to compress\n":       {slog.LevelError, "Failed to compress"},
		"Err: Could not set the deadline\n":              {slog.LevelInfo, "Err: Could not set the deadline"},
	} {
		level, msg := parseLogLine(line)
		if level != want.level || msg != want.msg {
			t.Errorf("%q -> %v %q", line, level, msg)
		}
	}
}
