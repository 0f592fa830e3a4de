"""pyzmp's client side: Service(name, providers).call(args, kwargs)."""
import pickle

import six
import zmq

try:
    from tblib import Traceback
except ImportError:
    Traceback = None

from .exceptions import UnknownResponseTypeException
from .message import ServiceRequest


class ServiceCallTimeout(Exception):
    pass


class Service(object):
    def __init__(self, name, providers=None):
        self.name = name
        self.providers = providers or []

    def call(self, args=None, kwargs=None, node=None, send_timeout=1000, recv_timeout=5000, zmq_ctx=None):
        context = zmq_ctx or zmq.Context.instance()
        args = args or ()
        assert isinstance(args, tuple)
        kwargs = kwargs or {}
        assert isinstance(kwargs, dict)
        socket = context.socket(zmq.REQ)
        socket.setsockopt(zmq.LINGER, 0)
        try:
            for n, a in self.providers:
                if not node or n == node:
                    socket.connect(a)
            req = ServiceRequest(service=self.name, args=pickle.dumps(args), kwargs=pickle.dumps(kwargs))
            poller = zmq.Poller()
            poller.register(socket)
            if dict(poller.poll(send_timeout)).get(socket) != zmq.POLLOUT:
                raise ServiceCallTimeout("Can not send request through ZMQ socket.")
            socket.send(pickle.dumps(req))
            if dict(poller.poll(recv_timeout)).get(socket) != zmq.POLLIN:
                raise ServiceCallTimeout("Did not receive response through ZMQ socket.")
            resp = pickle.loads(socket.recv())
        finally:
            socket.close()
        if resp.response is not None:
            return pickle.loads(resp.response)
        if resp.exception is not None:
            exc = resp.exception
            tb = pickle.loads(exc.traceback)
            if Traceback and isinstance(tb, Traceback):
                six.reraise(pickle.loads(exc.exc_type), pickle.loads(exc.exc_value), tb.as_traceback())
            six.reraise(pickle.loads(exc.exc_type), pickle.loads(exc.exc_value), None)
        raise UnknownResponseTypeException("Unknown Response Type {0}".format(type(resp)))
