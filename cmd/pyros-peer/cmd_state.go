package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/peer"
)

// stateVerbs are the subcommands of "state".
var stateVerbs = map[string]struct {
	args     string
	min, max int
	run      func(ctx context.Context, st *peer.State, pos []string, o stateFlags, out io.Writer) error
}{
	"get":   {"KEY [--stale] [--json]", 1, 1, stateGet},
	"put":   {"KEY JSON", 2, 2, statePut},
	"del":   {"KEY [--rev REV]  (REV: only if KEY is at that revision)", 1, 1, stateDel},
	"cas":   {"KEY REV JSON  (REV 0: only if KEY does not exist)", 3, 3, stateCAS},
	"list":  {"[PREFIX] [--stale]", 0, 1, stateList},
	"watch": {"[PREFIX] [--from REV] [--count N]", 0, 1, stateWatch},
}

type stateFlags struct {
	stale, asJSON bool
	from, rev     int64
	count         int
}

const stateUsage = "get|put|del|cas|list|watch ARGS [flags]"

func cmdState(args []string, out, errw io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(errw, "Usage: pyros-peer state %s\n\n", stateUsage)
		for _, name := range []string{"get", "put", "del", "cas", "list", "watch"} {
			fmt.Fprintf(errw, "  state %-5s %s\n", name, stateVerbs[name].args)
		}
		fmt.Fprintln(errw, "\nValues are JSON. Run \"pyros-peer state VERB --help\" for the flags.")
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	sv, ok := stateVerbs[args[0]]
	if !ok {
		fmt.Fprintf(errw, "pyros-peer state: unknown subcommand %q (get, put, del, cas, list or watch)\n", args[0])
		return exitUsage
	}
	name := "state " + args[0]
	fs := newFlagSet(name, sv.args, "Read or change the mesh's shared state (kept by the peers run with --data).")
	var pf peerFlags
	pf.register(fs)
	var o stateFlags
	timeout := registerStateFlags(fs, &o, args[0])
	pos, code, ok := parse(fs, args[1:], errw, sv.min, sv.max)
	if !ok {
		return code
	}
	p, code := queryPeer(name, &pf, errw, false)
	if p == nil {
		return code
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	if *timeout > 0 {
		ctx, cancel = context.WithTimeout(context.Background(), *timeout)
	}
	defer cancel()
	if err := sv.run(ctx, p.State(), pos, o, out); err != nil {
		fmt.Fprintf(errw, "pyros-peer %s: %v\n", name, err)
		if errors.Is(err, errUsage) {
			return exitUsage
		}
		return exitFail
	}
	return exitOK
}

var errUsage = errors.New("bad argument")

func registerStateFlags(fs *flag.FlagSet, o *stateFlags, verb string) *time.Duration {
	def := 10 * time.Second
	switch verb {
	case "get", "list":
		fs.BoolVar(&o.stale, "stale", false, "read the nearest replica (may lag) instead of a linearizable read")
		fs.BoolVar(&o.asJSON, "json", false, "print the entry with its revisions, not just the value")
	case "del":
		fs.Int64Var(&o.rev, "rev", 0, "delete only if the key is at this revision (default: whatever it holds)")
	case "watch":
		fs.Int64Var(&o.from, "from", 0, "start at this revision (default: now)")
		fs.IntVar(&o.count, "count", 0, "stop after N changes (0: never)")
		def = 0
	}
	return fs.Duration("timeout", def, "give up after this long (0: never)")
}

func stateGet(ctx context.Context, st *peer.State, pos []string, o stateFlags, out io.Writer) error {
	e, err := st.Get(ctx, pos[0], readOpts(o)...)
	if err != nil {
		return err
	}
	if o.asJSON {
		return printLine(out, entryJSON(e))
	}
	return printLine(out, value(e))
}

func statePut(ctx context.Context, st *peer.State, pos []string, _ stateFlags, out io.Writer) error {
	v, err := parseJSON(pos[1])
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	rev, err := st.Put(ctx, pos[0], v)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, rev)
	return nil
}

func stateDel(ctx context.Context, st *peer.State, pos []string, o stateFlags, out io.Writer) error {
	if o.rev < 0 {
		return fmt.Errorf("%w: --rev must be a revision number, not %d", errUsage, o.rev)
	}
	if o.rev > 0 {
		if err := st.CompareAndDelete(ctx, pos[0], o.rev); err != nil {
			return err
		}
		fmt.Fprintln(out, "deleted")
		return nil
	}
	ok, err := st.Delete(ctx, pos[0])
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintln(out, "absent")
		return nil
	}
	fmt.Fprintln(out, "deleted")
	return nil
}

func stateCAS(ctx context.Context, st *peer.State, pos []string, _ stateFlags, out io.Writer) error {
	rev, err := strconv.ParseInt(pos[1], 10, 64)
	if err != nil || rev < 0 {
		return fmt.Errorf("%w: REV must be a revision number, not %q", errUsage, pos[1])
	}
	v, err := parseJSON(pos[2])
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	rev, err = st.CompareAndSwap(ctx, pos[0], rev, v)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, rev)
	return nil
}

func stateList(ctx context.Context, st *peer.State, pos []string, o stateFlags, out io.Writer) error {
	es, _, err := st.List(ctx, first(pos), readOpts(o)...)
	if err != nil {
		return err
	}
	for _, e := range es {
		if err := printLine(out, entryJSON(e)); err != nil {
			return err
		}
	}
	return nil
}

func stateWatch(ctx context.Context, st *peer.State, pos []string, o stateFlags, out io.Writer) error {
	var opts []peer.StateOption
	if o.from > 0 {
		opts = append(opts, peer.FromRev(o.from))
	}
	w, err := st.Watch(ctx, first(pos), opts...)
	if err != nil {
		return err
	}
	defer w.Close()
	n := 0
	for c := range w.Changes() {
		line := entryJSON(c.Entry)
		line["type"] = c.Type.String()
		if err := printLine(out, line); err != nil {
			return err
		}
		if n++; o.count > 0 && n == o.count {
			return nil
		}
	}
	if err := w.Err(); err != nil {
		return err
	}
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("%d change(s), then the timeout", n)
	}
	return nil
}

func readOpts(o stateFlags) []peer.StateOption {
	if o.stale {
		return []peer.StateOption{peer.Stale()}
	}
	return nil
}

func first(pos []string) string {
	if len(pos) == 0 {
		return ""
	}
	return pos[0]
}

// value decodes an entry's value into plain JSON-able values.
func value(e peer.Entry) any {
	if e.Value == nil {
		return nil
	}
	var v any
	if err := e.Decode(&v); err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return codec.JSONable(v)
}

func entryJSON(e peer.Entry) map[string]any {
	m := map[string]any{"key": e.Key, "rev": e.Rev}
	if e.Value != nil {
		m["value"] = value(e)
		m["created"], m["version"] = e.Created, e.Version
	}
	if e.Owner != "" {
		m["owner"] = e.Owner
	}
	return m
}

func printLine(out io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%s\n", b)
	return err
}
