"""The mesh's shared state, as a mapping."""

from . import safepickle


class Conflict(Exception):
    """A compare-and-swap or compare-and-delete found the key at another
    revision."""


class State:
    """The shared state (a key/value store replicated among the mesh's state
    servers), read and written like a dict: state["k"] = v, state["k"],
    del state["k"], "k" in state. Reads are linearizable; get(key,
    stale=True) reads the nearest replica."""

    def __init__(self, node):
        self._node = node

    def get(self, key, default=None, stale=False):
        rep = self._node._op("get", key=key, stale=stale)
        if not rep["found"]:
            return default
        return safepickle.loads(rep["payload"])

    def entry(self, key, stale=False):
        """Returns (value, revision), or (None, 0) for a missing key."""
        rep = self._node._op("get", key=key, stale=stale)
        if not rep["found"]:
            return None, 0
        return safepickle.loads(rep["payload"]), rep["rev"]

    def put(self, key, value):
        """Sets key and returns the change's revision."""
        return self._node._op("put", key=key, payload=safepickle.dumps(value))["rev"]

    def compare_and_swap(self, key, rev, value):
        """Sets key only if it is at revision rev (0: absent); raises
        Conflict otherwise. Returns the new revision."""
        rep = self._node._op("cas", key=key, rev=rev, payload=safepickle.dumps(value))
        if not rep["ok"]:
            raise Conflict(rep["error"])
        return rep["rev"]

    def delete(self, key):
        """Deletes key; returns whether it existed."""
        return self._node._op("delete", key=key)["deleted"]

    def compare_and_delete(self, key, rev):
        """Deletes key only if it is at revision rev; raises Conflict
        otherwise."""
        if rev <= 0:
            raise ValueError("rev must be a key's revision, 1 or more")
        rep = self._node._op("delete", key=key, rev=rev)
        if not rep["deleted"]:
            raise Conflict(rep["error"])

    def items(self, prefix="", stale=False):
        """Returns [(key, value)] of the keys under prefix, by key."""
        rep = self._node._op("list", key=prefix, stale=stale)
        return [(e["key"], safepickle.loads(e["payload"])) for e in rep["entries"]]

    _missing = object()

    def __getitem__(self, key):
        v = self.get(key, self._missing)
        if v is self._missing:
            raise KeyError(key)
        return v

    def __setitem__(self, key, value):
        self.put(key, value)

    def __delitem__(self, key):
        if not self.delete(key):
            raise KeyError(key)

    def __contains__(self, key):
        return self.get(key, self._missing) is not self._missing
