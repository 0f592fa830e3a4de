"""A link to the local peer: one DEALER socket owned by one thread."""

import os
import queue
import threading
from concurrent.futures import Future

import zmq

from . import wire


class LinkError(Exception):
    """The link to the local peer failed or was closed."""


class Link:
    """Sends requests to the peer's API and resolves their futures.

    pyzmq sockets are not thread-safe, so one thread owns the socket; other
    threads queue requests and wake it through a pipe.
    """

    def __init__(self, endpoint):
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.connect(endpoint)
        self._out = queue.Queue()
        self._pending = {}
        self._lock = threading.Lock()
        self._next = 0
        self._closed = False
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="pyros-link", daemon=True)
        self._thread.start()

    def request(self, op, payload, timeout=30.0, want_reply=True):
        """Sends a request; returns a Future of (codec, payload)."""
        fut = Future()
        with self._lock:
            if self._closed:
                raise LinkError("link closed")
            self._next += 1
            mid = self._next
            if want_reply:
                self._pending[mid] = fut
            else:
                fut.set_result(None)
        self._out.put(wire.request(mid, timeout, op, "pickle", payload))
        os.write(self._wake_w, b"x")
        return fut

    def _run(self):
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        self._backlog = []  # frames the socket would not take yet
        try:
            while not self._closed:
                flags = zmq.POLLIN | (zmq.POLLOUT if self._backlog else 0)
                poller.modify(self._sock, flags)
                events = dict(poller.poll(1000))
                if self._wake_r in events:
                    os.read(self._wake_r, 65536)
                    self._gather()
                if events.get(self._sock, 0) & zmq.POLLIN:
                    self._receive()
                if self._backlog:
                    self._send()
        except Exception as e:  # the socket or the frames broke
            self._fail(LinkError(str(e)))
        finally:
            self._sock.close(0)
            self._ctx.term()

    def _gather(self):
        """Moves queued requests into frames of at most about 1 MiB."""
        batch, size = [], 0
        while True:
            try:
                m = self._out.get_nowait()
            except queue.Empty:
                break
            batch.append(m)
            size += len(m)
            if size > 1 << 20:
                self._backlog.append(wire.frame(batch))
                batch, size = [], 0
        if batch:
            self._backlog.append(wire.frame(batch))

    def _send(self):
        """Sends what the socket takes without blocking: the thread must
        keep reading replies, or the peer stops reading requests."""
        while self._backlog:
            try:
                self._sock.send(self._backlog[0], zmq.NOBLOCK)
            except zmq.Again:
                return
            self._backlog.pop(0)

    def _receive(self):
        while True:
            try:
                data = self._sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            for kind, mid, extra, payload in wire.messages(data):
                if kind in (wire.REPLY, wire.ERROR):
                    with self._lock:
                        fut = self._pending.pop(mid, None)
                    if fut is not None:
                        fut.set_result((kind, extra, bytes(payload)))

    def _fail(self, err):
        with self._lock:
            pending, self._pending = self._pending, {}
            self._closed = True
        for fut in pending.values():
            fut.set_exception(err)

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
        os.write(self._wake_w, b"x")
        self._thread.join()
        self._fail(LinkError("link closed"))
        os.close(self._wake_r)
        os.close(self._wake_w)
