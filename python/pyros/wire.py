"""The pyros mesh wire: batches of messages in one ZeroMQ frame.

frame   = version:byte message*
message = length:uvarint kind:byte body
request = id:uvarint timeout_us:uvarint service:str codec:str payload
ack     = id:uvarint
reply   = id:uvarint codec:str payload
error   = id:uvarint code:byte message
"""

VERSION = 1
REQUEST, ACK, REPLY, ERROR = 1, 2, 3, 4

# Error codes of the mesh (mesh/errors.go).
ERROR_CODES = {1: "handler error", 2: "handler panic", 3: "no such service", 4: "unavailable",
               5: "bad request"}


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
        if i >= len(b):
            raise ValueError("truncated uvarint")
        c = b[i]
        i += 1
        n |= (c & 0x7F) << shift
        if c < 0x80:
            return n, i
        shift += 7
        if shift > 63:
            raise ValueError("uvarint overflow")


def string(s):
    return uvarint(len(s)) + s


def request(mid, timeout, service, codec, payload):
    """Encodes one request message (without the frame's version byte)."""
    body = bytes([REQUEST]) + uvarint(mid) + uvarint(int(timeout * 1e6)) + \
        string(service.encode()) + string(codec.encode()) + payload
    return uvarint(len(body)) + body


def frame(messages):
    return bytes([VERSION]) + b"".join(messages)


def messages(frame_bytes):
    """Yields (kind, id, codec_or_code, payload) of a frame's messages."""
    if not frame_bytes or frame_bytes[0] != VERSION:
        raise ValueError("not a pyros frame")
    i = 1
    while i < len(frame_bytes):
        n, i = read_uvarint(frame_bytes, i)
        msg, i = frame_bytes[i:i + n], i + n
        kind = msg[0]
        mid, j = read_uvarint(msg, 1)
        if kind == REPLY:
            clen, j = read_uvarint(msg, j)
            yield kind, mid, msg[j:j + clen].decode(), msg[j + clen:]
        elif kind == ERROR:
            yield kind, mid, ERROR_CODES.get(msg[j], str(msg[j])), msg[j + 1:]
        else:
            yield kind, mid, None, b""
