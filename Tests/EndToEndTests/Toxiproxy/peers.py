"""Peers and measurements shared by the Toxiproxy client scripts: upstream servers to put
proxies in front of, and the client side that times what a toxic does to a connection.

Waiting is on what is observed (bytes, a close, a refused connect) with a deadline, never a
fixed sleep."""

import errno
import socket
import threading
import time


class Upstream:
    """A TCP server on 127.0.0.1 in a thread; `handle(conn)` runs per connection."""

    def __init__(self, handle):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        self.accepted = 0
        self.handle = handle
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self.handle(conn)
        except OSError:
            pass
        finally:
            conn.close()


def echo(conn):
    """Writes back every byte until the client closes."""
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


def bulk(conn):
    """Reads a line `N\\n`, answers with N bytes (0, 1, ..., 255, 0, ...), then closes."""
    line = b""
    while not line.endswith(b"\n"):
        data = conn.recv(64)
        if not data:
            return
        line += data
    count = int(line.strip())
    conn.sendall(pattern(count))


def pattern(count):
    return bytes(i % 256 for i in range(count))


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=15)


def round_trip(port, payload=b"ping"):
    """Seconds from sending `payload` through an echo proxy to having it all back."""
    with connect(port) as s:
        started = time.monotonic()
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            data = s.recv(65536)
            assert data, "closed after %d of %d bytes" % (len(got), len(payload))
            got += data
        elapsed = time.monotonic() - started
        assert got == payload, "the bytes came back changed"
        return elapsed


def fetch(port, count):
    """Asks a bulk proxy for `count` bytes: (the bytes until the close, seconds, reads)."""
    with connect(port) as s:
        started = time.monotonic()
        s.sendall(b"%d\n" % count)
        got, reads = read_to_end(s)
        return got, time.monotonic() - started, reads


def read_to_end(s):
    chunks = []
    while True:
        data = s.recv(65536)
        if not data:
            return b"".join(chunks), len(chunks)
        chunks.append(data)


def refused(port):
    """Whether connecting to the port is refused: nothing listens."""
    try:
        connect(port).close()
        return False
    except ConnectionRefusedError:
        return True


def closed_by_peer(s):
    """Whether the peer has closed (or reset) the connection: a read answers at once."""
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def eventually(what, condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.005)


def port_of(listen):
    return int(listen.rsplit(":", 1)[1])


def is_reset(error):
    return isinstance(error, ConnectionResetError) or getattr(error, "errno", None) == errno.ECONNRESET


class Checks:
    """Runs named checks in order and tells which failed; exits non-zero if any did."""

    def __init__(self):
        self.failed = []
        self.passed = 0

    def run(self, name, check):
        started = time.monotonic()
        try:
            measured = check()
        except Exception as error:  # noqa: BLE001 - every failure is reported by name
            import traceback
            self.failed.append(name)
            print("FAIL %s: %r" % (name, error), flush=True)
            traceback.print_exc()
        else:
            self.passed += 1
            note = (": " + measured) if measured else ""
            print("ok   %s (%.0f ms)%s" % (name, (time.monotonic() - started) * 1000, note), flush=True)

    def finish(self):
        print("%d checks passed, %d failed%s" % (self.passed, len(self.failed), (": " + ", ".join(self.failed)) if self.failed else ""))
        raise SystemExit(1 if self.failed else 0)
