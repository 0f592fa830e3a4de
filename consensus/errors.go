package consensus

import "errors"

var (
	// ErrNotLeader means the server is not the leader; the error message
	// names the leader when the server knows it.
	ErrNotLeader = errors.New("consensus: not the leader")
	// ErrNoLeader means the cluster has no leader at the moment.
	ErrNoLeader = errors.New("consensus: no leader")
	// ErrCompacted means a watch asked for events older than the server
	// still keeps.
	ErrCompacted = errors.New("consensus: revision compacted")
	// ErrClosed means the server was closed.
	ErrClosed = errors.New("consensus: closed")
	// ErrConfig reports an invalid configuration.
	ErrConfig = errors.New("consensus: invalid configuration")
	// ErrBadCommand reports a command that does not decode.
	ErrBadCommand = errors.New("consensus: malformed command")
	// ErrClaimed means a server already agreed to another claimant's
	// bootstrap, or is already part of a cluster.
	ErrClaimed = errors.New("consensus: already claimed")
)
