"""A minimal implementation of pyzmp's service protocol.

It speaks exactly the wire of pyzmp, the original Python pyros runtime:
the same namedtuple classes under the same module names
(pyzmp.message.ServiceRequest...), the same double pickling of
arguments, the same REQ/REP exchange. Use it to try pyros's pyzmp bridge
without pyzmp installed; programs that use pyzmp itself work the same.
"""
