"""A Python process on the mesh: it provides cam/snap, calls the Go demo's
demo/add, publishes cam/frames, prints demo/ticks and keeps a counter in
the shared state.

    go build -o pyros-peer ./cmd/pyros-peer
    ./pyros-peer run --demo --data /tmp/pyros-demo --bootstrap-expect 1 &
    PYROS_PEER=./pyros-peer PYTHONPATH=python python3 examples/python/camera.py
"""

import time

import pyros


def snap(arg):
    if arg.get("fail"):
        raise ValueError("the lens cap is on")
    return {"width": 640, "height": 480, "pixels": b"\x00" * 16}


def main():
    with pyros.Node("camera") as n:
        n.provide("cam/snap", snap)
        print("demo/add(2, 3) =", n.call("demo/add", {"a": 2, "b": 3}))
        n.subscribe("demo/ticks", lambda tick: print("tick", tick))
        shots = n.state.get("cam/shots", 0)
        for i in range(5):
            n.publish("cam/frames", {"frame": i, "at": time.time()})
            shots += 1
            n.state["cam/shots"] = shots
            time.sleep(0.2)
        print("shots so far:", n.state["cam/shots"])
        print("serving cam/snap and publishing cam/frames; Ctrl-C to stop")
        frame = 5
        try:
            while True:
                n.publish("cam/frames", {"frame": frame, "at": time.time()})
                frame += 1
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
