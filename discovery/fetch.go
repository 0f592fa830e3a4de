package discovery

import (
	"log/slog"
	"time"

	"github.com/hashicorp/memberlist"
)

const (
	// fetchWorkers send fetch requests and answers; several so that one
	// slow peer does not hold up the others.
	fetchWorkers = 4
	// fetchQueue bounds pending sends; excess fetches are retried later,
	// excess answers are dropped and re-requested by their requester.
	fetchQueue = 256
)

// fetcher pulls state documents too large to gossip, and those of members
// that just joined, directly from their owner over memberlist's reliable
// (TCP) channel, and answers such requests for the local document.
type fetcher struct {
	table  *stateTable
	send   func(to *memberlist.Node, msg []byte) error
	retry  time.Duration // a fetch without answer is repeated after this
	logger *slog.Logger

	wakeCh chan struct{}
	jobs   chan fetchJob
}

type fetchJob struct {
	to    memberlist.Node
	reply bool // answer a fetch (true) or send one (false)
}

func newFetcher(table *stateTable, retry time.Duration, logger *slog.Logger) *fetcher {
	return &fetcher{
		table:  table,
		retry:  retry,
		logger: logger,
		wakeCh: make(chan struct{}, 1),
		jobs:   make(chan fetchJob, fetchQueue),
	}
}

// fetchRetry derives the fetch retry interval from memberlist's timers: a few
// probe intervals, at least 500 ms and at most 5 s.
func fetchRetry(c *memberlist.Config) time.Duration {
	return min(max(4*c.ProbeInterval, 500*time.Millisecond), 5*time.Second)
}

// wake asks the scheduler to look for missing documents. It never blocks.
func (f *fetcher) wake() {
	select {
	case f.wakeCh <- struct{}{}:
	default:
	}
}

// schedule turns missing documents into fetch jobs when woken, and every half
// retry interval to repeat fetches that got no answer.
func (f *fetcher) schedule(stop <-chan struct{}) {
	tick := time.NewTicker(f.retry / 2)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-f.wakeCh:
		case <-tick.C:
		}
		for _, n := range f.table.dueFetches(time.Now(), f.retry) {
			select {
			case f.jobs <- fetchJob{to: n}:
			default:
				// Full: this member is due again after retry.
			}
		}
	}
}

// requestReply queues an answer to a fetch from requester. Called from
// memberlist's message handler, so it never blocks.
func (f *fetcher) requestReply(requester string) {
	node, ok := f.table.claimReply(requester, time.Now(), f.retry/2)
	if !ok {
		return
	}
	select {
	case f.jobs <- fetchJob{to: node, reply: true}:
	default:
		f.table.replyDone(requester, stamp{}, time.Time{})
	}
}

// work sends queued jobs until stop closes.
func (f *fetcher) work(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case j := <-f.jobs:
			f.do(j)
		}
	}
}

func (f *fetcher) do(j fetchJob) {
	if !j.reply {
		if err := f.send(&j.to, encodeFetch(f.table.self, j.to.Name)); err != nil {
			f.logger.Debug("state fetch failed", "member", j.to.Name, "err", err)
		}
		return
	}
	st, doc := f.table.localDoc()
	err := f.send(&j.to, encodeState(msgReply, f.table.self, st, doc))
	if err != nil {
		f.logger.Debug("state reply failed", "member", j.to.Name, "err", err)
		st = stamp{}
	}
	f.table.replyDone(j.to.Name, st, time.Now())
}
