"""Call a service the way a pyzmp program does.

    python3 call.py ENDPOINT SERVICE [ARGS_JSON [KWARGS_JSON]]

ARGS_JSON is a JSON list of positional arguments, KWARGS_JSON a JSON
object of keyword arguments. With SERVICE "-", calls are read from
standard input, one JSON line [service, args, kwargs] each, and answered
one JSON line each: {"result": ...} or {"error": "module.Class",
"message": ...}.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pyzmp.service import Service  # noqa: E402


def call(endpoint, service, args, kwargs):
    try:
        return {"result": Service(service, [("mesh", endpoint)]).call(tuple(args), kwargs)}
    except Exception as e:
        return {"error": type(e).__module__ + "." + type(e).__name__, "message": str(e)}


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    endpoint, service = sys.argv[1], sys.argv[2]
    if service != "-":
        args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else []
        kwargs = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
        out = call(endpoint, service, args, kwargs)
        print(json.dumps(out, default=repr))
        sys.exit(1 if "error" in out else 0)
    for line in sys.stdin:
        print(json.dumps(call(endpoint, *json.loads(line)), default=repr), flush=True)


main()
