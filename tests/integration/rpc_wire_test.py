#!/usr/bin/env python3
"""Drives a real bdevd over its Unix socket with a raw client: framing, batches,
limits and bad input, exactly as bytes on the wire.

Usage: rpc_wire_test.py BDEVD CASE   (CASE: see CASES at the bottom)
Each case starts its own bdevd on a temporary socket, checks what it must, then
stops the daemon with SIGTERM and checks it exited 0 and removed its socket and lock.
"""
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

BDEVD = sys.argv[1]
CASE = sys.argv[2]
failures = []


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    failures.append(msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


class Daemon:
    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="bdevkit_wire_")
        self.sock = os.path.join(self.dir, "rpc.sock")
        self.log = open(os.path.join(self.dir, "bdevd.log"), "w+")
        self.proc = subprocess.Popen([BDEVD, "-r", self.sock, *args, *os.environ.get("BDEVD_EXTRA", "").split()],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if os.path.exists(self.sock):
                try:
                    Client(self.sock).close()
                    return
                except OSError:
                    pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.dump_log()
        raise SystemExit("bdevd did not start")

    def dump_log(self):
        self.log.seek(0)
        sys.stderr.write("--- bdevd log:\n" + self.log.read())

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.alive():
            self.proc.send_signal(15)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = "timeout"
        check(rc == 0, "bdevd exited with %s after SIGTERM" % rc)
        check(not os.path.exists(self.sock), "socket left behind")
        check(not os.path.exists(self.sock + ".lock"), "lock file left behind")
        if failures:
            self.dump_log()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Client:
    def __init__(self, path, timeout=30):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""
        self.decoder = json.JSONDecoder()
        self.next_id = 1

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def recv_value(self):
        """The next reply: one JSON value followed by a newline."""
        while True:
            text = self.buf.decode(errors="replace").lstrip()
            if text:
                try:
                    value, end = self.decoder.raw_decode(text)
                    rest = text[end:]
                    check(rest.startswith("\n"), "reply not followed by a newline: %r" % text[:200])
                    self.buf = rest[1:].encode()
                    return value
                except json.JSONDecodeError:
                    pass
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed; buffered: %r" % self.buf[:200])
            self.buf += chunk

    def recv_raw_line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise EOFError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def at_eof(self):
        try:
            return self.s.recv(1) == b"" and not self.buf
        except OSError:
            return True

    def call(self, method, params=None, pretty=False):
        req = {"jsonrpc": "2.0", "method": method, "id": self.next_id}
        self.next_id += 1
        if params is not None:
            req["params"] = params
        self.send(json.dumps(req, indent=2 if pretty else None))
        reply = self.recv_value()
        check(reply.get("id") == req["id"], "reply id %r for request %r" % (reply.get("id"), req))
        return reply

    def close(self):
        self.s.close()


def error_code(reply):
    return reply.get("error", {}).get("code")


def case_partial_writes(d):
    c = Client(d.sock)
    req = json.dumps({"jsonrpc": "2.0", "method": "bdev_malloc_create", "id": "p1",
                      "params": {"name": "Malloc0", "num_blocks": 256, "block_size": 512}},
                     indent=2).encode()
    for i in range(len(req)):  # one byte per write
        c.send(req[i:i + 1])
        if i % 16 == 0:
            time.sleep(0.001)
    raw = c.recv_raw_line()
    check(raw == '{"jsonrpc":"2.0","id":"p1","result":"Malloc0"}', "reply bytes: %r" % raw)


def case_back_to_back(d):
    c = Client(d.sock)
    reqs = "".join(json.dumps({"jsonrpc": "2.0", "method": "spdk_get_version", "id": i})
                   for i in range(200))
    c.send(reqs)
    ids = [c.recv_value()["id"] for _ in range(200)]
    check(ids == list(range(200)), "ids of back-to-back replies: %s" % ids[:10])
    # rpc.py style: pretty-printed, no newline; ids of every type.
    for rid in ["a", 1.5, None, {"k": [1]}, [2, 3]]:
        c.send(json.dumps({"jsonrpc": "2.0", "method": "framework_wait_init", "id": rid}, indent=2))
        r = c.recv_value()
        check(r == {"jsonrpc": "2.0", "id": rid, "result": True}, "id %r: %r" % (rid, r))


def case_batch(d):
    c = Client(d.sock)
    c.send(json.dumps([
        {"jsonrpc": "2.0", "method": "bdev_null_create", "id": 1,
         "params": {"name": "Null0", "num_blocks": 64, "block_size": 512}},
        {"jsonrpc": "2.0", "method": "log_set_flag", "params": {"flag": "rpc"}},  # notification
        {"jsonrpc": "2.0", "method": "bdev_get_bdevs", "id": 2, "params": {"name": "Null0"}},
        {"jsonrpc": "2.0", "method": "nope", "id": 3},
    ]))
    r = c.recv_value()
    check(isinstance(r, list) and [x.get("id") for x in r] == [1, 2, 3], "batch reply: %r" % r)
    if isinstance(r, list) and len(r) == 3:
        check(r[0].get("result") == "Null0", "batch member 1: %r" % r[0])
        check(r[1].get("result", [{}])[0].get("name") == "Null0", "batch member 2: %r" % r[1])
        check(error_code(r[2]) == -32601, "batch member 3: %r" % r[2])
    check(c.call("log_get_flags")["result"].get("rpc") is True, "notification in batch not run")
    c.send("[]")
    check(error_code(c.recv_value()) == -32600, "[] must be an invalid request")
    c.send(json.dumps([{"jsonrpc": "2.0", "method": "framework_wait_init"}]))
    check(c.call("spdk_get_version")["id"] == c.next_id - 1,
          "a batch of notifications must get no reply")


def case_bad_input(d):
    c = Client(d.sock)
    cases = [
        ({"jsonrpc": "1.0", "method": "spdk_get_version", "id": 1}, -32600),
        ({"jsonrpc": "2.0", "id": 2}, -32600),
        ({"jsonrpc": "2.0", "method": "bdev_malloc_create", "id": 3, "params": [1, 2]}, -32602),
        ({"jsonrpc": "2.0", "method": "bdev_malloc_create", "id": 4,
          "params": {"num_blocks": "many", "block_size": 512}}, -32602),
        ({"jsonrpc": "2.0", "method": "bdev_malloc_create", "id": 5,
          "params": {"num_blocks": 8, "block_size": 512, "colour": "red"}}, -32602),
        ({"jsonrpc": "2.0", "method": "bdev_malloc_create", "id": 6,
          "params": {"num_blocks": 8}}, -32602),
        ({"jsonrpc": "2.0", "method": "bdev_malloc_create", "id": 7,
          "params": {"num_blocks": -8, "block_size": 512}}, -32602),
        ({"jsonrpc": "2.0", "method": "bdev_malloc_create", "id": 8,
          "params": {"num_blocks": 1 << 62, "block_size": 4096}}, None),  # any error
        ({"jsonrpc": "2.0", "method": "bdev_frobnicate", "id": 9}, -32601),
        ({"jsonrpc": "2.0", "method": "bdev_get_bdevs", "id": 10, "params": {"name": "Nope"}}, -19),
        ({"jsonrpc": "2.0", "method": "spdk_get_version", "id": 11, "params": {"x": 1}}, -32602),
        ({"jsonrpc": "2.0", "method": "bdev_malloc_delete", "id": 12, "params": {"name": "Nope"}},
         -19),
    ]
    for req, code in cases:
        c.send(json.dumps(req))
        r = c.recv_value()
        if code is None:
            check("error" in r, "%r: expected an error, got %r" % (req, r))
        else:
            check(error_code(r) == code, "%r: expected %d, got %r" % (req, code, r))
        check(isinstance(r.get("error", {}).get("message"), str), "no message: %r" % r)
    # Messages name the parameter.
    r = c.call("bdev_malloc_create", {"num_blocks": 8, "block_size": 512, "colour": "red"})
    check("colour" in r["error"]["message"], "message does not name the param: %r" % r)
    r = c.call("bdev_malloc_create", {"name": "Dup", "num_blocks": 8, "block_size": 512})
    check(r.get("result") == "Dup", "create Dup: %r" % r)
    r = c.call("bdev_malloc_create", {"name": "Dup", "num_blocks": 8, "block_size": 512})
    check(error_code(r) == -17, "duplicate name: %r" % r)
    check(c.call("spdk_get_version").get("result") is not None, "connection died")


def case_malformed(d):
    c = Client(d.sock)
    c.send('{"jsonrpc":"2.0","method":"spdk_get_version","id":1}{"method": oops}')
    check(c.recv_value()["id"] == 1, "the request before the bad one was not answered")
    r = c.recv_value()
    check(error_code(r) == -32700 and r["id"] is None, "parse error reply: %r" % r)
    check(c.at_eof(), "connection not closed after a parse error")
    # Truncated: the client stops sending half-way through a request.
    t = Client(d.sock)
    t.send('{"jsonrpc":"2.0","method":"spdk_get_')
    t.s.shutdown(socket.SHUT_WR)
    r = t.recv_value()
    check(error_code(r) == -32700, "truncated request: %r" % r)
    check(Client(d.sock).call("spdk_get_version").get("result"), "daemon not answering")


def case_big_request(d):
    c = Client(d.sock, timeout=60)
    big = json.dumps({"jsonrpc": "2.0", "method": "bdev_get_bdevs", "id": "big",
                      "params": {"name": "x" * (10 * 1024 * 1024)}})
    c.send(big)
    r = c.recv_value()
    check(error_code(r) == -32600 and "262144" in r["error"]["message"], "10 MB request: %r" % r)
    check(c.call("spdk_get_version").get("result"), "connection did not live on")


def case_many_clients(d):
    # 100 at once: 64 are served, the others get an error reply (not a silent close).
    clients, refused = [], 0
    time.sleep(0.2)  # the start-up probe's connection is gone
    for _ in range(100):
        clients.append(Client(d.sock))
    time.sleep(0.3)
    for cl in clients:
        try:
            cl.send(json.dumps({"jsonrpc": "2.0", "method": "spdk_get_version", "id": 1}))
        except OSError:
            pass  # a refused connection is already closed; its error reply is waiting
    served = 0
    for cl in clients:
        try:
            r = cl.recv_value()
        except (EOFError, OSError) as e:
            fail("a client got no reply at all: %s" % e)
            continue
        if "result" in r:
            served += 1
        elif error_code(r) == -16 and "too many connections" in r["error"]["message"]:
            refused += 1
        else:
            fail("unexpected reply %r" % r)
    check(served == 64 and refused == 36, "served %d, refused %d" % (served, refused))
    for cl in clients:
        cl.close()
    time.sleep(0.3)  # the daemon notices they are gone
    # 100 clients in parallel threads, each doing a few calls, under the limit at any
    # time (connections are closed after use): all succeed.
    errors = []

    def worker(i):
        try:
            cl = Client(d.sock)
            name = "Null%d" % i
            r = cl.call("bdev_null_create", {"name": name, "num_blocks": 16, "block_size": 512})
            if r.get("result") != name:
                errors.append(r)
            r = cl.call("bdev_get_bdevs", {"name": name})
            if r["result"][0]["name"] != name:
                errors.append(r)
            cl.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    sem = threading.Semaphore(40)  # closed connections are reaped asynchronously

    def limited(i):
        with sem:
            worker(i)
    threads = [threading.Thread(target=limited, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, "parallel clients: %s" % errors[:3])
    r = Client(d.sock).call("bdev_get_bdevs")
    check(len(r["result"]) == 100, "%d bdevs after 100 clients" % len(r["result"]))


def case_disconnects(d):
    # Mid-request, and while an asynchronous request is still running.
    a = Client(d.sock)
    a.send('{"jsonrpc":"2.0","method":"bdev_get_bdevs","params":{"na')
    a.close()
    b = Client(d.sock)
    b.send(json.dumps({"jsonrpc": "2.0", "method": "bdev_get_bdevs", "id": 1,
                       "params": {"name": "Later", "timeout": 300}}))
    b.close()
    time.sleep(0.5)
    # A client that never reads its replies: it stops being read, others go on.
    n = Client(d.sock)
    n.s.setblocking(False)
    req = json.dumps({"jsonrpc": "2.0", "method": "rpc_get_methods", "id": 1}).encode()
    sent = 0
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            sent += n.s.send(req * 100)
        except BlockingIOError:
            break
    check(sent > 0, "could not send to the server")
    c = Client(d.sock, timeout=10)
    check(c.call("spdk_get_version").get("result"), "other clients starve behind one that never reads")
    n.close()
    check(Client(d.sock).call("spdk_get_version").get("result"), "daemon not answering")
    check(d.alive(), "daemon died")


def case_kill_instance(d):
    c = Client(d.sock)
    r = c.call("spdk_kill_instance", {"sig_name": "SIGTERM"})
    check(r.get("result") is True, "spdk_kill_instance: %r" % r)
    try:
        rc = d.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        rc = "still running"
    check(rc == 0, "bdevd exit after spdk_kill_instance: %s" % rc)


def case_socket_mode(d):
    st = os.stat(d.sock)
    check(stat.S_ISSOCK(st.st_mode), "not a socket")
    check(stat.S_IMODE(st.st_mode) == 0o600, "socket mode %o" % stat.S_IMODE(st.st_mode))
    check(os.path.exists(d.sock + ".lock"), "no lock file")
    second = subprocess.run([BDEVD, "-r", d.sock], capture_output=True, text=True, timeout=30)
    check(second.returncode == 1 and "another process serves" in second.stderr,
          "second bdevd on the same socket: rc %d, %r" % (second.returncode, second.stderr))
    check(Client(d.sock).call("spdk_get_version").get("result"), "first daemon hurt")


CASES = {
    "partial_writes": case_partial_writes,
    "back_to_back": case_back_to_back,
    "batch": case_batch,
    "bad_input": case_bad_input,
    "malformed": case_malformed,
    "big_request": case_big_request,
    "many_clients": case_many_clients,
    "disconnects": case_disconnects,
    "kill_instance": case_kill_instance,
    "socket_mode": case_socket_mode,
}

if __name__ == "__main__":
    daemon = Daemon()
    try:
        CASES[CASE](daemon)
    except Exception as e:  # noqa: BLE001 - any exception fails the case
        fail("%s: %r" % (CASE, e))
    finally:
        daemon.stop()
    sys.exit(1 if failures else 0)
