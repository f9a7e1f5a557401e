#!/usr/bin/env python3
"""An RPC storm for fault_test.sh rpc_storm: CLIENTS connections at once, each creating
and deleting bdevs (malloc, an error bdev over it, a split of that) ROUNDS times and
checking every answer, with malformed, invalid and oversized requests mixed in on
throwaway connections. Prints a JSON summary; exit 1 if any answer was wrong.

Usage: rpc_storm.py SOCKET CLIENTS ROUNDS TAG
"""
import json
import socket
import sys
import threading

SOCK, CLIENTS, ROUNDS, TAG = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]


class Client:
    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(60)
        self.s.connect(SOCK)
        self.buf = ""
        self.dec = json.JSONDecoder()
        self.next_id = 0

    def send(self, text):
        self.s.sendall(text.encode())

    def recv(self):
        while True:
            stripped = self.buf.lstrip()
            if stripped:
                try:
                    value, end = self.dec.raw_decode(stripped)
                    self.buf = stripped[end:]
                    return value
                except json.JSONDecodeError:
                    pass
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buf += chunk.decode()

    def call(self, method, params=None):
        self.next_id += 1
        req = {"jsonrpc": "2.0", "method": method, "id": self.next_id}
        if params is not None:
            req["params"] = params
        self.send(json.dumps(req))
        return self.recv()

    def close(self):
        self.s.close()


errors = []
counts = {"calls": 0, "bad_requests": 0}
lock = threading.Lock()


def wrong(what):
    with lock:
        errors.append(what)


def expect(reply, pred, what):
    with lock:
        counts["calls"] += 1
    if reply is None or not pred(reply):
        wrong("%s: %r" % (what, reply))


def code(r):
    return r.get("error", {}).get("code") if isinstance(r, dict) else None


def bad_requests(i, r):
    """Malformed, invalid and oversized requests, each on its own connection."""
    # Not JSON: a parse error answer, then the server closes.
    c = Client()
    c.send('{"jsonrpc":"2.0","method": oops}')
    expect(c.recv(), lambda x: code(x) == -32700, "parse error")
    c.close()
    c = Client()
    expect(c.call("no_such_method"), lambda x: code(x) == -32601, "unknown method")
    c.send('{"jsonrpc":"2.0","id":5}')  # no method
    expect(c.recv(), lambda x: code(x) == -32600, "no method")
    expect(c.call("bdev_malloc_create", {"name": 5}), lambda x: code(x) == -32602, "bad params")
    expect(c.call("bdev_error_inject_error", {"name": "nope", "io_type": "read",
                                              "error_type": "failure"}),
           lambda x: code(x) == -19, "inject into nothing")
    # Over the size limit: refused, the connection lives on.
    c.send(json.dumps({"jsonrpc": "2.0", "method": "bdev_get_bdevs", "id": "big",
                       "params": {"name": "x" * (300 * 1024)}}))
    expect(c.recv(), lambda x: code(x) == -32600, "oversized request")
    expect(c.call("spdk_get_version"), lambda x: "result" in x, "after the oversized request")
    c.close()
    # Half a request, then the client goes away.
    c = Client()
    c.send('{"jsonrpc":"2.0","method":"bdev_get_')
    c.close()
    with lock:
        counts["bad_requests"] += 1


def client(i):
    try:
        c = Client()
        for r in range(ROUNDS):
            base = "St%s_%d_%d" % (TAG, i, r)
            expect(c.call("bdev_malloc_create", {"name": base, "num_blocks": 2048, "block_size": 512}),
                   lambda x: x.get("result") == base, "create " + base)
            expect(c.call("bdev_error_create", {"base_name": base}),
                   lambda x: x.get("result") is True, "error over " + base)
            expect(c.call("bdev_split_create", {"base_bdev": "EE_" + base, "split_count": 2}),
                   lambda x: x.get("result") == ["EE_%sp0" % base, "EE_%sp1" % base], "split")
            expect(c.call("bdev_get_bdevs", {"name": "EE_%sp1" % base}),
                   lambda x: x.get("result", [{}])[0].get("num_blocks") == 1024, "get part")
            expect(c.call("bdev_malloc_create", {"name": base, "num_blocks": 8, "block_size": 512}),
                   lambda x: code(x) == -17, "duplicate " + base)
            expect(c.call("bdev_split_delete", {"base_bdev": "EE_" + base}),
                   lambda x: x.get("result") is True, "split delete")
            expect(c.call("bdev_error_delete", {"name": "EE_" + base}),
                   lambda x: x.get("result") is True, "error delete")
            expect(c.call("bdev_malloc_delete", {"name": base}),
                   lambda x: x.get("result") is True, "delete " + base)
            if r % 4 == i % 4:
                bad_requests(i, r)
        c.close()
    except (OSError, ValueError) as e:
        wrong("client %d: %s" % (i, e))


threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"calls": counts["calls"], "bad_request_sets": counts["bad_requests"],
                  "wrong": len(errors), "first_wrong": errors[:5]}))
sys.exit(1 if errors else 0)
