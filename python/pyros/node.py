"""A Python process's member of the pyros mesh."""

import os
import re
import subprocess
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor

from . import safepickle, wire
from .link import Link, LinkError
from .state import State


class PyrosError(Exception):
    """An error of pyros itself."""


class RemoteError(PyrosError):
    """A call failed in the mesh: `code` says how ("handler error",
    "unknown-service", "timeout", ...), `peer` which provider answered."""

    def __init__(self, code, message, peer=""):
        super().__init__("%s: %s" % (code, message) if message else code)
        self.code, self.message, self.peer = code, message, peer


_READY = re.compile(r"api (ipc://\S+)")


class Node:
    """A Python process's member of the mesh.

    With no `api` endpoint (nor $PYROS_API), it starts its own peer process
    (`pyros-peer run --api`, from $PYROS_PEER or the PATH) and stops it on
    close: every process is a peer, there is no broker.

        with pyros.Node("cam") as n:
            n.provide("cam/snap", lambda arg: {"ok": True})
            n.call("demo/add", {"a": 2, "b": 3})
            n.publish("cam/frames", obj)
            n.subscribe("demo/ticks", print)
            n.state["k"] = "v"
    """

    def __init__(self, name=None, api=None, peer_args=(), workers=8):
        self._child = None
        api = api or os.environ.get("PYROS_API")
        if not api:
            api = self._spawn(name, peer_args)
        self._link = Link(api)
        self._handlers = {}
        self._subs = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="pyros-handler")
        self._closing = threading.Event()
        self._started = False
        self.state = State(self)
        self.name = self._op("whoami")["name"]

    def _spawn(self, name, peer_args):
        exe = os.environ.get("PYROS_PEER", "pyros-peer")
        cmd = [exe, "run", "--api", "--codec", "pickle", "--parent-stdin"]
        if name:
            cmd += ["--name", name]
        cmd += list(peer_args)
        # The peer leaves when its stdin closes: it dies with this process.
        try:
            self._child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        except OSError as e:
            raise PyrosError("cannot start %s (set $PYROS_PEER to the pyros-peer binary, "
                             "or $PYROS_API to a running peer's api endpoint): %s" % (exe, e)) from None
        line = self._child.stdout.readline()
        m = _READY.search(line)
        if not m:
            self._child.kill()
            self._child.wait()
            raise PyrosError("pyros-peer did not start: %r" % line)
        threading.Thread(target=self._child.stdout.read, daemon=True).start()
        return m.group(1)

    # operations on the local peer

    def _op(self, op, timeout=30.0, **fields):
        kind, extra, payload = self._link.request(op, safepickle.dumps(fields), timeout).result(timeout + 5)
        if kind == wire.ERROR:
            raise PyrosError("%s: %s: %s" % (op, extra, payload.decode(errors="replace")))
        return safepickle.loads(payload)

    def call(self, service, arg=None, timeout=10.0):
        """Calls a mesh service with arg and returns its result; raises
        RemoteError when the call fails."""
        rep = self._op("call", timeout=timeout, service=service, payload=safepickle.dumps(arg))
        if rep["ok"]:
            return safepickle.loads(rep["payload"])
        e = rep["error"]
        raise RemoteError(e.get("code", "failed"), e.get("message", ""), e.get("peer", ""))

    def members(self):
        """The mesh's members: [{name, addr, role, services, self}]."""
        return self._op("members")["members"]

    def services(self):
        """The mesh's services: [{name, providers, type}]."""
        return self._op("services")["services"]

    def streams(self):
        """The mesh's streams: [{name, publishers, subscribers, type}]."""
        return self._op("streams")["streams"]

    def observe(self, member=None, timeout=5.0):
        """What a member (default: this node's peer) says it sees and does:
        {name, host, started, role, sees, links, served, streams, faults},
        as pyros-peer top and the map show it."""
        return self._op("observe", timeout=timeout, key=member or "")["observation"]

    def provide(self, service, fn, type=None):
        """Provides service: fn(arg) answers each call. An exception in fn
        reaches the caller as a remote error with its type, message and
        traceback."""
        with self._lock:
            self._handlers[service] = fn
        self._op("provide", service=service, type=type or "")
        self._start()

    def publish(self, stream, obj, type=None):
        """Sends obj on stream; never waits for subscribers."""
        self._link.request("publish", safepickle.dumps({"stream": stream, "payload": safepickle.dumps(obj), "type": type or ""}),
                           want_reply=False)

    def subscribe(self, stream, callback):
        """Calls callback(obj) for each message of stream, from every
        publisher (in order per publisher; lossy under overload)."""
        with self._lock:
            self._subs.setdefault(stream, []).append(callback)
        self._op("subscribe", stream=stream)
        self._start()

    # the inbox: requests for provided services and stream messages

    def _start(self):
        with self._lock:
            if self._started:
                return
            self._started = True
        self._dispatcher = threading.Thread(target=self._dispatch, name="pyros-inbox", daemon=True)
        self._dispatcher.start()

    def _dispatch(self):
        while not self._closing.is_set():
            try:
                rep = self._op("next", timeout=1.0, max=1024)
            except (LinkError, PyrosError):
                if self._closing.is_set():
                    return
                continue
            for item in rep["items"]:
                if item["kind"] == "request":
                    self._pool.submit(self._serve, item)
                else:
                    self._deliver(item)

    def _deliver(self, item):
        with self._lock:
            callbacks = list(self._subs.get(item["stream"], ()))
        try:
            obj = safepickle.loads(item["payload"])
        except Exception:
            return
        for cb in callbacks:
            try:
                cb(obj)
            except Exception:
                traceback.print_exc()

    def _serve(self, item):
        with self._lock:
            fn = self._handlers.get(item["service"])
        try:
            if fn is None:
                raise LookupError("%s is not provided here" % item["service"])
            out = {"ok": True, "payload": safepickle.dumps(fn(safepickle.loads(item["payload"])))}
        except Exception as e:
            text = "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc())
            out = {"ok": False, "error": text}
        try:
            self._op("reply", id=item["id"], **out)
        except (LinkError, PyrosError):
            pass

    def close(self):
        """Leaves the mesh: stops the peer process it started."""
        if self._closing.is_set():
            return
        self._closing.set()
        if self._started:
            self._dispatcher.join(5)
        self._pool.shutdown(wait=True)
        self._link.close()
        if self._child is not None:
            self._child.stdin.close()  # the peer leaves
            try:
                self._child.wait(10)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()
            self._child.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
