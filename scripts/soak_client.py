#!/usr/bin/env python3
"""scripts/soak_client.py -- the churning clients of scripts/soak.sh.

One process plays one role against one server for --seconds, on a single
selectors loop, and checks every byte it gets back:

  echo-churn  --slots N connections to echo_server, each cycling through
              connect, a few exchanges (1 to 4 messages in flight, 1 byte to
              256 KiB each), then an ending: a plain close, a half-close that
              must be answered by the rest of the echo and EOF, a reset
              (SO_LINGER 0) with a message in flight, or an abandon (a message
              sent and the socket closed unread); then it connects again.
  http-hello  --connections N keep-alive connections to http_hello: GET /,
              HEAD /, GET of a missing path (404), sometimes 2 to 8 requests
              pipelined, sometimes "Connection: close", sometimes a request
              cut off half-sent; paced to about --rate requests per second.
  http-files  --connections N connections to http_files serving --root:
              whole files, byte ranges and HEAD checked against the files on
              disk, and downloads abandoned at a random point (before the
              head, inside it, or inside the body; closed or reset), and
              downloads paused mid-body for up to two seconds (backpressure).

Every second it prints one line "t ops bytes errors open connects" (tab-
separated) on stdout; at the end one line "SUMMARY {json}". A wrong byte, a
wrong status or framing, a connection the server ends too early, a failed
connect or a reply slower than --timeout is an error; the first few are
printed on stderr with their detail. Exit status 0 when there was none.

Only the standard library: it must run on a fresh Debian with python3.
"""

import argparse
import errno
import heapq
import json
import os
import random
import selectors
import socket
import struct
import sys
import time

READ_CHUNK = 256 * 1024
MAX_ERRORS_SHOWN = 20


class Stats:
    def __init__(self):
        self.ops = 0          # verified exchanges / responses
        self.bytes = 0        # verified bytes received
        self.errors = 0
        self.connects = 0
        self.connect_failures = 0
        self.open = 0
        self.endings = {}
        self.error_kinds = {}
        self.shown = 0

    def ending(self, name):
        self.endings[name] = self.endings.get(name, 0) + 1

    def error(self, kind, detail):
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1
        if self.shown < MAX_ERRORS_SHOWN:
            self.shown += 1
            print(f"soak_client: error ({kind}): {detail}", file=sys.stderr, flush=True)


