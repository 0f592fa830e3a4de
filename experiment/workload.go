package experiment

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

// streamName is the stream of the stream workload.
const streamName = "exp/stream"

// runWorkload runs the clients and the fault schedule for the scenario's
// duration, then returns once every client has stopped.
func (r *runner) runWorkload(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, r.s.Duration.Duration)
	defer cancel()
	var wg sync.WaitGroup
	w := r.s.Workload
	for i := range w.Clients {
		wg.Go(func() { r.stateClient(ctx, fmt.Sprintf("state-%d", i+1), i) })
	}
	for i := range w.Calls {
		wg.Go(func() { r.callClient(ctx, fmt.Sprintf("call-%d", i+1)) })
	}
	if w.Stream {
		r.streamWorkload(ctx, &wg)
	}
	wg.Go(func() { r.schedule(ctx) })
	wg.Wait()
}

// pace returns a ticker for rate operations per second.
func pace(rate float64) *time.Ticker {
	return time.NewTicker(time.Duration(float64(time.Second) / rate))
}

// stateClient writes, reads, swaps and deletes random keys.
func (r *runner) stateClient(ctx context.Context, name string, seed int) {
	rnd := rand.New(rand.NewPCG(uint64(seed), uint64(time.Now().UnixNano())))
	st := r.client.State()
	revs := map[string]int64{} // last revision this client saw, per key
	t := pace(r.s.Workload.Rate)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		key := "exp/k" + strconv.Itoa(rnd.IntN(r.s.Workload.Keys))
		value := fmt.Sprintf("%s-%d", name, n)
		op := Op{Client: name, Key: key, Start: time.Now()}
		octx, cancel := context.WithTimeout(context.Background(), r.s.Workload.Timeout.Duration) // not ctx: an op in flight ends on its own deadline
		var err error
		switch x := rnd.IntN(100); {
		case x < 40:
			op.Kind, op.Value = "put", value
			op.Rev, err = st.Put(octx, key, value)
		case x < 80:
			op.Kind = "get"
			var e peer.Entry
			if e, err = st.Get(octx, key); err == nil {
				op.Rev = e.Rev
				err = e.Decode(&op.Value)
			}
		case x < 95:
			op.Kind, op.Value, op.Prev = "cas", value, revs[key]
			op.Rev, err = st.CompareAndSwap(octx, key, op.Prev, value)
		default:
			op.Kind = "delete"
			var existed bool
			existed, err = st.Delete(octx, key)
			if err == nil {
				op.Value = strconv.FormatBool(existed)
			}
		}
		cancel()
		op = op.Done(err)
		if op.Outcome == OK && op.Rev > 0 {
			revs[key] = op.Rev
		} else if errors.Is(err, peer.ErrNotFound) || op.Kind == "delete" && op.Outcome == OK {
			revs[key] = 0
		}
		r.rec.Add(op)
	}
}

// callClient calls demo/echo and checks the echo.
func (r *runner) callClient(ctx context.Context, name string) {
	t := pace(r.s.Workload.CallRate)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		want := fmt.Sprintf("%s-%d", name, n)
		op := Op{Client: name, Kind: "call", Key: "demo/echo", Value: want, Start: time.Now()}
		octx, cancel := context.WithTimeout(context.Background(), r.s.Workload.Timeout.Duration)
		var got string
		err := r.client.Call(octx, "demo/echo", want, &got)
		cancel()
		if err == nil && got != want {
			err = fmt.Errorf("experiment: demo/echo answered %q to %q", got, want)
		}
		r.rec.Add(op.Done(err))
	}
}

// streamWorkload publishes numbered messages from exp-pub and records
// what exp-sub receives.
func (r *runner) streamWorkload(ctx context.Context, wg *sync.WaitGroup) {
	sub, err := r.sub.Subscribe(ctx, streamName, func(m peer.Message) {
		var id string
		if m.Decode(&id) != nil {
			return
		}
		now := time.Now()
		r.rec.Add(Op{Client: "exp-sub", Kind: "receive", Key: streamName, Value: id, Start: now, End: now, Outcome: OK})
	})
	if err != nil {
		r.say("stream workload off: %v", err)
		return
	}
	pub, err := r.pub.Publish(streamName)
	if err != nil {
		sub.Close()
		r.say("stream workload off: %v", err)
		return
	}
	deadline := time.Now().Add(10 * time.Second) // let the subscription reach the publisher
	for len(r.pub.Streams()) == 0 || !subscribed(r.pub, streamName) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	wg.Go(func() {
		defer sub.Close()
		defer pub.Close()
		t := pace(r.s.Workload.PubRate)
		defer t.Stop()
		for n := uint64(1); ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			id := strconv.FormatUint(n, 10)
			op := Op{Client: "exp-pub", Kind: "publish", Key: streamName, Value: id, Seq: n, Start: time.Now()}
			r.rec.Add(op.Done(pub.Send(id)))
		}
	})
}

// subscribed reports whether p knows a subscriber of stream.
func subscribed(p *peer.Peer, stream string) bool {
	for _, s := range p.Streams() {
		if s.Name == stream && len(s.Subscribers) > 0 {
			return true
		}
	}
	return false
}
