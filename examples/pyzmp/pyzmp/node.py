"""pyzmp's provider side: a REP socket answering ServiceRequests."""
import os
import pickle
import sys

import zmq

try:
    from tblib import Traceback
except ImportError:
    Traceback = None

from .exceptions import UnknownServiceException
from .message import ServiceException, ServiceResponse


def serve(endpoint, providers, ready=None):
    """Answers requests on endpoint with the functions in providers (a
    dict name -> function) until a request for "__stop__"."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.REP)
    sock.setsockopt(zmq.LINGER, 0)
    if endpoint.startswith("ipc://"):  # pyzmp makes the socket's directory
        os.makedirs(os.path.dirname(endpoint[len("ipc://"):]), exist_ok=True)
    sock.bind(endpoint)
    if ready:
        ready(sock.getsockopt(zmq.LAST_ENDPOINT).decode())
    while True:
        req = pickle.loads(sock.recv())
        if req.service == "__stop__":
            sock.send(pickle.dumps(ServiceResponse(service=req.service, response=pickle.dumps(None))))
            break
        try:
            if req.service not in providers:
                raise UnknownServiceException("Unknown Service {0}".format(req.service))
            args = pickle.loads(req.args) if req.args else ()
            kwargs = pickle.loads(req.kwargs) if req.kwargs else {}
            result = providers[req.service](*args, **kwargs)
            sock.send(pickle.dumps(ServiceResponse(service=req.service, response=pickle.dumps(result))))
        except Exception:
            exctype, excvalue, tb = sys.exc_info()
            ftb = Traceback(tb) if Traceback else "tblib is not installed"
            sock.send(pickle.dumps(ServiceResponse(service=req.service, exception=ServiceException(
                exc_type=pickle.dumps(exctype), exc_value=pickle.dumps(excvalue), traceback=pickle.dumps(ftb)))))
    sock.close()
