package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/peer"
)

func cmdCall(args []string, out, errw io.Writer) int {
	fs := newFlagSet("call", "SERVICE [JSON] [--timeout 5s] [peer flags]",
		"Call SERVICE with the JSON argument (default null) and print the result as JSON.\nExits 1 with a one-line error when the call fails.")
	var pf peerFlags
	pf.register(fs)
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	pos, code, ok := parse(fs, args, errw, 1, 2)
	if !ok {
		return code
	}
	var arg any
	if len(pos) == 2 {
		v, err := parseJSON(pos[1])
		if err != nil {
			fmt.Fprintln(errw, "pyros-peer call:", err)
			return exitUsage
		}
		arg = v
	}
	if *timeout <= 0 {
		fmt.Fprintln(errw, "pyros-peer call: --timeout must be positive")
		return exitUsage
	}
	p, code := queryPeer("call", &pf, errw, false)
	if p == nil {
		return code
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var res any
	if err := p.Call(ctx, pos[0], arg, &res); err != nil {
		fmt.Fprintln(errw, "pyros-peer call:", describe(err, *timeout))
		return exitFail
	}
	b, err := json.Marshal(codec.JSONable(res))
	if err != nil {
		fmt.Fprintln(errw, "pyros-peer call: result is not JSON:", err)
		return exitFail
	}
	fmt.Fprintln(out, string(b))
	return exitOK
}

// describe makes a call error read well on one line.
func describe(err error, timeout time.Duration) string {
	var re *peer.RemoteError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("timed out after %v", timeout)
	case errors.As(err, &re):
		return err.Error()
	}
	return err.Error()
}
