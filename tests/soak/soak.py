#!/usr/bin/env python3
"""Soak: bdevperf verify for a long time over a stack of virtual bdevs while bases are
hot removed and re-created and errors are injected, all over RPC.

Stack (made over RPC on bdevperf -z's socket):
    QoS limits on Soakp0 and Soakp1                 (bdev_set_qos_limit)
    split Soak into Soakp0, Soakp1                  (bdev_split_create)
    raid0 "Soak", 64 KiB strips, over EE_Malloc0 and Aio0
    EE_Malloc0: error bdev over Malloc0             (bdev_error_create, when the build has it)
    Malloc0 (RAM) and Aio0 (a file in the work dir)

bdevperf runs verify (-f: a failed I/O is counted and the job goes on) on the two
split parts in rounds of --round seconds (one perform_tests call each). In each round
one event, at a random time in its first 70 %:
    none         a clean round: no failure allowed
    remove_malloc / remove_aio
                 the base is deleted (the raid goes offline, the split parts go away,
                 their jobs end "was removed"), then re-created after a random pause;
                 the raid, the parts and their QoS limits come back
    inject       bdev_error_inject_error on EE_Malloc0: N failures of reads or writes;
                 the round must count exactly N failed I/Os (every injected error is
                 seen once, and nothing else fails)
A verify miscompare anywhere fails the soak. bdevperf's resident memory is sampled
after every round.

Usage: soak.py --bdevperf PATH --bdevctl PATH [--time S] [--round S] [--seed N]
               [--work-dir DIR] [--cores MASK]
Prints a line per round and a summary; exits 1 if a check failed.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

MALLOC_BLOCKS = 131072  # 64 MiB of 512-byte blocks
AIO_BYTES = 64 << 20
QOS = {"rw_ios_per_sec": 40000, "rw_mbytes_per_sec": 400}
PARTS = ["Soakp0", "Soakp1"]


class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.dir = args.work_dir or tempfile.mkdtemp(prefix="bdevkit_soak_")
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "perf.sock")
        self.json_out = os.path.join(self.dir, "round.json")
        self.aio_file = os.path.join(self.dir, "aio0.img")
        self.failures = []
        self.totals = {"rounds": 0, "ops": 0, "injected": 0, "observed": 0, "miscompares": 0,
                       "removes": 0, "removes_under_io": 0, "events": {}}
        self.rss = []  # (seconds since start, KiB)
        self.start = time.time()
        self.proc = None
        self.has_error_bdev = False

    # --- plumbing ---------------------------------------------------------------
    def fail(self, msg):
        print("FAIL: " + msg, file=sys.stderr, flush=True)
        self.failures.append(msg)

    def call(self, method, params=None, timeout=60):
        """bdevctl raw call: (ok, result or error text)."""
        p = subprocess.run([self.args.bdevctl, "-s", self.sock, "-t", str(timeout), "call", method,
                            json.dumps(params or {})], capture_output=True, text=True,
                           timeout=timeout + 30)
        if p.returncode != 0:
            return False, p.stderr.strip()
        try:
            return True, json.loads(p.stdout)
        except ValueError:
            return True, p.stdout.strip()

    def must(self, method, params=None):
        ok, out = self.call(method, params)
        if not ok:
            self.fail("%s %s: %s" % (method, json.dumps(params), out))
            raise SystemExit(self.finish())
        return out

    def rss_kib(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    # --- the stack --------------------------------------------------------------
    def start_bdevperf(self):
        self.out = open(os.path.join(self.dir, "bdevperf.out"), "w+")
        self.err = open(os.path.join(self.dir, "bdevperf.err"), "w+")
        cmd = [self.args.bdevperf, "-z", "-r", self.sock, "-q", "32", "-o", "4k", "-w", "verify",
               "-t", str(self.args.round), "-f", "--output-json", self.json_out,
               "-m", self.args.cores]
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=self.err)
        deadline = time.time() + 60
        while time.time() < deadline and self.proc.poll() is None:
            self.out.seek(0)
            if "Waiting for perform_tests" in self.out.read():
                return
            time.sleep(0.05)
        self.dump()
        raise SystemExit("bdevperf -z did not start")

    def create_malloc(self):
        self.must("bdev_malloc_create", {"name": "Malloc0", "num_blocks": MALLOC_BLOCKS,
                                         "block_size": 512})

    def create_aio(self):
        self.must("bdev_aio_create", {"name": "Aio0", "filename": self.aio_file,
                                      "block_size": 512})

    def build_stack(self):
        with open(self.aio_file, "wb") as f:
            f.truncate(AIO_BYTES)
        methods = self.must("rpc_get_methods")
        self.has_error_bdev = "bdev_error_inject_error" in methods
        # Top down: the split and the raid are declared before their bases exist and
        # are assembled by examine as the bases appear (as after a re-create).
        self.must("bdev_split_create", {"base_bdev": "Soak", "split_count": 2})
        first = "EE_Malloc0" if self.has_error_bdev else "Malloc0"
        self.must("bdev_raid_create", {"name": "Soak", "raid_level": "raid0",
                                       "strip_size_kb": 64, "base_bdevs": [first, "Aio0"]})
        self.create_malloc()
        if self.has_error_bdev:
            self.must("bdev_error_create", {"base_name": "Malloc0"})
        self.create_aio()
        self.settle()

    def settle(self):
        """Waits for examine, checks the parts are back, (re)applies their QoS limits."""
        self.must("bdev_wait_for_examine")
        if self.has_error_bdev:
            ok, _ = self.call("bdev_get_bdevs", {"name": "EE_Malloc0"})
            if not ok:  # not re-declared by the module: make it again
                self.must("bdev_error_create", {"base_name": "Malloc0"})
                self.must("bdev_wait_for_examine")
        for part in PARTS:
            ok, out = self.call("bdev_get_bdevs", {"name": part, "timeout": 5000})
            if not ok:
                self.fail("%s did not come back: %s" % (part, out))
                raise SystemExit(self.finish())
            self.must("bdev_set_qos_limit", dict(QOS, name=part))

    # --- rounds -----------------------------------------------------------------
    def pick_event(self):
        # Every kind once first (in a random order), so a short run covers them all.
        events = ["none", "remove_malloc", "remove_aio"]
        if self.has_error_bdev:
            events += ["inject"]
        if not hasattr(self, "first_events"):
            self.first_events = self.rng.sample(events, len(events))
        if self.first_events:
            return self.first_events.pop(0)
        return self.rng.choice(events + (["inject"] if self.has_error_bdev else []))

    def do_event(self, event):
        """Runs the event; returns the number of errors injected."""
        if event == "remove_malloc":
            self.must("bdev_malloc_delete", {"name": "Malloc0"})
            time.sleep(self.rng.uniform(0.1, 1.0))
            self.create_malloc()
        elif event == "remove_aio":
            self.must("bdev_aio_delete", {"name": "Aio0"})
            time.sleep(self.rng.uniform(0.1, 1.0))
            self.create_aio()
        elif event == "inject":
            n = self.rng.randint(1, 20)
            io_type = self.rng.choice(["read", "write"])
            self.must("bdev_error_inject_error", {"name": "EE_Malloc0", "io_type": io_type,
                                                  "error_type": "failure", "num": n})
            return n
        return 0

    def round(self):
        event = self.pick_event()
        if os.path.exists(self.json_out):
            os.remove(self.json_out)
        answer = {}

        def perform():
            answer["ok"], answer["out"] = self.call("perform_tests", {},
                                                    timeout=self.args.round + 120)

        t = threading.Thread(target=perform)
        t.start()
        time.sleep(self.rng.uniform(0.1, 0.7) * self.args.round)
        injected = self.do_event(event)
        t.join()
        self.totals["rounds"] += 1
        self.totals["events"][event] = self.totals["events"].get(event, 0) + 1
        if event.startswith("remove"):
            self.totals["removes"] += 1
        self.totals["injected"] += injected

        try:
            with open(self.json_out) as f:
                results = json.load(f)["results"]
        except (OSError, ValueError, KeyError) as e:
            self.fail("round %d: no results file (%s); perform_tests: %s" %
                      (self.totals["rounds"], e, answer.get("out")))
            return
        ops = sum(r["ops"]["read"] + r["ops"]["write"] for r in results)
        failed = sum(r["io_failed"] for r in results)
        self.totals["ops"] += ops
        self.totals["observed"] += failed
        kind = "observed_inject" if event == "inject" else "observed_remove"
        self.totals[kind] = self.totals.get(kind, 0) + failed
        text = "" if answer.get("ok") else str(answer.get("out"))
        miscompares = text.count("verify miscompare")
        self.totals["miscompares"] += miscompares
        n = self.totals["rounds"]
        if miscompares:
            self.fail("round %d: verify miscompare: %s" % (n, text))
        if event == "none" and (failed or not answer.get("ok")):
            self.fail("round %d (no event): %d failed I/Os: %s" % (n, failed, text))
        if event == "inject":
            if failed != injected:
                self.fail("round %d: %d errors injected, %d I/Os failed" % (n, injected, failed))
            if not answer.get("ok"):
                self.fail("round %d: injected errors ended a job: %s" % (n, text))
        if event.startswith("remove"):
            if "was removed" in text:
                self.totals["removes_under_io"] += 1
            for part in text.split("; "):
                if "failed" in part and "was removed" not in part:
                    self.fail("round %d: a job failed for another reason than the removal: %s"
                              % (n, part))
        self.settle()
        rss = self.rss_kib()
        self.rss.append((time.time() - self.start, rss))
        print("round %3d  %6.0f s  %-13s ops %9d  injected %3d  failed I/O %5d  rss %7d KiB" %
              (n, time.time() - self.start, event, ops, injected, failed, rss), flush=True)

    # --- end --------------------------------------------------------------------
    def dump(self):
        for f, name in ((self.out, "stdout"), (self.err, "stderr")):
            f.seek(0)
            sys.stderr.write("--- bdevperf %s (last 60 lines):\n%s\n" %
                             (name, "".join(f.readlines()[-60:])))

    def stop_bdevperf(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.call("spdk_kill_instance", {"sig_name": "SIGTERM"})
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.fail("bdevperf did not exit after spdk_kill_instance")
            return
        if code != 0:
            self.fail("bdevperf exit code %d" % code)
        self.err.seek(0)
        log = self.err.read()
        if "Sanitizer" in log or "runtime error:" in log:
            self.fail("sanitizer report in bdevperf's stderr")

    def finish(self):
        self.stop_bdevperf()
        t = self.totals
        elapsed = time.time() - self.start
        print("\nsoak: %.0f s, %d rounds of %d s (events: %s)" %
              (elapsed, t["rounds"], self.args.round,
               ", ".join("%s %d" % kv for kv in sorted(t["events"].items()))))
        print("  ops (successful reads + writes): %d" % t["ops"])
        print("  hot removes + re-creates:        %d (%d while jobs ran on the parts)" %
              (t["removes"], t["removes_under_io"]))
        print("  errors injected:                 %d%s" %
              (t["injected"], "" if self.has_error_bdev else " (no error bdev in this build)"))
        print("  errors observed (failed I/O):    %d (%d in injection rounds, %d in removal rounds)"
              % (t["observed"], t.get("observed_inject", 0), t.get("observed_remove", 0)))
        print("  verify miscompares:              %d" % t["miscompares"])
        if self.rss:
            values = [kib for _, kib in self.rss]
            print("  bdevperf RSS (KiB): first %d, last %d, min %d, max %d" %
                  (values[0], values[-1], min(values), max(values)))
            step = max(1, len(self.rss) // 10)
            print("  RSS over time: " + ", ".join("%.0fs %d" % s for s in self.rss[::step]))
        if self.failures:
            print("soak FAILED: %d check(s) failed" % len(self.failures))
            self.dump()
            return 1
        print("soak passed")
        if not self.args.work_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        return 0

    def run(self):
        self.start_bdevperf()
        try:
            self.build_stack()
            deadline = self.start + self.args.time
            while time.time() + self.args.round < deadline or self.totals["rounds"] == 0:
                self.round()
                if self.proc.poll() is not None:
                    self.fail("bdevperf died (exit %s)" % self.proc.returncode)
                    break
        except KeyboardInterrupt:
            self.fail("interrupted")
        return self.finish()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bdevperf", required=True)
    p.add_argument("--bdevctl", required=True)
    p.add_argument("--time", type=int, default=600, help="seconds in all (default 600)")
    p.add_argument("--round", type=int, default=10, help="seconds per round (default 10)")
    p.add_argument("--seed", type=int, default=None, help="event choices and times")
    p.add_argument("--work-dir", default=None, help="kept after the run (default: a temp dir)")
    p.add_argument("--cores", default="0x1", help="bdevperf core mask (default 0x1)")
    args = p.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    print("soak: seed %d, %d s, rounds of %d s" % (args.seed, args.time, args.round), flush=True)
    sys.exit(Soak(args).run())


if __name__ == "__main__":
    main()
