package meshkey

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"slices"
	"time"
)

// Watch re-reads the key file at path every interval until ctx ends and
// puts its keys into r when they change, so that a mesh rotates keys by
// editing its key files: add the new key on a second line everywhere,
// then move it first everywhere, then delete the old line. A file that
// cannot be read or parsed leaves the ring as it is, with a warning.
func Watch(ctx context.Context, path string, r *Ring, interval time.Duration, log *slog.Logger) {
	var last []byte
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b, err := os.ReadFile(path)
		if err != nil || bytes.Equal(b, last) {
			if err != nil && last != nil {
				log.Warn("mesh key file unreadable; keeping the keys in use", "file", path, "err", err)
				last = nil
			}
			continue
		}
		last = b
		keys, err := ParseKeys(b)
		if err != nil {
			log.Warn("mesh key file invalid; keeping the keys in use", "file", path, "err", err)
			continue
		}
		if slices.Equal(keys, r.Keys()) {
			continue
		}
		if err := r.Set(keys...); err != nil {
			log.Warn("mesh key file rejected; keeping the keys in use", "file", path, "err", err)
			continue
		}
		log.Info("mesh keys changed", "file", path, "keys", r.IDs())
	}
}
