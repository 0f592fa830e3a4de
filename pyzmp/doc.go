// Package pyzmp speaks the service protocol of pyzmp, the original Python
// pyros runtime, so that pyzmp programs and the mesh call each other with
// no change to the pyzmp side.
//
// pyzmp's wire: a node binds a ZeroMQ REP socket; a client's REQ socket
// sends one frame, the pickle of the namedtuple
// pyzmp.message.ServiceRequest(service, args, kwargs), where args and
// kwargs are themselves pickles of the positional-argument tuple and the
// keyword dict. The reply is the pickle of
// pyzmp.message.ServiceResponse(service, response, exception): response
// is the pickled result or, on error, exception is a
// pyzmp.message.ServiceException(exc_type, exc_value, traceback) of
// pickles. An unknown service raises pyzmp.exceptions.UnknownServiceException.
//
// Serve binds such an endpoint on a peer, so that
// pyzmp.Service(name, [(node, endpoint)]).call(args, kwargs) reaches any
// mesh service. Import makes a running pyzmp node's service a mesh service.
//
// A mesh request carries one value, a pyzmp call positional and keyword
// arguments. They map onto each other so that the usual cases read
// naturally on both sides:
//
//	pyzmp call                    mesh request value
//	call()                        nil
//	call(args=(x,))               x
//	call(kwargs={"a": 1})         {"a": 1}
//	call(args=(x, y))             [x, y]
//	call(args=(x,), kwargs=k)     {"args": [x], "kwargs": k}
//
// and the other way, for Import: nil calls with no arguments; a map with
// string keys calls with those keyword arguments, except a map of exactly
// "args" (a list) and "kwargs" (a map), which calls with both; a list calls
// with its items as positional arguments; any other value is the one
// positional argument. To pass one list or map as a single positional
// argument, send {"args": [value], "kwargs": {}}.
//
// Errors: a failed mesh call raises, in the pyzmp caller, the builtin
// exception a Python provider raised (ValueError, KeyError...) when it has
// one by that name, TimeoutError for a deadline, TypeError for a request
// the provider could not read, UnknownServiceException for a service no
// member provides, and RuntimeError otherwise, with the mesh error's text.
// The traceback sent is None, which pyzmp accepts (tblib is not needed on
// either side). A pyzmp node's exception reaches mesh callers as a remote
// error "Type: message" followed by the traceback, read from tblib's
// Traceback when the node sent one.
package pyzmp
