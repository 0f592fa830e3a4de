package mesh

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned when the node has been closed.
	ErrClosed = errors.New("mesh: node closed")
	// ErrNotDelivered is returned when a request certainly did not reach a
	// handler (no link could be opened, the link died before the provider
	// acknowledged it, or the provider refused it unexecuted). Sending it to
	// another provider cannot execute it twice.
	ErrNotDelivered = errors.New("mesh: request not delivered")
	// ErrUnknownOutcome is returned when the provider acknowledged a request
	// and then its link died before the reply: the handler may or may not
	// have run.
	ErrUnknownOutcome = errors.New("mesh: provider lost after accepting the request, outcome unknown")
	// ErrTooLarge is returned when a message exceeds the maximum message size.
	ErrTooLarge = errors.New("mesh: message too large")
	// ErrProtocol is returned when a peer sends bytes that break the pyros
	// wire protocol; the connection is closed.
	ErrProtocol = errors.New("mesh: protocol violation")
	// ErrNoEndpoint is returned when a target has no endpoint this node can
	// reach.
	ErrNoEndpoint = errors.New("mesh: no usable endpoint")
	// ErrKeyRequired is returned when this node, which has no mesh key,
	// dials a node that requires one (it answered in TLS).
	ErrKeyRequired = errors.New("mesh: the other side requires a mesh key and this node has none")
	// ErrPeerOpen is returned when this node, which has a mesh key, dials a
	// node that has none (it answered in plain ZMTP).
	ErrPeerOpen = errors.New("mesh: the other side has no mesh key (an open mesh)")
	// ErrKeyRefused is returned when the other side rejected this node's
	// certificate: none of its keys signed it (during a key rotation, the
	// new key was made primary here before the other side installed it).
	// A dial to a node whose own certificate this node rejects fails with
	// meshkey.ErrNotMember instead.
	ErrKeyRefused = errors.New("mesh: the other side does not accept this node's mesh key")
	// ErrNoService is returned by a Handler (wrapped or not) when it does not
	// provide the requested service; the caller sees a *RemoteError with
	// CodeNoService, which also matches ErrNotDelivered.
	ErrNoService = errors.New("mesh: no such service")
	// ErrBadRequest is returned by a Handler (wrapped) when it cannot read
	// the request (unknown codec, payload of the wrong shape); the caller sees
	// a *RemoteError with CodeBadRequest.
	ErrBadRequest = errors.New("mesh: bad request")
)

// Code classifies a remote error.
type Code uint8

// Remote error codes.
const (
	CodeHandler     Code = 1 // the handler returned an error
	CodePanic       Code = 2 // the handler panicked
	CodeNoService   Code = 3 // the provider does not provide the service (not executed)
	CodeUnavailable Code = 4 // the provider is overloaded or closing (not executed)
	CodeBadRequest  Code = 5 // the provider could not read the request (not executed)
)

func (c Code) String() string {
	switch c {
	case CodeHandler:
		return "handler error"
	case CodePanic:
		return "handler panic"
	case CodeNoService:
		return "no such service"
	case CodeUnavailable:
		return "unavailable"
	case CodeBadRequest:
		return "bad request"
	}
	return fmt.Sprintf("code %d", uint8(c))
}

// executed reports whether a request answered with this code may have run.
func (c Code) executed() bool {
	return c == CodeHandler || c == CodePanic
}

// RemoteError is an error that a provider returned for a request.
type RemoteError struct {
	Peer    string // provider that answered
	Service string // service that was called
	Code    Code
	Message string
}

func (e *RemoteError) Error() string {
	if e.Code == CodeHandler {
		return fmt.Sprintf("remote error from %s (%s): %s", e.Peer, e.Service, e.Message)
	}
	return fmt.Sprintf("remote error from %s (%s): %s: %s", e.Peer, e.Service, e.Code, e.Message)
}

// Is makes a refusal that did not execute the request match ErrNotDelivered,
// and CodeNoService match ErrNoService.
func (e *RemoteError) Is(target error) bool {
	switch target {
	case ErrNotDelivered:
		return !e.Code.executed()
	case ErrNoService:
		return e.Code == CodeNoService
	case ErrBadRequest:
		return e.Code == CodeBadRequest
	}
	return false
}
