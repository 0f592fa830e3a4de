"""Time pyzmp calls: python3 bench.py N ENDPOINT SERVICE [ARGS_JSON [KWARGS_JSON]].

Makes N calls as pyzmp does (a new REQ socket each) and prints one JSON
line: {"calls": N, "p50_us": ..., "p99_us": ...}."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pyzmp.service import Service  # noqa: E402


def main():
    n, endpoint, service = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    args = tuple(json.loads(sys.argv[4])) if len(sys.argv) > 4 else ()
    kwargs = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
    svc = Service(service, [("bench", endpoint)])
    for _ in range(min(n, 50)):  # warm up
        svc.call(args, kwargs)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        svc.call(args, kwargs)
        times.append(time.perf_counter() - t)
    times.sort()
    print(json.dumps({"calls": n, "p50_us": times[n // 2] * 1e6, "p99_us": times[n * 99 // 100] * 1e6}))


main()
