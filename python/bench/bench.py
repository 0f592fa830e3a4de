"""Measures a Python process on the mesh: round trips of small calls to a Go
service, and the rate of small messages published to a Go subscriber.

Prints one JSON line. Needs a Go peer with demo/echo and a subscriber of
py/bench (test/e2e's BenchmarkPython provides both)."""

import json
import sys
import time

import pyros


def main(calls, messages):
    with pyros.Node("py-bench") as n:
        n.call("demo/echo", "warm up")
        lat = []
        for i in range(calls):
            t = time.perf_counter()
            n.call("demo/echo", i)
            lat.append(time.perf_counter() - t)
        lat.sort()
        t = time.perf_counter()
        for i in range(messages):
            n.publish("py/bench", i)
        sent = time.perf_counter() - t
        n.call("demo/echo", "flush")  # the link is in order: everything left
        print(json.dumps({"calls": calls, "rtt_p50_us": lat[len(lat) // 2] * 1e6,
                          "rtt_p99_us": lat[len(lat) * 99 // 100] * 1e6,
                          "messages": messages, "publish_per_s": messages / sent}), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
