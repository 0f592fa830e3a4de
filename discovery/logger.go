package discovery

import (
	"context"
	"log"
	"log/slog"
	"strings"
	"sync/atomic"
)

// newMemberlistLogger adapts slog to the *log.Logger memberlist expects.
// memberlist tags each line with a level prefix such as "[DEBUG] memberlist: ";
// the prefix selects the slog level and is stripped from the message.
func newMemberlistLogger(l *slog.Logger) (*log.Logger, *logWriter) {
	w := &logWriter{logger: l.With("sub", "memberlist")}
	return log.New(w, "", 0), w
}

type logWriter struct {
	logger *slog.Logger
	// muted demotes every line to debug level. It is set when memberlist
	// shuts down: its goroutines wind down asynchronously and report the
	// closed sockets they trip over.
	muted atomic.Bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	level, msg := parseLogLine(string(p))
	if w.muted.Load() {
		level = slog.LevelDebug
	}
	ctx := context.Background()
	if w.logger.Enabled(ctx, level) {
		w.logger.Log(ctx, level, msg)
	}
	return len(p), nil
}

// logPrefixes maps memberlist's level tags to slog levels.
var logPrefixes = []struct {
	tag   string
	level slog.Level
}{
	{"[DEBUG]", slog.LevelDebug},
	{"[INFO]", slog.LevelInfo},
	{"[WARN]", slog.LevelWarn},
	{"[ERR]", slog.LevelError},
	{"[ERROR]", slog.LevelError},
}

// parseLogLine splits a memberlist log line into level and message. Lines
// without a known tag are logged at Info.
func parseLogLine(line string) (slog.Level, string) {
	line = strings.TrimRight(line, "\r\n")
	level := slog.LevelInfo
	for _, p := range logPrefixes {
		if rest, ok := strings.CutPrefix(line, p.tag); ok {
			level, line = p.level, strings.TrimLeft(rest, " ")
			break
		}
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	switch {
	case strings.HasPrefix(line, "Conflicting address for"):
		level = slog.LevelInfo // a peer restarted under its name; accepted once the old one is dead
	case level == slog.LevelError && routine(line):
		level = slog.LevelWarn
	}
	return level, line
}

// routine reports whether memberlist calls an error what is expected in a
// mesh where peers crash: a dead peer that cannot be reached.
func routine(msg string) bool {
	return strings.HasPrefix(msg, "Push/Pull with") ||
		strings.HasPrefix(msg, "Failed to send") ||
		strings.HasPrefix(msg, "Failed fallback ping")
}
