"""A pyzmp node providing add, echo and fail.

    python3 node.py [ENDPOINT]

ENDPOINT defaults to ipc:///tmp/pyzmp-demo/services.pipe. The node prints
the endpoint it bound, then serves until Ctrl-C, until its standard input
closes, or until a call of the service __stop__.
"""
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pyzmp.node import serve  # noqa: E402


def add(a, b):
    return a + b


def echo(*args, **kwargs):
    return {"args": list(args), "kwargs": kwargs}


def check(value):
    if value < 0:
        raise ValueError("bad input: %r is negative" % value)
    return value


def fail():
    check(-1)


def ready(endpoint):
    print(endpoint, flush=True)


def leave_with_stdin():
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    if not sys.stdin.isatty():
        threading.Thread(target=leave_with_stdin, daemon=True).start()
    endpoint = sys.argv[1] if len(sys.argv) > 1 else "ipc:///tmp/pyzmp-demo/services.pipe"
    try:
        serve(endpoint, {"add": add, "echo": echo, "fail": fail, "none": lambda: None}, ready)
    except KeyboardInterrupt:
        pass
