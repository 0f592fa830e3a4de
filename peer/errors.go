package peer

import (
	"errors"

	"github.com/pyros-mesh/pyros/mesh"
)

var (
	// ErrClosed is returned when the peer has been closed.
	ErrClosed = errors.New("peer: closed")
	// ErrUnknownService is returned by Call when no member provides the service.
	ErrUnknownService = errors.New("peer: unknown service")
	// ErrAlreadyProvided is returned by Provide for a name this peer already provides.
	ErrAlreadyProvided = errors.New("peer: service already provided here")
	// ErrInvalidName is returned for an empty or malformed service name.
	ErrInvalidName = errors.New("peer: invalid name")
	// ErrNoProvider is returned by Call when every provider was tried and none
	// could take the request.
	ErrNoProvider = errors.New("peer: no provider could take the call")
	// ErrUnknownOutcome is returned by Call when the provider acknowledged the
	// request and was lost before replying: the handler may have run.
	ErrUnknownOutcome = mesh.ErrUnknownOutcome
	// ErrConfig is returned by New for an invalid configuration.
	ErrConfig = errors.New("peer: invalid config")
)

// RemoteError is a handler's error (or panic) as the caller receives it; it
// names the provider. Use errors.As to get it.
type RemoteError = mesh.RemoteError
