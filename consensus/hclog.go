package consensus

import (
	"bytes"
	"context"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// newHCLog gives raft a logger that writes to log: raft's errors as
// warnings (they are mostly a dead server, which the mesh also reports),
// its warnings as info, the rest at debug.
func newHCLog(log *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:        "raft",
		Output:      slogWriter{log},
		Level:       hclog.Debug,
		DisableTime: true,
	})
}

type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimSpace(p))
	level := slog.LevelDebug
	switch {
	case bytes.Contains(p, []byte("[ERROR]")):
		level = slog.LevelWarn
	case bytes.Contains(p, []byte("[WARN]")):
		level = slog.LevelInfo
	}
	w.log.Log(context.Background(), level, line)
	return len(p), nil
}
