// Package launcher starts a local mesh of pyros-peer processes and keeps
// it supervised: it is what `pyros-peer up` and the experiment runner use.
//
// A Mesh runs one `pyros-peer run` process per PeerSpec, in a run
// directory that holds each peer's log, data directory (for state
// servers) and fault socket. A peer that exits on its own is restarted;
// one stopped by a fault (Kill) stays down until Restart. Pause and
// Resume stop and continue a process (SIGSTOP, SIGCONT), so it stops
// answering without its sockets closing, as a hung or swapped-out process
// would. Every such action is logged with a timestamp in faults.log.
//
// A Mesh also answers on a unix control socket (ServeControl), so that
// other commands (`pyros-peer fault kill PEER`, `pyros-peer down`) can
// drive it; Control and Down are the client side.
package launcher
