"""An independent Socket.IO v4 client (python-socketio) for the test suites:
connects to a histo server and records every event with its arrival time,
so tests can wait for an event and check what came before it."""

import threading
import time

import socketio

EVENTS = ["deployment_log", "observability", "job_progress", "security"]


class Recorder:
    """Collects every event of a client, with arrival times (monotonic)."""

    def __init__(self):
        self.events = []
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)

    def handler(self, name):
        def on(data):
            with self.lock:
                self.events.append((time.monotonic(), name, data))
                self.changed.notify_all()

        return on

    def wait_for(self, predicate, timeout=10.0, since=0.0):
        """Every event (time, name, data) matching `predicate(name, data)`
        that arrived after `since`, once there is at least one."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                found = [e for e in self.events if e[0] >= since and predicate(e[1], e[2])]
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    last = self.events[-5:]
                    names = [(n, d.get("message", d.get("phase")) if isinstance(d, dict) else d) for _, n, d in last]
                    raise AssertionError(f"timed out; last events: {names}")
                self.changed.wait(left)

    def of(self, name):
        with self.lock:
            return [(t, d) for t, n, d in self.events if n == name]


def connect(url, auth=None, ssl_verify=True):
    """A connected client (websocket transport), its recorder, and when the
    connection started. `ssl_verify` is requests': False, or a CA file."""
    rec = Recorder()
    client = socketio.Client(reconnection=False, ssl_verify=ssl_verify)
    for name in EVENTS:
        client.on(name, rec.handler(name))
    # Any other event too (python-socketio's catch-all handler).
    client.on("*", lambda name, data=None: rec.handler(name)(data))
    started = time.monotonic()
    client.connect(url, auth=auth, transports=["websocket"], wait_timeout=10)
    return client, rec, started


def observed(state):
    """A predicate for the `observability` event of a coordinator state."""
    return lambda name, data: name == "observability" and data["state"] == state


def is_ok(name, data):
    """A predicate for a coordinator's "... Connection: OK" event."""
    return name == "observability" and data["message"].endswith("Connection: OK")
