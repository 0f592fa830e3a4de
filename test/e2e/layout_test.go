package e2e

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLayout checks the repository's rules: every package says what it is
// for, and zmq4 stays behind mesh/ (the CLI's raw baseline for benchmarks
// and tests excepted), so it can be hardened or replaced in one place.
func TestLayout(t *testing.T) {
	documented := map[string]bool{}
	seen := map[string]bool{}
	root := "../.."
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		dir, _ := filepath.Rel(root, filepath.Dir(path))
		test := strings.HasSuffix(path, "_test.go")
		if !test {
			seen[dir] = true
			if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
				documented[dir] = true
			}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "github.com/go-zeromq/zmq4") && dir != "mesh" && !test &&
				!strings.HasPrefix(filepath.Base(path), "bench_") {
				t.Errorf("%s imports %s: zmq4 belongs behind mesh/", path, p)
			}
		}
		return nil
	})
	for dir := range seen {
		if !documented[dir] {
			t.Errorf("package %s has no package doc comment", dir)
		}
	}
	if len(seen) < 7 {
		t.Fatalf("found only %d packages", len(seen))
	}
}
