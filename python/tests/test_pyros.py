"""Tests of the pyros Python package against real peers.

Run by test/e2e (TestPython), which starts a Go peer with the demo services
and a state server, and sets PYROS_PEER (the pyros-peer binary),
PYROS_REGISTRY (a private mesh) and PYROS_GOSSIP=local.
"""

import json
import multiprocessing
import os
import subprocess
import threading
import time
import unittest

import pyros

PEER = os.environ.get("PYROS_PEER", "pyros-peer")


def cli(*args, timeout=30):
    """Runs a pyros-peer verb; returns (exit code, stdout, stderr)."""
    p = subprocess.run([PEER, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def wait_for(what, cond, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("%s: not within %ss" % (what, timeout))


def upper(s):
    return s.upper()


def fail(msg):
    raise ValueError(msg)


class PythonAndGo(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = pyros.Node("py-test")
        wait_for("the demo peer", lambda: cls.try_call("demo/echo", 1) == 1)

    @classmethod
    def tearDownClass(cls):
        cls.node.close()

    @classmethod
    def try_call(cls, service, arg):
        try:
            return cls.node.call(service, arg)
        except pyros.RemoteError:
            return None

    def test_python_calls_go(self):
        self.assertEqual(self.node.call("demo/add", {"a": 2, "b": 3}), 5)
        self.assertEqual(self.node.call("demo/echo", [1, "two", b"3", {"4": 5.5}, None, True]),
                         [1, "two", b"3", {"4": 5.5}, None, True])

    def test_seeing_the_mesh(self):
        members = self.node.members()
        me = [m for m in members if m["self"]]
        self.assertEqual([m["name"] for m in me], ["py-test"])
        providers = {s["name"]: s["providers"] for s in self.node.services()}
        self.assertIn("demo/echo", providers)
        go_peer = providers["demo/echo"][0]
        self.assertIn(go_peer, [m["name"] for m in members])
        self.assertIn("demo/ticks", [s["name"] for s in self.node.streams()])
        self.node.call("demo/echo", "counted")
        o = wait_for("demo/echo counted by its provider",
                     lambda: (lambda o: o if o["served"].get("demo/echo", {}).get("requests", 0) >= 1 else None)(
                         self.node.observe(go_peer)))
        self.assertEqual(o["name"], go_peer)
        self.assertIn("py-test", o["sees"])
        self.assertIsInstance(o["served"]["demo/echo"]["requests"], int)
        self.assertEqual(self.node.observe()["name"], "py-test")
        with self.assertRaises(pyros.PyrosError):
            self.node.observe("nobody-here")

    def test_go_errors_raise_in_python(self):
        with self.assertRaises(pyros.RemoteError) as e:
            self.node.call("demo/fail", "it broke")
        self.assertEqual(e.exception.code, "handler error")
        self.assertIn("it broke", e.exception.message)
        with self.assertRaises(pyros.RemoteError) as e:
            self.node.call("no/such/service", 1)
        self.assertEqual(e.exception.code, "unknown-service")
        with self.assertRaises(pyros.RemoteError) as e:
            self.node.call("demo/sleep", 5, timeout=0.5)
        self.assertEqual(e.exception.code, "timeout")

    def test_go_calls_python(self):
        self.node.provide("py/upper", upper)
        code, out, err = wait_for("py/upper from the CLI", lambda: (lambda r: r if r[0] == 0 else None)(cli("call", "py/upper", '"hello"')))
        self.assertEqual(json.loads(out), "HELLO")

    def test_python_errors_reach_go(self):
        self.node.provide("py/fail", fail)
        r = wait_for("py/fail from the CLI", lambda: (lambda r: r if "ValueError" in r[2] else None)(cli("call", "py/fail", '"bad input"')))
        self.assertEqual(r[0], 1)
        self.assertIn("ValueError: bad input", r[2])
        self.assertIn("Traceback", r[2])

    def test_streams_both_ways(self):
        got = []
        self.node.subscribe("demo/ticks", got.append)
        wait_for("demo/ticks in Python", lambda: len(got) >= 3)
        self.assertIsInstance(got[0], int)
        echo = subprocess.Popen([PEER, "echo", "py/temps", "--count", "2", "--timeout", "20s"],
                                stdout=subprocess.PIPE, text=True)
        stop = threading.Event()

        def publish():
            while not stop.is_set():
                self.node.publish("py/temps", {"celsius": 21.5})
                time.sleep(0.05)
        t = threading.Thread(target=publish)
        t.start()
        try:
            out, _ = echo.communicate(timeout=30)
        finally:
            stop.set()
            t.join()
        self.assertEqual(echo.returncode, 0)
        self.assertEqual(out.count('{"celsius":21.5}'), 2)

    def test_state_both_ways(self):
        self.node.state["py/config"] = {"speed": 3, "name": "robot"}
        code, out, err = cli("state", "get", "py/config")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out), {"speed": 3, "name": "robot"})
        code, out, err = cli("state", "put", "go/limit", "7")
        self.assertEqual(code, 0, err)
        self.assertEqual(self.node.state["go/limit"], 7)
        value, rev = self.node.state.entry("go/limit")
        self.assertEqual(self.node.state.compare_and_swap("go/limit", rev, 8), rev + 1)
        with self.assertRaises(pyros.Conflict):
            self.node.state.compare_and_swap("go/limit", rev, 9)
        with self.assertRaises(pyros.Conflict):
            self.node.state.compare_and_delete("go/limit", rev)
        self.assertEqual(self.node.state["go/limit"], 8)
        self.node.state.compare_and_delete("go/limit", rev + 1)
        self.assertNotIn("go/limit", self.node.state)
        self.node.state["go/limit"] = 9
        del self.node.state["go/limit"]
        self.assertNotIn("go/limit", self.node.state)


# multiprocessing: every process is its own peer.

_node = None


def _init_worker():
    global _node
    _node = pyros.Node()


def _add(n):
    return _node.call("demo/add", {"a": n, "b": 1000})


def _serve_square(ready, done):
    with pyros.Node("py-squarer") as n:
        n.provide("py/square", lambda x: x * x)
        ready.set()
        done.wait(60)


class Multiprocessing(unittest.TestCase):
    def test_pool_of_nodes(self):
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(3, initializer=_init_worker) as pool:
            self.assertEqual(pool.map(_add, range(12)), [n + 1000 for n in range(12)])

    def test_python_calls_python_across_processes(self):
        ctx = multiprocessing.get_context("spawn")
        ready, done = ctx.Event(), ctx.Event()
        p = ctx.Process(target=_serve_square, args=(ready, done))
        p.start()
        try:
            self.assertTrue(ready.wait(30))
            with pyros.Node("py-caller") as n:
                v = wait_for("py/square", lambda: _try(n, "py/square", 12))
                self.assertEqual(v, 144)
        finally:
            done.set()
            p.join(30)


def _try(n, service, arg):
    try:
        return n.call(service, arg)
    except pyros.RemoteError:
        return None


if __name__ == "__main__":
    unittest.main()
