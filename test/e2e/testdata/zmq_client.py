"""A libzmq (pyzmq) DEALER that calls a pyros service over a peer's link.

Usage: zmq_client.py ENDPOINT SERVICE JSON_ARG
Prints the JSON reply payload, or "error <code> <message>" for a remote error.
"""
import sys

import zmq


def uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_uvarint(b, i):
    n, shift = 0, 0
    while True:
        c = b[i]
        i += 1
        n |= (c & 0x7F) << shift
        if c < 0x80:
            return n, i
        shift += 7


def string(b):
    return uvarint(len(b)) + b


def main():
    endpoint, service, arg = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.IDENTITY, b"libzmq-client")
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, 10000)
    s.connect(endpoint)
    # request: kind 1, id 7, timeout 5 s in microseconds, service, codec, payload
    body = bytes([1]) + uvarint(7) + uvarint(5000000) + string(service) + string(b"json") + arg
    s.send(bytes([1]) + uvarint(len(body)) + body)
    while True:
        frame = s.recv()
        assert frame[0] == 1, "wire version"
        i = 1
        while i < len(frame):
            n, i = read_uvarint(frame, i)
            msg, i = frame[i:i + n], i + n
            kind = msg[0]
            mid, j = read_uvarint(msg, 1)
            assert mid == 7
            if kind == 3:  # reply
                clen, j = read_uvarint(msg, j)
                assert msg[j:j + clen] == b"json"
                print(msg[j + clen:].decode())
                return
            if kind == 4:  # error
                print("error", msg[j], msg[j + 1:].decode())
                return


if __name__ == "__main__":
    main()
