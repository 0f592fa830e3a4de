package discovery

import "errors"

var (
	// ErrInvalidConfig is returned by New when the Config is unusable; the
	// wrapping error names the field.
	ErrInvalidConfig = errors.New("discovery: invalid config")

	// ErrClosed is returned by calls made after Close.
	ErrClosed = errors.New("discovery: closed")

	// ErrStateTooLarge is returned by UpdateState when a document exceeds
	// MaxStateSize.
	ErrStateTooLarge = errors.New("discovery: state too large")

	// ErrJoinFailed is returned by Join when none of the addresses could
	// be joined; it wraps memberlist's per-address errors.
	ErrJoinFailed = errors.New("discovery: join failed")
)

// errMalformed marks input from the network that failed validation. It never
// leaves the package: hostile input is logged and dropped.
var errMalformed = errors.New("discovery: malformed message")
