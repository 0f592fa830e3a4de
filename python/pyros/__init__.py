"""pyros for Python: a process's member of a pyros mesh.

    import pyros
    with pyros.Node("cam") as n:
        n.provide("cam/snap", snap)
        n.call("demo/add", {"a": 2, "b": 3})

Needs only pyzmq. Values travel pickled, and are unpickled with only plain
data types allowed.
"""

from .link import LinkError
from .node import Node, PyrosError, RemoteError
from .state import Conflict

__all__ = ["Node", "PyrosError", "RemoteError", "LinkError", "Conflict"]