class Loop:
    """A selectors loop with one-shot timers; connections register callbacks."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.timers = []  # (when, seq, fn)
        self.seq = 0

    def call_at(self, when, fn):
        self.seq += 1
        heapq.heappush(self.timers, (when, self.seq, fn))

    def call_later(self, delay, fn):
        self.call_at(time.monotonic() + delay, fn)

    def set_interest(self, conn, read, write):
        mask = (selectors.EVENT_READ if read else 0) | (selectors.EVENT_WRITE if write else 0)
        registered = conn.fd_registered
        if mask == 0:
            if registered:
                self.sel.unregister(conn.sock)
                conn.fd_registered = False
        elif registered:
            self.sel.modify(conn.sock, mask, conn)
        else:
            self.sel.register(conn.sock, mask, conn)
            conn.fd_registered = True

    def forget(self, conn):
        if conn.fd_registered:
            self.sel.unregister(conn.sock)
            conn.fd_registered = False

    def run_until(self, deadline, every_second):
        next_tick = time.monotonic() + 1
        while True:
            now = time.monotonic()
            if now >= next_tick:
                every_second(now)
                next_tick += 1
            if now >= deadline:
                return
            timeout = min(next_tick, deadline) - now
            if self.timers:
                timeout = min(timeout, max(0.0, self.timers[0][0] - now))
            for key, mask in self.sel.select(timeout):
                conn = key.data
                if mask & selectors.EVENT_WRITE and conn.sock is not None:
                    conn.on_writable()
                if mask & selectors.EVENT_READ and conn.sock is not None:
                    conn.on_readable()
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, fn = heapq.heappop(self.timers)
                fn()


class Conn:
    """Shared plumbing: a non-blocking socket, an output queue, a deadline."""

    def __init__(self, client):
        self.client = client
        self.loop = client.loop
        self.stats = client.stats
        self.sock = None
        self.fd_registered = False
        self.out = bytearray()
        self.connecting = False
        self.want_read = False
        self.shutdown_when_flushed = False
        self.waiting_since = None  # when we started to expect bytes

    def connect(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        src = self.client.source_address()
        if src:
            try:
                # Linux: choose the port at connect() for the whole 4-tuple.
                s.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24), 1)
                s.bind((src, 0))
            except OSError:
                pass
        self.sock = s
        self.connecting = True
        self.connect_started = time.monotonic()
        rc = s.connect_ex((self.client.host, self.client.port))
        if rc not in (0, errno.EINPROGRESS, errno.EAGAIN):
            self.connect_failed(rc)
            return
        self.loop.set_interest(self, False, True)

    def connect_failed(self, err):
        self.stats.connect_failures += 1
        self.stats.error("connect", f"connect failed: {os.strerror(err)}")
        self.drop()
        self.loop.call_later(random.uniform(0.1, 0.5), self.start)

    def on_writable(self):
        if self.connecting:
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.connect_failed(err)
                return
            self.connecting = False
            self.stats.connects += 1
            self.stats.open += 1
            self.on_connected()
            return
        self.flush()

    def send(self, data):
        self.out += data
        self.flush()

    def flush(self):
        if self.sock is None:
            return
        while self.out:
            try:
                n = self.sock.send(self.out)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:
                self.failed("send", f"send failed: {e}")
                return
            del self.out[:n]
        if not self.out and self.shutdown_when_flushed:
            self.shutdown_when_flushed = False
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError as e:
                self.failed("send", f"shutdown failed: {e}")
                return
        self.update_interest()

    def update_interest(self):
        if self.sock is not None:
            self.loop.set_interest(self, self.want_read, bool(self.out))

    def recv(self):
        """Returns bytes, b'' on EOF, or None when nothing is there yet."""
        try:
            return self.sock.recv(READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return None
        except ConnectionResetError:
            return b""

    def drop(self, reset=False):
        """Closes the socket (with RST if asked); the connection object is reusable."""
        if self.sock is None:
            return
        self.loop.forget(self)
        if reset:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        if not self.connecting:
            self.stats.open -= 1
        self.sock.close()
        self.sock = None
        self.connecting = False
        self.out = bytearray()
        self.want_read = False
        self.shutdown_when_flushed = False
        self.waiting_since = None

    def failed(self, kind, detail):
        self.stats.error(kind, detail)
        self.drop(reset=True)
        self.loop.call_later(random.uniform(0.1, 0.5), self.start)

    def check_timeout(self, now, timeout):
        if self.sock is None:
            return
        if self.connecting and now - self.connect_started > timeout:
            self.stats.connect_failures += 1
            self.failed("timeout", f"connect took more than {timeout} s")
        elif self.waiting_since is not None and now - self.waiting_since > timeout:
            self.failed("timeout", f"no reply within {timeout} s ({self.describe()})")

    def describe(self):
        return type(self).__name__


# ---- echo ------------------------------------------------------------------

class EchoConn(Conn):
    """connect -> exchanges -> an ending -> connect again."""

    def start(self):
        if self.client.stopping:
            return
        self.exchanges_left = random.randint(1, 8)
        self.expected = bytearray()  # echo bytes still owed, in order
        self.ending = None
        self.connect()

    def on_connected(self):
        self.next_exchange()

    def message(self):
        # Mostly small, some past one read (64 KiB), a few past the
        # loopback socket buffers' first size; about 2.5 KiB on average.
        r = random.random()
        if r < 0.80:
            n = random.randint(1, 1024)
        elif r < 0.99:
            n = random.randint(1025, 8 * 1024)
        else:
            n = random.randint(8 * 1024 + 1, 256 * 1024)
        return self.client.payload(n)

    def next_exchange(self):
        if self.sock is None:
            return
        if self.client.stopping or self.exchanges_left == 0:
            self.finish()
            return
        self.exchanges_left -= 1
        burst = 1 if random.random() < 0.8 else random.randint(2, 4)
        for _ in range(burst):
            m = self.message()
            self.expected += m
            self.send(m)
        self.want_read = True
        self.waiting_since = time.monotonic()
        self.update_interest()

    def on_readable(self):
        data = self.recv()
        if data is None:
            return
        if not data:
            if self.ending == "half" and not self.expected:
                self.stats.ending("half-close")
                self.drop()
                self.client.reconnect_later(self)
                return
            self.failed("closed", f"server closed with {len(self.expected)} echo bytes owed")
            return
        n = len(data)
        if n > len(self.expected) or self.expected[:n] != data:
            where = next((i for i in range(min(n, len(self.expected))) if data[i] != self.expected[i]), len(self.expected))
            self.failed("mismatch", f"echo differs at byte {where} of {n} received ({len(self.expected)} expected)")
            return
        del self.expected[:n]
        self.stats.bytes += n
        self.waiting_since = time.monotonic() if self.expected else None
        if not self.expected:
            self.stats.ops += 1
            if self.ending == "half":
                self.waiting_since = time.monotonic()  # now EOF is owed
                return
            self.want_read = False
            self.update_interest()
            self.loop.call_later(random.uniform(0, self.client.think), self.next_exchange)

    def finish(self):
        r = random.random()
        if r < 0.55 or self.client.stopping:
            self.stats.ending("close")
            self.drop()
        elif r < 0.70:
            # Half-close with a message in flight: the server must flush the
            # whole echo, then close.
            self.ending = "half"
            m = self.message()
            self.expected += m
            self.want_read = True
            self.waiting_since = time.monotonic()
            self.shutdown_when_flushed = True
            self.send(m)
            return
        elif r < 0.85:
            self.stats.ending("reset")
            self.send(self.message())
            self.drop(reset=True)
        else:
            self.stats.ending("abandon")
            self.send(self.message())
            self.drop()
        self.client.reconnect_later(self)

    def describe(self):
        return f"echo, {len(self.expected)} bytes owed"


# ---- HTTP response reading ---------------------------------------------------

class ResponseReader:
    """Finds responses in a keep-alive stream. Content-Length framing only:
    both example servers frame every response with it."""

    def __init__(self):
        self.buf = bytearray()
        self.head = None  # (status, headers, body start, body length) once parsed

    def next(self, head_only):
        """Returns (status, headers{lower: value}, body) or None if incomplete;
        raises ValueError on bad framing."""
        if self.head is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > 16384:
                    raise ValueError("response head longer than 16 KiB")
                return None
            lines = bytes(self.buf[:end]).split(b"\r\n")
            parts = lines[0].split(b" ", 2)
            if len(parts) < 2 or parts[0] != b"HTTP/1.1" or not parts[1].isdigit():
                raise ValueError(f"bad status line {lines[0][:80]!r}")
            status = int(parts[1])
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(b":")
                if not sep or not name or name != name.strip():
                    raise ValueError(f"bad header line {line[:80]!r}")
                key = name.decode("latin-1").lower()
                if key in headers:
                    raise ValueError(f"repeated header {key}")
                headers[key] = value.strip().decode("latin-1")
            if "transfer-encoding" in headers:
                raise ValueError("unexpected Transfer-Encoding")
            if not headers.get("content-length", "").isdigit():
                raise ValueError("no Content-Length")
            length = 0 if head_only or status in (204, 304) else int(headers["content-length"])
            self.head = (status, headers, end + 4, length)
        status, headers, start, length = self.head
        if len(self.buf) < start + length:
            return None
        body = bytes(self.buf[start:start + length])
        del self.buf[:start + length]
        self.head = None
        return status, headers, body


# ---- http_hello -----------------------------------------------------------------

HELLO = {
    "get": (b"GET / HTTP/1.1\r\nHost: {h}\r\n\r\n", 200, b"Hello, World!", "text/plain"),
    "head": (b"HEAD / HTTP/1.1\r\nHost: {h}\r\n\r\n", 200, b"", "text/plain"),
    "missing": (b"GET /missing?q=1 HTTP/1.1\r\nHost: {h}\r\n\r\n", 404, b"Not Found\n", "text/plain"),
    "close": (b"GET / HTTP/1.1\r\nHost: {h}\r\nConnection: close\r\n\r\n", 200, b"Hello, World!", "text/plain"),
}


class HelloConn(Conn):
    def start(self):
        if self.client.stopping:
            return
        self.reader = ResponseReader()
        self.pending = []  # kinds of the requests in flight, in order
        self.left = random.randint(20, 400)  # requests before this client leaves
        self.closing = False  # a "Connection: close" request is in flight
        self.connect()

    def on_connected(self):
        self.next_batch()

    def next_batch(self):
        if self.sock is None:
            return
        if self.client.stopping or self.left <= 0:
            self.stats.ending("close")
            self.drop()
            self.client.reconnect_later(self)
            return
        r = random.random()
        if r < 0.02:
            # Leave with a request half-sent: the server must just close.
            req = HELLO["get"][0].replace(b"{h}", self.client.host_header)
            self.send(req[:random.randint(1, len(req) - 1)])
            self.stats.ending("half-sent")
            self.drop(reset=random.random() < 0.5)
            self.client.reconnect_later(self)
            return
        depth = 1 if r < 0.8 else random.randint(2, 8)
        data = bytearray()
        for i in range(depth):
            x = random.random()
            kind = "get" if x < 0.75 else "head" if x < 0.85 else "missing" if x < 0.97 else "close"
            if kind == "close" and i != depth - 1:
                kind = "get"
            self.pending.append(kind)
            data += HELLO[kind][0].replace(b"{h}", self.client.host_header)
        self.left -= depth
        self.closing = self.pending[-1] == "close"
        self.want_read = True
        self.waiting_since = time.monotonic()
        self.send(data)

    def on_readable(self):
        data = self.recv()
        if data is None:
            return
        if not data:
            if self.closing and not self.pending and not self.reader.buf:
                self.stats.ending("server-close")
                self.drop()
                self.client.reconnect_later(self)
                return
            self.failed("closed", f"server closed with {len(self.pending)} responses owed")
            return
        self.reader.buf += data
        while self.pending:
            kind = self.pending[0]
            try:
                got = self.reader.next(head_only=(kind == "head"))
            except ValueError as e:
                self.failed("framing", str(e))
                return
            if got is None:
                break
            status, headers, body = got
            _, want_status, want_body, want_type = HELLO[kind]
            problem = None
            if status != want_status:
                problem = f"{kind}: status {status}, expected {want_status}"
            elif body != want_body:
                problem = f"{kind}: body {body[:40]!r}, expected {want_body!r}"
            elif headers.get("content-type") != want_type:
                problem = f"{kind}: Content-Type {headers.get('content-type')!r}"
            elif kind == "head" and headers.get("content-length") != "13":
                problem = f"head: Content-Length {headers.get('content-length')!r}"
            elif kind == "close" and headers.get("connection", "").lower() != "close":
                problem = "close: no Connection: close in the response"
            if problem:
                self.failed("mismatch", problem)
                return
            self.pending.pop(0)
            self.stats.ops += 1
            self.stats.bytes += len(body)
        if self.pending:
            self.waiting_since = time.monotonic()
            return
        if self.reader.buf:
            self.failed("mismatch", f"{len(self.reader.buf)} bytes after the last response")
            return
        self.waiting_since = None
        if self.closing:
            self.waiting_since = time.monotonic()  # EOF is owed now
            return
        self.want_read = False
        self.update_interest()
        self.loop.call_later(random.expovariate(1.0 / self.client.think) if self.client.think > 0 else 0,
                             self.next_batch)

    def describe(self):
        return f"http_hello, {len(self.pending)} responses owed"


# ---- http_files -------------------------------------------------------------------

class FilesConn(Conn):
    def start(self):
        if self.client.stopping:
            return
        self.reader = ResponseReader()
        self.connect()

    def on_connected(self):
        self.next_request()

    def next_request(self):
        if self.sock is None:
            return
        if self.client.stopping:
            self.stats.ending("close")
            self.drop()
            return
        name, content = random.choice(self.client.files)
        self.name = name
        self.content = content
        self.head_only = False
        self.abandon_at = None   # received bytes after which we leave
        self.pause_at = None     # received bytes after which we stop reading a while
        self.received = 0
        self.range = None
        self.want_status = 200
        self.want_body = content
        extra = b""
        r = random.random()
        if r < 0.05:
            self.name = "missing-" + name
            self.want_status = 404
            self.want_body = None
        elif r < 0.10:
            self.head_only = True
            self.want_body = b""
        elif r < 0.25 and content:
            a = random.randrange(len(content))
            b = random.randrange(a, len(content))
            self.range = (a, b)
            extra = b"Range: bytes=%d-%d\r\n" % (a, b)
            self.want_status = 206
            self.want_body = content[a:b + 1]
        elif r < 0.60:
            # Abandon: somewhere from "nothing read" to "all but the last byte".
            total = 300 + len(content)  # roughly the head plus the body
            self.abandon_at = random.randrange(total)
        elif r < 0.65 and len(content) > 65536:
            self.pause_at = random.randrange(len(content) // 2)
        method = b"HEAD" if self.head_only else b"GET"
        self.request = b"%s /%s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
            method, self.name.encode(), self.client.host_header, extra)
        self.want_read = True
        self.waiting_since = time.monotonic()
        self.send(self.request)
        if self.abandon_at == 0:
            self.leave()

    def leave(self):
        reset = random.random() < 0.5
        self.stats.ending("abandon-reset" if reset else "abandon-close")
        self.drop(reset=reset)
        self.client.reconnect_later(self)

    def on_readable(self):
        data = self.recv()
        if data is None:
            return
        if not data:
            self.failed("closed", f"server closed during /{self.name} ({self.received} bytes in)")
            return
        if self.abandon_at is not None and self.received + len(data) >= self.abandon_at:
            data = data[:self.abandon_at - self.received]
            self.received += len(data)
            if self.check_prefix(data):
                self.leave()
            return
        self.received += len(data)
        self.reader.buf += data
        self.waiting_since = time.monotonic()
        try:
            got = self.reader.next(self.head_only)
        except ValueError as e:
            self.failed("framing", f"/{self.name}: {e}")
            return
        if got is None:
            if self.pause_at is not None and self.received >= self.pause_at:
                # Stop reading for a while: the server must hold on (its
                # send timeout is far longer) and lose nothing.
                self.pause_at = None
                self.want_read = False
                self.waiting_since = None
                self.update_interest()
                self.stats.ending("paused")
                self.loop.call_later(random.uniform(0.2, 2.0), self.resume)
            return
        status, headers, body = got
        if self.check_response(status, headers, body):
            self.stats.ops += 1
            self.stats.bytes += len(body)
            if self.reader.buf:
                self.failed("mismatch", f"/{self.name}: {len(self.reader.buf)} bytes after the response")
                return
            self.want_read = False
            self.waiting_since = None
            self.update_interest()
            self.loop.call_later(random.uniform(0, self.client.think), self.next_request)

    def resume(self):
        if self.sock is not None and not self.want_read:
            self.want_read = True
            self.waiting_since = time.monotonic()
            self.update_interest()

    def check_prefix(self, tail):
        """An abandoned download: what arrived must be a prefix of the right
        response (the head's status line and, once the head is complete, the
        body bytes)."""
        buf = self.reader.buf + tail
        end = buf.find(b"\r\n\r\n")
        head = buf if end < 0 else buf[:end]
        want = b"HTTP/1.1 200 OK\r\n"
        if head[:len(want)] != want[:len(head)]:
            self.failed("mismatch", f"/{self.name}: abandoned download began {bytes(head[:40])!r}")
            return False
        if end >= 0:
            body = buf[end + 4:]
            if len(body) > len(self.content) or self.content[:len(body)] != bytes(body):
                self.failed("mismatch", f"/{self.name}: abandoned download's body differs")
                return False
        return True

    def check_response(self, status, headers, body):
        problem = None
        if status != self.want_status:
            problem = f"status {status}, expected {self.want_status}"
        elif self.want_body is not None and body != self.want_body:
            where = next((i for i in range(min(len(body), len(self.want_body))) if body[i] != self.want_body[i]),
                         min(len(body), len(self.want_body)))
            problem = f"body differs at byte {where} ({len(body)} bytes, expected {len(self.want_body)})"
        elif self.head_only and headers.get("content-length") != str(len(self.content)):
            problem = f"HEAD Content-Length {headers.get('content-length')}, expected {len(self.content)}"
        elif self.range and headers.get("content-range") != "bytes %d-%d/%d" % (*self.range, len(self.content)):
            problem = f"Content-Range {headers.get('content-range')!r} for {self.range}"
        if problem:
            self.failed("mismatch", f"/{self.name}: {problem}")
            return False
        return True

    def describe(self):
        return f"http_files /{self.name}, {self.received} bytes in"


# ---- the client ----------------------------------------------------------------

class Client:
    def __init__(self, args):
        self.args = args
        self.loop = Loop()
        self.stats = Stats()
        self.host = args.host
        self.port = args.port
        self.host_header = f"{args.host}:{args.port}".encode()
        self.stopping = False
        self.think = args.think
        self.sources = args.sources if sys.platform.startswith("linux") and args.host == "127.0.0.1" else 0
        self.next_source = 0
        self.pool = os.urandom(1 << 20) * 2  # payloads are slices of this
        self.files = []
        if args.root:
            for name in sorted(os.listdir(args.root)):
                with open(os.path.join(args.root, name), "rb") as f:
                    self.files.append((name, f.read()))

    def source_address(self):
        if not self.sources:
            return None
        self.next_source = (self.next_source + 1) % self.sources
        return f"127.0.0.{2 + self.next_source}"

    def payload(self, n):
        start = random.randrange(len(self.pool) // 2)
        return self.pool[start:start + n]

    def reconnect_later(self, conn):
        self.loop.call_later(random.uniform(0, 0.05), conn.start)

    def run(self):
        a = self.args
        kind = {"echo-churn": EchoConn, "http-hello": HelloConn, "http-files": FilesConn}[a.role]
        count = a.slots if a.role == "echo-churn" else a.connections
        self.conns = [kind(self) for _ in range(count)]
        t0 = time.monotonic()
        # Start the connections over the first second or so, not in one burst.
        for i, c in enumerate(self.conns):
            self.loop.call_at(t0 + i / max(1.0, a.connect_rate), c.start)
        last = {"ops": 0, "bytes": 0}

        def every_second(now):
            s = self.stats
            print(f"{now - t0:.1f}\t{s.ops - last['ops']}\t{s.bytes - last['bytes']}\t{s.errors}\t"
                  f"{s.open}\t{s.connects}", flush=True)
            last["ops"], last["bytes"] = s.ops, s.bytes
            for c in self.conns:
                c.check_timeout(now, a.timeout)

        self.loop.run_until(t0 + a.seconds, every_second)
        # The end: no new work; what is owed may still arrive for a moment.
        self.stopping = True
        grace = time.monotonic() + min(a.timeout, 5.0)
        while time.monotonic() < grace and any(c.sock is not None and (c.waiting_since is not None or c.connecting)
                                               for c in self.conns):
            self.loop.run_until(min(grace, time.monotonic() + 0.2), lambda now: None)
        owed = 0
        for c in self.conns:
            if c.sock is not None and (c.waiting_since is not None or c.connecting):
                owed += 1
            c.drop()
        if owed:
            self.stats.error("unfinished", f"{owed} connections still owed a reply at the end")
        s = self.stats
        summary = {"role": a.role, "seconds": round(time.monotonic() - t0, 1), "ops": s.ops, "bytes": s.bytes,
                   "errors": s.errors, "error_kinds": s.error_kinds, "connects": s.connects,
                   "connect_failures": s.connect_failures, "endings": s.endings}
        print("SUMMARY " + json.dumps(summary, sort_keys=True), flush=True)
        return 0 if s.errors == 0 else 1


def main():
    p = argparse.ArgumentParser(description="churning, verifying clients for scripts/soak.sh")
    p.add_argument("role", choices=["echo-churn", "http-hello", "http-files"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--slots", type=int, default=1000, help="echo-churn: connections cycling at once")
    p.add_argument("--connections", type=int, default=50, help="http roles: connections at once")
    p.add_argument("--think", type=float, default=0.5, help="mean pause between exchanges, seconds")
    p.add_argument("--connect-rate", type=float, default=2000, help="initial connects per second")
    p.add_argument("--sources", type=int, default=8, help="echo-churn on Linux: loopback source addresses")
    p.add_argument("--root", help="http-files: the folder http_files serves")
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if a.role == "http-files" and not a.root:
        p.error("http-files needs --root")
    random.seed(a.seed)
    sys.exit(Client(a).run())


if __name__ == "__main__":
    main()
