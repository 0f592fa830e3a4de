"""Writes the pickle fixtures that codec/pickle_test.go decodes.

Run from this directory with Debian's Python 3:

    /usr/bin/python3 gen.py

Each value in VALUES is pickled at protocols 0 to 5 into NAME_pP.pickle.
The Go test holds the value each fixture must decode to, under the same
name. The hash seed is fixed so that sets come out in the same order.
"""

import collections
import os
import pickle
import sys
import types

if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

# The namedtuple pyzmp uses for service calls, in a module of that name.
ServiceRequest = collections.namedtuple(
    "ServiceRequest", "service args kwargs", module="pyzmp.message")
module = types.ModuleType("pyzmp.message")
module.ServiceRequest = ServiceRequest
sys.modules["pyzmp.message"] = module
sys.modules["pyzmp"] = types.ModuleType("pyzmp")

shared = [1]

VALUES = {
    "none": None,
    "true": True,
    "false": False,
    "int_small": 7,
    "int_neg": -1,
    "int_byte": 255,
    "int_short": 65535,
    "int_i32min": -2**31,
    "int_i32max": 2**31 - 1,
    "int_i64max": 2**63 - 1,
    "int_i64min": -2**63,
    "int_u64": 2**63,
    "int_u64max": 2**64 - 1,
    "int_big": 2**64,
    "int_bigneg": -2**70,
    "float": 0.1,
    "float_neg": -2.5e300,
    "float_inf": float("inf"),
    "str_empty": "",
    "str_ascii": "hello",
    "str_unicode": "h\xe9\u20ac\U0001f600",
    "str_escapes": "\\ \n \r \0 \x1a \\u0041 \\\\u0042",
    "str_long": "x" * 300,
    "bytes_empty": b"",
    "bytes": b"\x00\x01\xfe\xff",
    "bytes_long": bytes(range(256)) * 2,
    "bytearray_empty": bytearray(),
    "bytearray": bytearray(b"\x00ab\xff"),
    "list_empty": [],
    "list": [1, "a", None, True, 2.5],
    "list_large": list(range(1200)),
    "tuple_empty": (),
    "tuple": (1, "two", b"3"),
    "tuple_long": tuple(range(5)),
    "dict_empty": {},
    "dict": {"a": 1, "b": [2, 3]},
    "dict_intkeys": {1: "a", 2: "b"},
    "dict_mixed": {"a": 1, 2: "b", b"k": 3, None: 4, True: 5, 1.5: 6},
    "dict_byteskeys": {b"a": 1},
    "dict_large": {str(i): i for i in range(1100)},
    "nested": {"l": [[1, [2, {"x": (3,)}]]], "s": {"t": "u"}},
    "shared": [shared, shared],
    "set_empty": set(),
    "set": {1, 2, 3},
    "set_bytes": {b"a"},
    "frozenset_empty": frozenset(),
    "frozenset": frozenset({4, 5}),
    "complex": 1.5 - 2j,
    "complex_list": [1j, 0j],
    "ordereddict": collections.OrderedDict([("z", 1), ("a", 2)]),
    "namedtuple": ServiceRequest(
        service="demo/add", args=pickle.dumps((1, 2)), kwargs=pickle.dumps({})),
    "namedtuple_list": [ServiceRequest("a", b"", b""), ServiceRequest("b", b"1", b"2")],
}

for name, value in VALUES.items():
    for protocol in range(6):
        with open(f"{name}_p{protocol}.pickle", "wb") as f:
            f.write(pickle.dumps(value, protocol=protocol))
