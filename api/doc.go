// Package api serves a peer to a process written in another language on
// the same host, such as a Python program using the pyros package: over a
// private unix-socket link, speaking the mesh wire, the process calls and
// provides services, publishes and subscribes to streams and uses the
// shared state, while the peer does the mesh side (gossip, links, raft).
//
// Every operation is a request on that link whose name is the operation
// ("call", "provide", "next", ...) and whose payload is a pickled dict: the
// process needs nothing but its language's pickle and a ZeroMQ socket.
// Values travel pickled; the server converts to and from the codecs of Go
// peers, so a Python service answers Go callers and the other way round.
// Requests for services the process provides, and messages of streams it
// subscribes to, wait in an inbox that the process drains with "next".
package api
