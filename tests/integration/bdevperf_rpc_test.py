#!/usr/bin/env python3
"""bdevperf -z driven over its socket with bdevctl, the way SPDK's bdevperf.py drives
SPDK's: bdevs created over RPC, perform_tests run and answered, bdev_get_iostat read.

Usage: bdevperf_rpc_test.py BDEVPERF BDEVCTL CASE   (CASE: see CASES at the bottom)
Each case starts its own bdevperf -z on a temporary socket and stops it with
spdk_kill_instance, checking it exits 0.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

BDEVPERF, BDEVCTL, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []

# SPDK's keys of a perform_tests result entry, then ours.
SPDK_KEYS = ["job", "core_mask", "workload", "status", "queue_depth", "io_size", "runtime",
             "iops", "mibps", "io_failed", "io_timeout", "avg_latency_us", "min_latency_us",
             "max_latency_us"]
OUR_KEYS = ["latency_percentiles_us", "ops"]


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    failures.append(msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


class Perf:
    """bdevperf -z on a private socket; extra args go to bdevperf."""

    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="bdevkit_perf_rpc_")
        self.sock = os.path.join(self.dir, "perf.sock")
        self.out = open(os.path.join(self.dir, "out.log"), "w+")
        self.err = open(os.path.join(self.dir, "err.log"), "w+")
        self.proc = subprocess.Popen([BDEVPERF, "-z", "-r", self.sock, *args], stdout=self.out,
                                     stderr=self.err)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            self.out.seek(0)
            if "Waiting for perform_tests" in self.out.read():
                return
            time.sleep(0.05)
        self.dump()
        raise SystemExit("bdevperf -z did not start")

    def ctl(self, *args, timeout=120):
        """Runs bdevctl; returns (exit code, parsed stdout or text, stderr)."""
        p = subprocess.run([BDEVCTL, "-s", self.sock, "-t", str(timeout), *args],
                           capture_output=True, text=True, timeout=timeout + 30)
        try:
            out = json.loads(p.stdout)
        except ValueError:
            out = p.stdout.strip()
        return p.returncode, out, p.stderr.strip()

    def call(self, method, params=None, timeout=120):
        return self.ctl("call", method, json.dumps(params or {}), timeout=timeout)

    def ok(self, method, params=None):
        rc, out, err = self.call(method, params)
        if not check(rc == 0, "%s %s: exit %d: %s" % (method, params, rc, err)):
            self.dump()
            raise SystemExit(1)
        return out

    def dump(self):
        for f, name in ((self.out, "stdout"), (self.err, "stderr")):
            f.seek(0)
            sys.stderr.write("--- bdevperf %s:\n%s" % (name, f.read()))

    def stop(self):
        rc, out, err = self.call("spdk_kill_instance", {"sig_name": "SIGTERM"})
        check(rc == 0, "spdk_kill_instance: %s" % err)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("bdevperf -z did not exit after spdk_kill_instance")
            code = None
        if not check(code == 0, "bdevperf -z exit code %s" % code):
            self.dump()
        check(not os.path.exists(self.sock), "socket left behind")
        shutil.rmtree(self.dir, ignore_errors=True)

    def stdout(self):
        self.out.seek(0)
        return self.out.read()


def iostat(perf, name):
    out = perf.ok("bdev_get_iostat", {"name": name})
    return out["bdevs"][0]


def case_iostat_counts():
    """Every workload on a malloc bdev made over RPC: the I/Os perform_tests reports,
    by type, are exactly what the bdev layer counted (bdev_get_iostat deltas)."""
    perf = Perf("-q", "16", "-o", "4k", "-t", "1")
    perf.ok("bdev_malloc_create", {"name": "Malloc0", "num_blocks": 4096, "block_size": 4096})
    runs = [("read", None), ("write", None), ("randread", None), ("randwrite", None),
            ("rw", 30), ("randrw", 70), ("verify", None), ("reset", None), ("unmap", None),
            ("write_zeroes", None), ("flush", None)]
    for workload, mix in runs:
        params = {"workload_type": workload}
        if workload == "reset":
            params["time_in_sec"] = 3  # resets come every second
        if mix is not None:
            params["rw_percentage"] = mix
        before = iostat(perf, "Malloc0")
        res = perf.ok("perform_tests", params)
        after = iostat(perf, "Malloc0")
        check(res["core_count"] == 1, "%s: core_count %s" % (workload, res["core_count"]))
        jobs = res["results"]
        if not check(len(jobs) == 1, "%s: %d jobs" % (workload, len(jobs))):
            continue
        job = jobs[0]
        check(job["job"] == "Malloc0" and job["workload"] == workload and job["status"] == "finished",
              "%s: job entry %s" % (workload, job))
        ops = job["ops"]
        delta = {k: after[k] - before[k] for k in ("num_read_ops", "num_write_ops", "num_unmap_ops")}
        check(delta["num_read_ops"] == ops["read"], "%s: iostat reads %d, bdevperf %d" %
              (workload, delta["num_read_ops"], ops["read"]))
        check(delta["num_write_ops"] == ops["write"], "%s: iostat writes %d, bdevperf %d" %
              (workload, delta["num_write_ops"], ops["write"]))
        check(delta["num_unmap_ops"] == ops["unmap"], "%s: iostat unmaps %d, bdevperf %d" %
              (workload, delta["num_unmap_ops"], ops["unmap"]))
        # What each workload must have done (and only that).
        main = {"read": "read", "randread": "read", "write": "write", "randwrite": "write",
                "unmap": "unmap", "write_zeroes": "write_zeroes", "flush": "flush"}.get(workload)
        if main:
            check(ops[main] > 0, "%s: no %s done: %s" % (workload, main, ops))
            others = sum(v for k, v in ops.items() if k != main)
            check(others == 0, "%s: other I/O types done: %s" % (workload, ops))
        elif workload in ("rw", "randrw"):
            total = ops["read"] + ops["write"]
            share = 100.0 * ops["read"] / total if total else -1
            check(abs(share - mix) < 5, "%s -M %d: %.1f%% reads (%s)" % (workload, mix, share, ops))
            check(job.get("percentage") == mix, "%s: percentage %s" % (workload, job.get("percentage")))
        else:  # verify, reset: every write read back
            check(ops["write"] > 0 and abs(ops["read"] - ops["write"]) <= 16,
                  "%s: writes and read-backs differ: %s" % (workload, ops))
            check(job["verify_range"] == {"start": 0, "length": 4096},
                  "%s: verify_range %s" % (workload, job.get("verify_range")))
            if workload == "reset":
                check(ops["reset"] >= 1, "reset: no reset done in 3 s: %s" % ops)
        total = sum(ops.values()) - ops["reset"]
        check(abs(job["iops"] * job["runtime"] - total) < 1.0,
              "%s: iops x runtime %.1f != I/Os %d" % (workload, job["iops"] * job["runtime"], total))
    perf.stop()


def case_perform_tests():
    """The reply's shape, parameters over the command line's, errors, one at a time."""
    perf = Perf("-q", "4", "-o", "4k", "-w", "randread", "-t", "1")
    # No bdev yet: a clear error, and bdevperf stays up.
    rc, _, err = perf.call("perform_tests")
    check(rc != 0 and "no bdevs to test" in err, "no bdevs: rc %d %s" % (rc, err))
    perf.ok("bdev_null_create", {"name": "Null0", "num_blocks": 65536, "block_size": 4096})
    perf.ok("bdev_malloc_create", {"name": "Malloc0", "num_blocks": 2048, "block_size": 512})
    res = perf.ok("perform_tests")  # the command line's values
    check(sorted(r["job"] for r in res["results"]) == ["Malloc0", "Null0"], "jobs %s" % res)
    for r in res["results"]:
        check(list(r.keys()) == SPDK_KEYS + OUR_KEYS or
              sorted(r.keys()) == sorted(SPDK_KEYS + OUR_KEYS),
              "keys %s" % sorted(r.keys()))
        check(r["workload"] == "randread" and r["queue_depth"] == 4 and r["io_size"] == 4096,
              "command-line values %s" % r)
        check(0.9 < r["runtime"] < 3 and r["iops"] > 0 and r["io_failed"] == 0, "numbers %s" % r)
        check(r["min_latency_us"] <= r["avg_latency_us"] <= r["max_latency_us"], "latency %s" % r)
        p = r["latency_percentiles_us"]
        check(p["p50"] <= p["p90"] <= p["p99"] <= p["p99.9"] <= p["p99.99"] <= r["max_latency_us"],
              "percentiles %s" % p)
    # Parameters override for one call only.
    res = perf.ok("perform_tests", {"time_in_sec": 1, "workload_type": "write", "queue_depth": 2,
                                    "io_size": "8k"})
    check(all(r["workload"] == "write" and r["queue_depth"] == 2 and r["io_size"] == 8192
              for r in res["results"]), "overrides %s" % res)
    res = perf.ok("perform_tests", {"io_size": 8192})
    check(all(r["workload"] == "randread" and r["io_size"] == 8192 and r["queue_depth"] == 4
              for r in res["results"]) , "back to the command line's values %s" % res)
    # Bad parameters: one clear error each; nothing runs.
    for params, text in [({"workload_type": "bogus"}, "unknown workload 'bogus'"),
                         ({"io_size": "4x"}, "not a size"),
                         ({"io_size": 1000}, "not a multiple of the block size 4096 of bdev Null0"),
                         ({"queue_depth": 0}, "queue_depth"),
                         ({"workload_type": "rw"}, "needs the read percentage"),
                         ({"rw_percentage": 50}, "only applies to rw and randrw"),
                         ({"time_in_sec": "x"}, "time_in_sec"),
                         ({"bogus": 1}, "bogus")]:
        rc, _, err = perf.call("perform_tests", params)
        check(rc != 0 and text in err, "%s: rc %d, %s" % (params, rc, err))
    # One at a time: a second call while a run goes is refused, the first completes.
    first = {}

    def run_long():
        first["r"] = perf.call("perform_tests", {"time_in_sec": 3})

    t = threading.Thread(target=run_long)
    t.start()
    time.sleep(1.0)
    rc, _, err = perf.call("perform_tests")
    check(rc != 0 and "one at a time" in err, "concurrent call: rc %d %s" % (rc, err))
    t.join()
    check(first["r"][0] == 0, "the first call failed: %s" % (first["r"],))
    # The table is printed on bdevperf's stdout for each run, as SPDK's does.
    check(perf.stdout().count("Latency(us)") == 4, "tables on stdout:\n" + perf.stdout())
    perf.stop()


def case_bdev_removed():
    """A bdev deleted while a test runs on it: the job fails with the reason, the
    call gets an error, and bdevperf serves the next call."""
    perf = Perf("-q", "8", "-o", "4k", "-w", "randread", "-t", "5")
    perf.ok("bdev_malloc_create", {"name": "Malloc0", "num_blocks": 4096, "block_size": 4096})
    result = {}

    def run():
        result["r"] = perf.call("perform_tests")

    t = threading.Thread(target=run)
    t.start()
    time.sleep(1.5)
    perf.ok("bdev_malloc_delete", {"name": "Malloc0"})
    t.join()
    rc, _, err = result["r"]
    check(rc != 0 and "Malloc0 was removed" in err, "removed bdev: rc %d %s" % (rc, err))
    check("job Malloc0 failed: bdev Malloc0 was removed" in perf.err_text(),
          "no failure line on stderr")
    perf.ok("bdev_malloc_create", {"name": "Malloc1", "num_blocks": 4096, "block_size": 4096})
    res = perf.ok("perform_tests", {"time_in_sec": 1})
    check([r["job"] for r in res["results"]] == ["Malloc1"], "after removal %s" % res)
    perf.stop()


def case_kill_during_run():
    """spdk_kill_instance while a test runs: the caller gets the results so far
    (status terminated) and bdevperf exits 0."""
    perf = Perf("-q", "8", "-o", "4k", "-w", "randread", "-t", "30")
    perf.ok("bdev_null_create", {"name": "Null0", "num_blocks": 65536, "block_size": 4096})
    result = {}

    def run():
        result["r"] = perf.call("perform_tests")

    t = threading.Thread(target=run)
    t.start()
    time.sleep(1.5)
    start = time.time()
    perf.stop()
    t.join()
    check(time.time() - start < 20, "stopping took %.1f s" % (time.time() - start))
    rc, out, err = result["r"]
    if check(rc == 0, "terminated run: rc %d %s" % (rc, err)):
        r = out["results"][0]
        check(r["status"] == "terminated" and r["runtime"] < 10, "terminated entry %s" % r)


def _err_text(self):
    self.err.seek(0)
    return self.err.read()


Perf.err_text = _err_text

CASES = {
    "iostat_counts": case_iostat_counts,
    "perform_tests": case_perform_tests,
    "bdev_removed": case_bdev_removed,
    "kill_during_run": case_kill_during_run,
}

if __name__ == "__main__":
    CASES[CASE]()
    if failures:
        print("%s: FAILED (%d)" % (CASE, len(failures)), file=sys.stderr)
        sys.exit(1)
    print("%s: passed" % CASE)
