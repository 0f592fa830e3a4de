package consensus

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// identity is what a data directory remembers of its server.
type identity struct {
	Name string `json:"name"`
	Port int    `json:"raft_port"`
}

const identityFile = "server.json"

// StoredName returns the server name a data directory belongs to, or ""
// for a new directory.
func StoredName(dir string) (string, error) {
	id, err := readIdentity(dir)
	return id.Name, err
}

func readIdentity(dir string) (identity, error) {
	var id identity
	b, err := os.ReadFile(filepath.Join(dir, identityFile))
	if errors.Is(err, fs.ErrNotExist) {
		return id, nil
	}
	if err != nil {
		return id, fmt.Errorf("consensus: %w", err)
	}
	if err := json.Unmarshal(b, &id); err != nil {
		return id, fmt.Errorf("consensus: %s: %w", identityFile, err)
	}
	return id, nil
}

func writeIdentity(dir string, id identity) error {
	b, _ := json.Marshal(id)
	tmp := filepath.Join(dir, identityFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("consensus: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, identityFile)); err != nil {
		return fmt.Errorf("consensus: %w", err)
	}
	return nil
}
