#!/usr/bin/env python3
"""Runs berth's benchmarks and writes the report (BENCHMARKS.md).

    bench/run.sh                 # build (Release) and run everything
    python3 bench/run.py --smoke --bin BUILD/bench --berth BUILD/berth \
        --out DIR                # tiny sizes, seconds (CTest: bench-smoke)

Every figure is measured several times, interleaved (berth, kernel, lwIP,
berth, kernel, lwIP, ...); a figure prints the median and the min-max, and
ratios are computed pair by pair from runs of the same repetition. Timing
never fails: a benchmark that does not complete is reported as such.

The kernel runs inside network namespaces this script creates and deletes
(as root); without root they use the host's loopback, unchanged, and the
parts that need a namespace, a TUN device or /proc/slabinfo are skipped.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PID = os.getpid()


class Bench:
    def __init__(self, args):
        self.a = args
        self.t0 = time.monotonic()
        self.root = os.geteuid() == 0
        self.tun = self.root and os.path.exists("/dev/net/tun") and \
            shutil.which("ip") is not None
        self.namespaces = []
        self.guard_dir = None  # the namespaces' list for the guard
        self.procs = []
        self.notes = []       # what was skipped or went wrong, for the report
        self.res = {}         # figure -> series -> [result dict per rep]
        self.callgrind = None
        self.bin = os.path.abspath(args.bin)
        self.bb = os.path.join(self.bin, "berth-bench")
        self.kb = os.path.join(self.bin, "kernel-bench")
        self.lb = os.path.join(self.bin, "lwip-bench")
        self.berth = os.path.abspath(args.berth) if args.berth else None
        if not os.path.exists(self.lb):
            self.lb = None
            self.note("lwIP: lwip-bench not built (liblwip-dev missing); "
                      "lwIP comparisons skipped.")

    # ---- plumbing ----

    def log(self, msg):
        sys.stderr.write("[%6.1fs] %s\n" % (time.monotonic() - self.t0, msg))
        sys.stderr.flush()

    def note(self, msg):
        if msg not in self.notes:
            self.notes.append(msg)

    def netns_cmd(self, ns, cmd):
        return ["ip", "netns", "exec", ns] + cmd if ns else cmd

    def run(self, cmd, ns=None, timeout=300, env=None):
        """Runs a benchmark program; returns its RESULT lines as dicts.
        env: variables added to the environment (e.g. glibc malloc's)."""
        full = self.netns_cmd(ns, cmd)
        try:
            p = subprocess.run(full, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               timeout=timeout,
                               env=dict(os.environ, **env) if env else None)
        except subprocess.TimeoutExpired:
            self.note("timed out after %d s: %s" % (timeout, " ".join(cmd)))
            return []
        out = parse_results(p.stdout)
        if p.returncode != 0:
            self.note("exit %d: %s: %s" % (p.returncode, " ".join(cmd),
                                           p.stderr.strip()[-300:]))
        return out

    def spawn(self, cmd, ns=None, stdout=subprocess.DEVNULL,
              stdin=subprocess.DEVNULL):
        """A background process (`ip netns exec` execs, so the PID is the
        program's own); stopped by its PID."""
        p = subprocess.Popen(self.netns_cmd(ns, cmd), stdin=stdin,
                             stdout=stdout, stderr=subprocess.PIPE)
        self.procs.append(p)
        return p

    def reap(self, p, timeout=10.0, term=False):
        """Waits for a spawned process; returns its CPU seconds (wait4)."""
        if term:
            p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.send_signal(signal.SIGKILL)
                pid, status, ru = os.wait4(p.pid, 0)
                self.note("had to kill: %s" % " ".join(p.args))
                break
            time.sleep(0.01)
        p.returncode = os.waitstatus_to_exitcode(status)
        self.procs.remove(p)
        return ru.ru_utime + ru.ru_stime

    def start_guard(self):
        """tests/interop/guard.sh, detached (setsid -f: out of this
        process's tree and group): when this process is gone, the
        namespaces still listed in guard_dir/.netns are deleted. A SIGKILL
        (CTest's TIMEOUT for bench.smoke) runs no cleanup of ours."""
        guard = os.path.join(ROOT, "tests", "interop", "guard.sh")
        if self.guard_dir or not os.path.exists(guard):
            return
        self.guard_dir = tempfile.mkdtemp(prefix="berth-bench-netns-")
        open(os.path.join(self.guard_dir, ".netns"), "w").close()
        subprocess.run(["setsid", "-f", "bash", guard, str(PID),
                        self.guard_dir, "0", "0"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def guard_list(self, names):
        if self.guard_dir:
            with open(os.path.join(self.guard_dir, ".netns"), "w") as f:
                f.write("".join(n + "\n" for n in names))

    def netns_add(self, name, sysctls=()):
        self.start_guard()
        self.guard_list(self.namespaces + [name])  # listed before it exists
        r = subprocess.run(["ip", "netns", "add", name])
        if r.returncode != 0:  # not ours: never deleted
            self.guard_list(self.namespaces)
            raise subprocess.CalledProcessError(r.returncode, r.args)
        self.namespaces.append(name)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"],
                       check=True)
        for kv in sysctls:
            subprocess.run(["ip", "netns", "exec", name, "sysctl", "-q", "-w",
                            kv], check=True)
        return name

    def netns_del(self, name):
        if name in self.namespaces:
            subprocess.run(["ip", "netns", "del", name])
            self.namespaces.remove(name)
            self.guard_list(self.namespaces)

    def cleanup(self):
        for p in list(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
        for ns in list(self.namespaces):
            self.netns_del(ns)
        if self.guard_dir:  # nothing left for the guard
            shutil.rmtree(self.guard_dir, ignore_errors=True)
            self.guard_dir = None

    def add(self, fig, series, r):
        self.res.setdefault(fig, {}).setdefault(series, []).append(r)

    # ---- figures ----

    def fig_lifecycle(self):
        sm = self.a.smoke
        n = "2000" if sm else "100000"
        ns = None
        if self.root:
            ns = self.netns_add("bb-lo-%d" % PID, [
                "net.ipv4.tcp_tw_reuse=1", "net.core.somaxconn=65535",
                "net.ipv4.tcp_max_syn_backlog=65535",
                "net.ipv4.tcp_max_tw_buckets=2000000"])
        else:
            self.note("not root: the kernel's lifecycle ran on the host's "
                      "loopback with its sysctls unchanged (no TIME-WAIT "
                      "reuse set).")
        for rep in range(self.a.reps):
            r = self.run([self.bb, "lifecycle", "--conns", n])
            self.add("lifecycle", "berth", first(r))
            r = self.run([self.kb, "lifecycle", "--conns", n], ns=ns)
            self.add("lifecycle", "kernel", first(r))
            if self.lb:
                r = self.run([self.lb, "lifecycle", "--conns", n])
                self.add("lifecycle", "lwip", first(r))
            # Diagnostic: berth with 4 KiB socket buffers (each lifecycle
            # allocates and zero-fills two buffers per end).
            r = self.run([self.bb, "lifecycle", "--conns", n, "--buf", "4k"])
            self.add("lifecycle", "berth_buf4k", first(r))
            self.log("lifecycle %d/%d: %s" % (rep + 1, self.a.reps, ", ".join(
                "%s %s conn/s %s us" % (s, kfmt(v[-1].get("conn_per_s")),
                                         ffmt(v[-1].get("cpu_us_per_conn")))
                for s, v in self.res["lifecycle"].items())))
        if self.lb and not sm:
            # lwIP as Debian builds it: TIME-WAIT PCBs kept 2 minutes.
            r = self.run([self.lb, "lifecycle", "--conns", "10000",
                          "--tw-cap", "0"])
            self.add("lifecycle_extra", "lwip_nocap", first(r))
        if ns:
            self.netns_del(ns)

    def fig_shards(self):
        """The lifecycle on 1 and 2 shards in one process (berth-bench
        shards: one pinned thread per shard, its own pair and load),
        interleaved; the ratio is pairwise, 2 shards over 1."""
        n = "2000" if self.a.smoke else "100000"
        for rep in range(self.a.reps):
            for t in ("1", "2"):
                r = self.run([self.bb, "shards", "--threads", t, "--conns", n])
                self.add("shards", "threads_" + t, first(r))
            self.log("shards %d/%d: %s" % (rep + 1, self.a.reps, ", ".join(
                "%s %s conn/s" % (s, kfmt(v[-1].get("conn_per_s")))
                for s, v in self.res["shards"].items())))

    def fig_shards_tun(self):
        """berth http --threads 1 and 2 over TUN: wrk (the kernel's load
        generator, in the same namespace) opens a new connection for each
        request (Connection: close); berth's CPU per connection from its
        rusage, connections from berth's own counters, and the steering
        counter (packets read by a shard that does not own them)."""
        if not self.tun or not self.berth or not shutil.which("wrk"):
            self.note("shards over TUN skipped: needs root, /dev/net/tun, "
                      "wrk and the berth command.")
            return
        secs = "1" if self.a.smoke else "4"
        ns = self.netns_add("bb-sh-%d" % PID)
        ctl = "/tmp/berth-bench-sh-%d.sock" % PID
        for rep in range(self.a.reps):
            for t in ("1", "2"):
                b = self.spawn([self.berth, "http", "--port", "80",
                                "--threads", t, "--tun", "bbsh%d%s" % (rep, t),
                                "--ctl", ctl], ns=ns)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and subprocess.run(
                        [self.berth, "ss", "--ctl", ctl],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL).returncode != 0:
                    time.sleep(0.1)
                w = subprocess.run(self.netns_cmd(ns, [
                    "wrk", "-t", "2", "-c", "32", "-d", secs + "s",
                    "-H", "Connection: close", "http://198.18.0.2/"]),
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    timeout=60)
                st = subprocess.run([self.berth, "stat", "--ctl", ctl],
                                    stdout=subprocess.PIPE, text=True,
                                    timeout=10).stdout
                cpu = self.reap(b, timeout=15, term=True)
                r = {"berth_cpu_s": cpu, "threads": float(t)}
                m = re.search(r"(\d+) passive connection openings", st)
                r["conns"] = float(m.group(1)) if m else 0.0
                m = re.search(r"(\d+) packets read on a shard that does not",
                              st)
                r["steer_foreign"] = float(m.group(1)) if m else 0.0
                r["shard_opens"] = ",".join(re.findall(
                    r"(\d+) passive opens", st)) or r["conns"]
                m = re.search(r"Requests/sec:\s+([\d.]+)", w.stdout)
                r["req_per_s"] = float(m.group(1)) if m else 0.0
                if r["conns"]:
                    r["cpu_us_per_conn"] = cpu * 1e6 / r["conns"]
                self.add("shards_tun", "threads_" + t, r)
            self.log("shards over TUN %d/%d: %s" % (
                rep + 1, self.a.reps, ", ".join(
                    "%s %s conn/s, %s us, opens %s, foreign %s" % (
                        s, kfmt(v[-1].get("req_per_s")),
                        ffmt(v[-1].get("cpu_us_per_conn")),
                        v[-1].get("shard_opens"),
                        ffmt(v[-1].get("steer_foreign")))
                    for s, v in self.res["shards_tun"].items())))
        self.netns_del(ns)

    # glibc's allocator in three moods: its defaults (the heap top trimmed
    # on free), trimming off, and large blocks always mapped afresh. berth's
    # figures must not depend on which (its buffers come from a per-stack
    # cache); the spread is max/min of the three medians.
    ALLOC_MOODS = (
        ("default", {}),
        ("no_trim", {"MALLOC_TRIM_THRESHOLD_": "1000000000",
                     "MALLOC_TOP_PAD_": "67108864"}),
        ("mmap_128k", {"MALLOC_MMAP_THRESHOLD_": "131072"}),
    )

    def fig_alloc(self):
        sm = self.a.smoke
        n = "2000" if sm else "100000"
        size = "16m" if sm else "1g"
        for rep in range(self.a.reps):
            for mood, env in self.ALLOC_MOODS:
                r = self.run([self.bb, "lifecycle", "--conns", n], env=env)
                self.add("alloc_lifecycle", mood, first(r))
                r = self.run([self.bb, "bulk", "--bytes", size], env=env)
                self.add("alloc_bulk", mood, first(r))
            self.log("allocator %d/%d: %s" % (rep + 1, self.a.reps, ", ".join(
                "%s %s us/conn %s GB/cpu-s" % (
                    m, ffmt(self.res["alloc_lifecycle"][m][-1].get(
                        "cpu_us_per_conn")),
                    ffmt(self.res["alloc_bulk"][m][-1].get(
                        "gbyte_per_cpu_s")))
                for m, _ in self.ALLOC_MOODS)))

    def fig_bulk(self):
        # The smoke run only shows the step works: 2 MiB through 256 KiB
        # buffers (16 MiB through 4 MiB ones took 51 s under the
        # sanitizers, where every 4 MiB buffer is a fresh zero-filled
        # allocation).
        size = "2m" if self.a.smoke else "4g"
        buf = "256k" if self.a.smoke else "4m"
        for rep in range(self.a.reps):
            for mss in ("1460", "65495"):
                r = self.run([self.bb, "bulk", "--bytes", size, "--mss", mss,
                              "--buf", buf])
                self.add("bulk", "berth_mss%s" % mss, first(r))
            # MSS 1460 over the offloaded in-process link (TSO super-segments
            # handed over whole, no checksum, no copy into a queue: on the
            # kernel loopback's terms), then with the zero-copy calls too.
            # --sg: scatter-gather, the copying calls' bytes copied once
            # between the stacks (send buffer -> receive buffer).
            for name, extra in (("offload", []), ("offload_sg", ["--sg"]),
                                ("offload_zc", ["--zerocopy"])):
                r = self.run([self.bb, "bulk", "--bytes", size, "--buf", buf,
                              "--offload", "--handoff"] + extra)
                self.add("bulk", "berth_mss1460_" + name, first(r))
            r = self.run([self.kb, "bulk", "--bytes", size])
            self.add("bulk", "kernel", first(r))
            if self.lb:
                r = self.run([self.lb, "bulk", "--bytes", size])
                self.add("bulk", "lwip", first(r))
            self.log("bulk %d/%d: %s" % (rep + 1, self.a.reps, ", ".join(
                "%s %s Gbit/s" % (s, ffmt(v[-1].get("gbit_per_wall_s")))
                for s, v in self.res["bulk"].items())))

    # berth over TUN: the default (virtio-net header, checksum and TSO
    # offloads) and --no-offload.
    TUN_MODES = (("berth_tun", []), ("berth_tun_nooff", ["--no-offload"]))

    def fig_tun(self):
        if not self.tun or not self.berth:
            self.note("TUN figure skipped: needs root, /dev/net/tun, ip and "
                      "the berth command.")
            return
        sm = self.a.smoke
        size = "2m" if sm else "1g"
        pp_secs = "1" if sm else "3"
        buf = "256k" if sm else "4m"
        tns = self.netns_add("bb-tun-%d" % PID)
        va = self.netns_add("bb-va-%d" % PID)
        vb = self.netns_add("bb-vb-%d" % PID)
        subprocess.run(["ip", "link", "add", "bbva", "netns", va, "type",
                        "veth", "peer", "name", "bbvb", "netns", vb],
                       check=True)
        for ns, dev, ip in ((va, "bbva", "198.19.0.1/24"),
                            (vb, "bbvb", "198.19.0.2/24")):
            subprocess.run(["ip", "-n", ns, "addr", "add", ip, "dev", dev],
                           check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", dev, "up"],
                           check=True)
        ctl = "/tmp/berth-bench-%d.sock" % PID
        # berth -> kernel reads a sparse file (zero pages: its reading
        # costs berth little and the disk nothing).
        src = "/tmp/berth-bench-%d.src" % PID
        with open(src, "wb") as f:
            f.truncate(parse_size(size))
        # Read once, so the first repetition does not pay for creating the
        # page cache (seconds of system time in berth's reads otherwise).
        with open(src, "rb") as f:
            while f.read(1 << 20):
                pass
        for rep in range(self.a.reps):
            for s, opts in self.TUN_MODES:
                # The kernel sends to berth over TUN (MTU 1500).
                b = self.spawn([self.berth, "cat", "--listen", "9000",
                                "--tun", "bbt%d" % rep, "--ctl", ctl,
                                "--rcvbuf", buf, "--sndbuf", buf] + opts,
                               ns=tns)
                r = first(self.run([self.kb, "send", "--host", "198.18.0.2",
                                    "--port", "9000", "--bytes", size],
                                   ns=tns))
                r["berth_cpu_s"] = self.reap(b, timeout=20)
                self.add("tun_stream", s, r)
                # berth sends to the kernel over TUN.
                k = self.spawn([self.kb, "recv", "--port", "9001"], ns=tns,
                               stdout=subprocess.PIPE)
                time.sleep(0.1)
                with open(src, "rb") as f:
                    b = self.spawn([self.berth, "cat", "198.18.0.1", "9001",
                                    "--tun", "bbs%d" % rep, "--ctl", ctl,
                                    "--rcvbuf", buf, "--sndbuf", buf] + opts,
                                   ns=tns, stdin=f)
                cpu = self.reap(b, timeout=120)
                self.reap(k, timeout=20)
                r = first(parse_results(k.stdout.read().decode()))
                r["berth_cpu_s"] = cpu
                self.add("tun_send", s, r)
            # The kernel sends to the kernel over veth (MTU 1500).
            k = self.spawn([self.kb, "recv", "--port", "9000"], ns=vb)
            time.sleep(0.1)
            r = first(self.run([self.kb, "send", "--host", "198.19.0.2",
                                "--port", "9000", "--bytes", size], ns=va))
            r["receiver_cpu_s"] = self.reap(k, timeout=20)
            self.add("tun_stream", "kernel_veth", r)
            # Ping-pong: 64 bytes each way, one at a time.
            b = self.spawn([self.berth, "echo", "--port", "7", "--tun",
                            "bbe%d" % rep, "--ctl", ctl, "--nodelay"], ns=tns)
            r = first(self.run([self.kb, "pingpong", "--host", "198.18.0.2",
                                "--port", "7", "--count", "100000000",
                                "--max-seconds", pp_secs], ns=tns))
            r["server_cpu_s"] = self.reap(b, timeout=10, term=True)
            self.add("tun_pingpong", "berth_tun", r)
            k = self.spawn([self.kb, "echo", "--port", "7"], ns=vb)
            time.sleep(0.1)
            r = first(self.run([self.kb, "pingpong", "--host", "198.19.0.2",
                                "--port", "7", "--count", "100000000",
                                "--max-seconds", pp_secs], ns=va))
            r["server_cpu_s"] = self.reap(k, timeout=10)
            self.add("tun_pingpong", "kernel_veth", r)
            self.log("tun %d/%d: kernel -> berth %s (no offloads %s), "
                     "berth -> kernel %s (no offloads %s) Gbit/s" % (
                         rep + 1, self.a.reps, *[
                             ffmt(self.res[f][s][-1].get("gbit_per_s"))
                             for f in ("tun_stream", "tun_send")
                             for s in ("berth_tun", "berth_tun_nooff")]))
            self.log("tun %d/%d: berth %s Gbit/s, veth %s Gbit/s; "
                     "ping-pong berth %s/s, veth %s/s" % (
                         rep + 1, self.a.reps,
                         ffmt(self.res["tun_stream"]["berth_tun"][-1].get(
                             "gbit_per_s")),
                         ffmt(self.res["tun_stream"]["kernel_veth"][-1].get(
                             "gbit_per_s")),
                         kfmt(self.res["tun_pingpong"]["berth_tun"][-1].get(
                             "rt_per_s")),
                         kfmt(self.res["tun_pingpong"]["kernel_veth"][-1].get(
                             "rt_per_s"))))
        os.unlink(src)
        for ns in (tns, va, vb):
            self.netns_del(ns)

    def tw_settle(self):
        """Waits until the kernel's TIME-WAIT count stops moving (sockets of
        earlier runs or deleted namespaces), so slab deltas are ours."""
        last, stable = None, 0
        for _ in range(100):
            n = slab_objs("tw_sock_TCP")
            stable = stable + 1 if n == last else 0
            if stable >= 3:
                return
            last = n
            time.sleep(0.1)

    def fig_mem(self):
        n = "2000" if self.a.smoke else "100000"
        reps = min(self.a.reps, 3)
        for rep in range(reps):
            for r in self.run([self.bb, "mem", "--conns", n]):
                self.add("mem", "berth_" + r["bench"], r)
            # The same over IPv6 (bench names mem6_*); a smoke run does it
            # once (its time budget is CTest's 120 s).
            v6 = not self.a.smoke or rep == 0
            for r in self.run([self.bb, "mem", "--conns", n, "--family",
                               "6"]) if v6 else []:
                self.add("mem", "berth_" + r["bench"], r)
            if not self.root:
                continue
            self.tw_settle()
            ns = self.netns_add("bb-mem-%d" % PID, [
                "net.core.somaxconn=65535",
                "net.ipv4.tcp_max_syn_backlog=65535",
                "net.ipv4.tcp_max_tw_buckets=2000000"])
            for r in self.run([self.kb, "mem", "--conns", n], ns=ns):
                self.add("mem", "kernel_" + r["bench"], r)
            self.netns_del(ns)
            # IPv6 in a namespace of its own, once the IPv4 run's sockets
            # are gone (slab counts are machine-wide).
            if not v6:
                self.log("memory %d/%d done" % (rep + 1, reps))
                continue
            if not self.a.smoke:
                self.tw_settle()
            ns = self.netns_add("bb-mem6-%d" % PID, [
                "net.core.somaxconn=65535",
                "net.ipv4.tcp_max_syn_backlog=65535",
                "net.ipv4.tcp_max_tw_buckets=2000000"])
            for r in self.run([self.kb, "mem", "--conns", n, "--family", "6"],
                              ns=ns):
                self.add("mem", "kernel_" + r["bench"], r)
            self.netns_del(ns)
            self.log("memory %d/%d done" % (rep + 1, reps))
        if not self.root:
            self.note("kernel memory skipped: /proc/slabinfo needs root.")

    def fig_scale(self):
        sizes = [1000, 10000] if self.a.smoke else [1000, 10000, 100000,
                                                     1000000]
        n = "5000" if self.a.smoke else "50000"
        reps = min(self.a.reps, 3)
        for rep in range(reps):
            for k in sizes:
                r = self.run([self.bb, "scale", "--idle", str(k), "--conns",
                              n], timeout=600)
                self.add("scale", str(k), first(r))
            self.log("scale %d/%d: %s" % (rep + 1, reps, ", ".join(
                "%s: %s us/conn %s ns/timer" % (
                    k, ffmt(v[-1].get("cpu_us_per_conn")),
                    ffmt(v[-1].get("cpu_ns_per_timer")))
                for k, v in self.res["scale"].items())))

    # Unmodified programs (bench/programs.sh): nginx served to wrk and
    # iperf3, on berth through `berth run` and on the kernel, one run.
    def fig_programs(self):
        if not self.tun or not self.berth:
            self.note("programs figure skipped: needs root, /dev/net/tun and "
                      "the berth command.")
            return
        secs = "1" if self.a.smoke else "5"
        for rep in range(1 if self.a.smoke else self.a.reps):
            p = subprocess.run(
                ["bash", os.path.join(ROOT, "bench", "programs.sh"),
                 self.berth, secs], stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, timeout=300)
            if p.returncode == 77:
                self.note("programs figure skipped: " +
                          p.stdout.strip().splitlines()[-1][:200])
                return
            if p.returncode != 0:
                self.note("programs figure failed: " + p.stderr.strip()[-300:])
                return
            for r in parse_results(p.stdout):
                key = r.get("stack") or r.get("case")
                self.add("programs_" + r["bench"], key, r)
            self.log("programs %d: %s" % (rep + 1, ", ".join(
                "%s %s" % (k, ffmt(v[-1].get("req_per_s") or
                                   v[-1].get("gbit_per_s")))
                for fig in ("programs_nginx", "programs_iperf3")
                for k, v in self.res.get(fig, {}).items())))

    def fig_synflood(self):
        """6. SYN flood: SYNs absorbed per CPU-second with SYN cookies, and
        the legitimate lifecycle rate with a flood going on. berth in one
        process (berth-bench synflood: forged SYNs fed to the server stack
        between the lifecycles' packets, one per legitimate packet); the
        kernel in a namespace with tcp_syncookies=1: kernel-bench synflood
        sends forged SYNs through a raw socket to a listener on loopback
        (delivered in the sender's context: its CPU is the sending plus the
        kernel's SYN handling), alone, then while kernel-bench lifecycle
        runs against the same port."""
        sm = self.a.smoke
        syns = "20000" if sm else "2000000"
        n = "2000" if sm else "50000"
        secs = "1" if sm else "3"
        for rep in range(self.a.reps):
            r = first(self.run([self.bb, "synflood", "--syns", syns,
                                "--conns", n]))
            self.add("synflood", "berth", r)
            if not self.root:
                self.note("not root: the kernel's SYN-flood figures need a "
                          "namespace and a raw socket; skipped.")
                continue
            ns = self.netns_add("bb-sf-%d" % PID, [
                "net.ipv4.tcp_syncookies=1", "net.ipv4.tcp_tw_reuse=1",
                "net.core.somaxconn=4096"])
            # The SYN-ACKs to the forged sources: built, sent, and dropped
            # when they loop back to an address that is not ours.
            subprocess.run(["ip", "-n", ns, "route", "add", "10.128.0.0/9",
                            "dev", "lo"], check=True)
            k = first(self.run([self.kb, "synflood", "--port", "20999",
                                "--seconds", secs, "--listen"], ns=ns))
            k["cookies_sent"] = nstat(ns, "TcpExtSyncookiesSent")
            base = first(self.run([self.kb, "lifecycle", "--conns", n,
                                   "--ports", "1", "--base-port", "20000"],
                                  ns=ns))
            k["base_conn_per_s"] = base.get("conn_per_s")
            c0 = nstat(ns, "TcpExtSyncookiesRecv")
            fl = self.spawn([self.kb, "synflood", "--port", "20000",
                             "--seconds", "300"], ns=ns,
                            stdout=subprocess.PIPE)
            time.sleep(0.5)
            during = first(self.run([self.kb, "lifecycle", "--conns", n,
                                     "--ports", "1", "--base-port", "20000"],
                                    ns=ns))
            fl.send_signal(signal.SIGINT)
            fout = fl.stdout.read().decode() if fl.stdout else ""
            self.reap(fl)
            fr = first(parse_results(fout))
            k["conn_per_s"] = during.get("conn_per_s")
            k["errors"] = during.get("errors")
            k["cookie_conns"] = nstat(ns, "TcpExtSyncookiesRecv") - c0
            k["flood_syns_per_s"] = fr.get("syns_per_s")
            self.add("synflood", "kernel", k)
            self.netns_del(ns)
            self.log("synflood %d/%d: %s" % (rep + 1, self.a.reps, ", ".join(
                "%s %s SYN/CPU-s, %s conn/s (flood) vs %s" % (
                    s, kfmt(v[-1].get("syns_per_cpu_s")),
                    kfmt(v[-1].get("conn_per_s")),
                    kfmt(v[-1].get("base_conn_per_s")))
                for s, v in self.res["synflood"].items())))

    def fig_callgrind(self):
        if self.a.smoke or not shutil.which("valgrind"):
            if not self.a.smoke:
                self.note("callgrind skipped: valgrind not installed.")
            return
        out = os.path.join(self.bin, "callgrind.berth.out")
        n = 5000
        subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file="
                        + out, self.bb, "lifecycle", "--conns", str(n),
                        "--virtual", "--max-seconds", "600"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.callgrind = {"berth": annotate(out, n), "conns": n}
        if self.lb:
            out2 = os.path.join(self.bin, "callgrind.lwip.out")
            subprocess.run(["valgrind", "--tool=callgrind",
                            "--callgrind-out-file=" + out2, self.lb,
                            "lifecycle", "--conns", str(n), "--max-seconds",
                            "600"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.callgrind["lwip"] = annotate(out2, n)
        self.log("callgrind: berth %s instructions per lifecycle" %
                 kfmt(self.callgrind["berth"]["total"]))

    def run_all(self):
        figs = [("memory", self.fig_mem), ("lifecycle", self.fig_lifecycle),
                ("shards", self.fig_shards),
                ("shards_tun", self.fig_shards_tun),
                ("bulk", self.fig_bulk), ("alloc", self.fig_alloc),
                ("tun", self.fig_tun),
                ("scale", self.fig_scale), ("synflood", self.fig_synflood),
                ("programs", self.fig_programs),
                ("callgrind", self.fig_callgrind)]
        only = set(self.a.only.split(",")) if self.a.only else None
        for name, fn in figs:
            if only and name not in only:
                continue
            self.log("== %s" % name)
            fn()


# ---- results ----

def parse_results(text):
    out = []
    for line in text.splitlines():
        if not line.startswith("RESULT "):
            continue
        d = {}
        for kv in line.split()[1:]:
            k, _, v = kv.partition("=")
            try:
                d[k] = float(v)
            except ValueError:
                d[k] = v
        out.append(d)
    return out


def nstat(ns, name):
    """A kernel SNMP counter of a namespace (absolute), 0 if unknown."""
    try:
        out = subprocess.run(["ip", "netns", "exec", ns, "nstat", "-asz",
                              name], stdout=subprocess.PIPE, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] == name:
            return float(f[1])
    return 0


def first(results):
    return results[0] if results else {}


def slab_objs(name):
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                if line.startswith(name + " "):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def annotate(path, n):
    """Top functions of a callgrind profile, instructions per lifecycle."""
    res = {"total": 0, "self": [], "incl": []}
    for incl in (False, True):
        try:
            txt = subprocess.run(
                ["callgrind_annotate", "--inclusive=" + ("yes" if incl else
                                                          "no"), path],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True).stdout
        except OSError:
            return res
        rows = []
        for line in txt.splitlines():
            m = re.match(r"^\s*([\d,]+)\s+(?:\(\s*([\d.]+)%\)\s+)?(.*)$", line)
            if not m or not m.group(3):
                continue
            ir = int(m.group(1).replace(",", ""))
            what = m.group(3).strip()
            if "PROGRAM TOTALS" in what:
                res["total"] = ir / n
                continue
            fn = re.sub(r"\s*\[.*\]$", "", what)
            fn = fn.rsplit(":", 1)[-1] if ":" in fn else fn
            rows.append((ir / n, float(m.group(2) or 0), fn))
        res["incl" if incl else "self"] = rows[:60]
    return res


def vals(rs, key):
    return [r[key] for r in rs if isinstance(r.get(key), float)]


def med(xs):
    return statistics.median(xs) if xs else None


def ffmt(x, nd=None):
    if x is None:
        return "n/a"
    if nd is not None:
        return "%.*f" % (nd, x)
    ax = abs(x)
    if ax >= 100:
        return "%.0f" % x
    if ax >= 10:
        return "%.1f" % x
    if ax >= 1:
        return "%.2f" % x
    return "%.3g" % x


def kfmt(x):
    if x is None:
        return "n/a"
    if abs(x) >= 1e6:
        return "%.2fM" % (x / 1e6)
    if abs(x) >= 1e3:
        return "%.1fk" % (x / 1e3)
    return ffmt(x)


def stat(xs, fmt=ffmt):
    """'median (min–max)' of a list."""
    if not xs:
        return "n/a"
    if len(xs) == 1:
        return fmt(xs[0])
    return "%s (%s–%s)" % (fmt(med(xs)), fmt(min(xs)), fmt(max(xs)))


def ratios(a, b, key, invert=False):
    """Pairwise ratios a[i]/b[i] from runs of the same repetition."""
    out = []
    for x, y in zip(a, b):
        xv, yv = x.get(key), y.get(key)
        if isinstance(xv, float) and isinstance(yv, float) and xv and yv:
            out.append(yv / xv if invert else xv / yv)
    return out


def xfmt(x):
    return "%.2f×" % x if x < 10 else "%.1f×" % x


class Report:
    def __init__(self, b):
        self.b = b
        self.r = b.res
        self.charts = []
        self.made = {}
        self.out = b.a.out
        self.stamp = b.a.stamp

    def chart(self, name, title, ylabel, rows, logy=False):
        """A bar chart with min–max error bars. rows: (label, [values])."""
        rows = [(l, v) for l, v in rows if v]
        if not rows or not shutil.which("gnuplot"):
            return None
        if name in self.made:
            return self.made[name]
        base = "%s-%s" % (self.stamp, name)
        dat = os.path.join(self.out, base + ".dat")
        png = os.path.join(self.out, base + ".png")
        with open(dat, "w") as f:
            for label, v in rows:
                f.write('"%s" %g %g %g\n' % (label, med(v), min(v), max(v)))
        script = """
set terminal pngcairo size 900,480 font ",11"
set output '%s'
set title "%s"
set ylabel "%s"
set style data histogram
set style histogram errorbars gap 2 lw 1.5
set style fill solid 0.6 border -1
set boxwidth 0.8
set grid ytics
set yrange [%s:*]
%s
set xtics noenhanced
set key off
plot '%s' using 2:3:4:xtic(1) lc rgb "#3b6ea5"
""" % (png, title, ylabel, "1" if logy else "0",
       "set logscale y" if logy else "", dat)
        subprocess.run(["gnuplot"], input=script, text=True,
                       stderr=subprocess.DEVNULL)
        os.remove(dat)
        if os.path.exists(png):
            self.charts.append(png)
            self.made[name] = os.path.basename(png)
            return self.made[name]
        return None

    def line_chart(self, name, title, series, ylabel):
        """Scale curves: x = connections held (log), one line per series:
        (label, [(x, median, min, max)])."""
        if not shutil.which("gnuplot"):
            return None
        if name in self.made:
            return self.made[name]
        base = "%s-%s" % (self.stamp, name)
        png = os.path.join(self.out, base + ".png")
        plots, dats = [], []
        for i, (label, pts) in enumerate(series):
            dat = os.path.join(self.out, "%s-%d.dat" % (base, i))
            dats.append(dat)
            with open(dat, "w") as f:
                for p in pts:
                    f.write("%g %g %g %g\n" % p)
            axis = "x1y2" if i else "x1y1"
            plots.append("'%s' using 1:2:3:4 with yerrorlines lw 2 pt 7 "
                         "axes %s title '%s'" % (dat, axis, label))
        script = """
set terminal pngcairo size 900,480 font ",11"
set output '%s'
set title "%s"
set logscale x
set xrange [500:2000000]
set format x "%%.0s%%c"
set xlabel "idle connections held (both stacks in one process)"
set ylabel "%s"
set y2label "%s"
set yrange [0:*]
set y2range [0:*]
set ytics nomirror
set y2tics
set grid
set key top left
plot %s
""" % (png, title, ylabel[0], ylabel[1], ", ".join(plots))
        subprocess.run(["gnuplot"], input=script, text=True,
                       stderr=subprocess.DEVNULL)
        for d in dats:
            os.remove(d)
        if os.path.exists(png):
            self.charts.append(png)
            self.made[name] = os.path.basename(png)
            return self.made[name]
        return None

    def img(self, name, prefix):
        return "![%s](%s%s)\n" % (name, prefix, name) if name else ""

    def render(self, chart_prefix):
        L = []
        w = L.append
        r = self.r
        lc = r.get("lifecycle", {})
        if lc:
            w("### 1. Connection lifecycle (64 in flight)\n")
            w("Handshake, 64-byte request, 64-byte response, four-way close "
              "(the client closes first). berth and lwIP: client and server "
              "in one process; kernel: epoll client and epoll server "
              "processes over 127.0.0.1. CPU is user+system of everything "
              "involved.\n")
            w("| Stack | connections/s | CPU µs per connection | "
              "connections per run |")
            w("|---|---|---|---|")
            for s in ("berth", "kernel", "lwip", "berth_buf4k"):
                if s in lc:
                    w("| %s | %s | %s | %s |" % (
                        label(s), stat(vals(lc[s], "conn_per_s"), kfmt),
                        stat(vals(lc[s], "cpu_us_per_conn")),
                        kfmt(med(vals(lc[s], "conns")))))
            for o in ("kernel", "lwip"):
                if o in lc and "berth" in lc:
                    w("| **berth ÷ %s** (pairwise) | %s | %s | |" % (
                        o, stat(ratios(lc["berth"], lc[o], "conn_per_s"),
                                xfmt),
                        stat(ratios(lc["berth"], lc[o], "cpu_us_per_conn"),
                             xfmt)))
            ex = r.get("lifecycle_extra", {}).get("lwip_nocap")
            if ex and ex[0]:
                w("\nlwIP as Debian builds it (TIME-WAIT PCBs kept two "
                  "minutes on its linear lists; 10k connections, one run): "
                  "%s connections/s, %s CPU µs per connection." % (
                      kfmt(ex[0].get("conn_per_s")),
                      ffmt(ex[0].get("cpu_us_per_conn"))))
            w("")
            w(self.img(self.chart(
                "lifecycle-cpu", "CPU per connection lifecycle "
                "(median, min-max)", "CPU microseconds per connection",
                [(s.replace("_buf4k", " 4KiB bufs"),
                  vals(lc.get(s, []), "cpu_us_per_conn"))
                 for s in ("berth", "kernel", "lwip", "berth_buf4k")]),
                chart_prefix))
        sh = r.get("shards", {})
        if sh:
            w("### 1b. Lifecycle on shards in one process\n")
            w("`berth-bench shards`: one thread per shard, pinned to its own "
              "CPU, each with its own pair of stacks and 64 lifecycles in "
              "flight; the rate is every shard's connections over the "
              "slowest shard's wall time.\n")
            w("| Shards | connections/s | CPU µs per connection | "
              "slowest–fastest shard conn/s |")
            w("|---|---|---|---|")
            for s in ("threads_1", "threads_2"):
                if s in sh:
                    w("| %s | %s | %s | %s–%s |" % (
                        s.split("_")[1], stat(vals(sh[s], "conn_per_s"), kfmt),
                        stat(vals(sh[s], "cpu_us_per_conn")),
                        kfmt(med(vals(sh[s], "shard_min_conn_per_s"))),
                        kfmt(med(vals(sh[s], "shard_max_conn_per_s")))))
            if "threads_1" in sh and "threads_2" in sh:
                w("| **2 ÷ 1** (pairwise) | %s | | |" % stat(ratios(
                    sh["threads_2"], sh["threads_1"], "conn_per_s"), xfmt))
            w("")
        st = r.get("shards_tun", {})
        if st:
            w("### 1c. Shards over TUN (`berth http --threads N`)\n")
            w("wrk (2 threads, 32 connections, `Connection: close`: a new "
              "connection per request) from the kernel in the same "
              "namespace; the kernel's load generator needs the CPU too. "
              "berth's CPU (its rusage) per connection it accepted.\n")
            w("| Shards | requests/s | berth CPU µs per connection | "
              "connections per shard | packets on a shard not their own |")
            w("|---|---|---|---|---|")
            for s in ("threads_1", "threads_2"):
                if s in st:
                    w("| %s | %s | %s | %s | %s |" % (
                        s.split("_")[1], stat(vals(st[s], "req_per_s"), kfmt),
                        stat(vals(st[s], "cpu_us_per_conn")),
                        st[s][-1].get("shard_opens"),
                        ffmt(max(vals(st[s], "steer_foreign") or [0]))))
            w("")
        bk = r.get("bulk", {})
        if bk:
            w("### 2. Bulk throughput (one stream)\n")
            w("| Stack | Gbit/s (wall) | GB per CPU-second | bytes |")
            w("|---|---|---|---|")
            for s in ("berth_mss1460", "berth_mss1460_offload",
                      "berth_mss1460_offload_sg", "berth_mss1460_offload_zc",
                      "berth_mss65495", "kernel", "lwip"):
                if s in bk:
                    w("| %s | %s | %s | %s |" % (
                        label(s), stat(vals(bk[s], "gbit_per_wall_s")),
                        stat(vals(bk[s], "gbyte_per_cpu_s")),
                        gib(med(vals(bk[s], "bytes")))))
            for s in ("berth_mss1460", "berth_mss1460_offload",
                      "berth_mss1460_offload_sg", "berth_mss1460_offload_zc",
                      "berth_mss65495"):
                for o in ("kernel", "lwip"):
                    if s in bk and o in bk:
                        w("| **%s ÷ %s** (pairwise) | %s | %s | |" % (
                            label(s), o,
                            stat(ratios(bk[s], bk[o], "gbit_per_wall_s"),
                                 xfmt),
                            stat(ratios(bk[s], bk[o], "gbyte_per_cpu_s"),
                                 xfmt)))
            w("")
            w(self.img(self.chart(
                "bulk", "Bulk throughput, one stream (median, min-max)",
                "GB per CPU-second",
                [(short, vals(bk.get(s, []), "gbyte_per_cpu_s"))
                 for s, short in (("berth_mss1460", "berth MSS 1460"),
                                  ("berth_mss1460_offload",
                                   "berth 1460 offload"),
                                  ("berth_mss1460_offload_sg",
                                   "berth 1460 offload+sg"),
                                  ("berth_mss1460_offload_zc",
                                   "berth 1460 offload+zc"),
                                  ("berth_mss65495", "berth MSS 65495"),
                                  ("kernel", "kernel"), ("lwip", "lwIP"))]),
                chart_prefix))
        al, ab = r.get("alloc_lifecycle", {}), r.get("alloc_bulk", {})
        if al and ab:
            w("### 2b. The allocator's mood\n")
            w("berth in process under three glibc malloc settings: its "
              "defaults; heap trimming off (`MALLOC_TRIM_THRESHOLD_=1000000000"
              " MALLOC_TOP_PAD_=67108864`); large blocks always mapped afresh "
              "(`MALLOC_MMAP_THRESHOLD_=131072`). Buffers come from a "
              "per-stack cache, so the figures should not move; the spread "
              "is the largest median over the smallest (goal: at most "
              "1.2×).\n")
            w("| Setting | lifecycle CPU µs per connection | bulk GB per "
              "CPU-second (MSS 1460, 4 MiB buffers) |")
            w("|---|---|---|")
            for m, _ in self.b.ALLOC_MOODS:
                w("| %s | %s | %s |" % (
                    m, stat(vals(al.get(m, []), "cpu_us_per_conn")),
                    stat(vals(ab.get(m, []), "gbyte_per_cpu_s"))))
            lm = [med(vals(al.get(m, []), "cpu_us_per_conn"))
                  for m, _ in self.b.ALLOC_MOODS]
            bm = [med(vals(ab.get(m, []), "gbyte_per_cpu_s"))
                  for m, _ in self.b.ALLOC_MOODS]
            if all(lm) and all(bm):
                w("| **spread** (max ÷ min) | %s | %s |" % (
                    xfmt(max(lm) / min(lm)), xfmt(max(bm) / min(bm))))
            w("")
        ts = r.get("tun_stream", {})
        if ts:
            w("### 3. Over TUN with a real peer\n")
            w("One stream each way between berth (`berth cat`) and the "
              "kernel over a TUN device (MTU 1500) in a namespace: with the "
              "default offloads (virtio-net header; the kernel's reads "
              "coalesced up to 64 KiB, checksums left to the kernel, "
              "berth's TSO super-segments cut by the kernel) and with "
              "`--no-offload` (one MSS per read and write, every checksum "
              "computed), against the kernel sending to the kernel over a "
              "veth pair (MTU 1500, default offloads) in the same run. "
              "Target (issue 17): ≥ 15 Gbit/s each way. berth CPU: its "
              "process (wait4); the kernel receiver's: its process (the "
              "kernel's receive work mostly runs in the sender's context "
              "there).\n")
            w("Kernel → receiver:\n")
            w("| Receiver | Gbit/s | receiver CPU s per GB | "
              "sender CPU s per GB |")
            w("|---|---|---|---|")
            for s, cpu in (("berth_tun", "berth_cpu_s"),
                           ("berth_tun_nooff", "berth_cpu_s"),
                           ("kernel_veth", "receiver_cpu_s")):
                if s in ts:
                    w("| %s | %s | %s | %s |" % (
                        label(s), stat(vals(ts[s], "gbit_per_s")),
                        stat(per_gb(ts[s], cpu)),
                        stat(per_gb(ts[s], "sender_cpu_s"))))
            for s in ("berth_tun", "berth_tun_nooff"):
                if s in ts and "kernel_veth" in ts:
                    w("| **%s ÷ kernel** (pairwise) | %s | | |" % (
                        label(s), stat(ratios(ts[s], ts["kernel_veth"],
                                              "gbit_per_s"), xfmt)))
            tx = r.get("tun_send", {})
            if tx:
                w("\nSender → kernel (berth's rate: the kernel receiver's "
                  "first byte to EOF; the kernel over veth as above):\n")
                w("| Sender | Gbit/s | sender CPU s per GB | "
                  "kernel receiver CPU s per GB |")
                w("|---|---|---|---|")
                for s, cpu, src in (
                        ("berth_tun", "berth_cpu_s", tx),
                        ("berth_tun_nooff", "berth_cpu_s", tx),
                        ("kernel_veth", "sender_cpu_s", ts)):
                    if s in src:
                        w("| %s | %s | %s | %s |" % (
                            label(s), stat(vals(src[s], "gbit_per_s")),
                            stat(per_gb(src[s], cpu)),
                            stat(per_gb(src[s], "receiver_cpu_s"))))
                for s in ("berth_tun", "berth_tun_nooff"):
                    if s in tx and "kernel_veth" in ts:
                        w("| **%s ÷ kernel** (pairwise) | %s | | |" % (
                            label(s), stat(ratios(tx[s], ts["kernel_veth"],
                                                  "gbit_per_s"), xfmt)))
            pp = r.get("tun_pingpong", {})
            if pp:
                w("\nPing-pong, 64 bytes each way, one at a time "
                  "(`berth echo` over TUN against a kernel echo server "
                  "over veth):\n")
                w("| Server | round trips/s | µs per round trip | "
                  "server CPU µs per round trip |")
                w("|---|---|---|---|")
                for s in ("berth_tun", "kernel_veth"):
                    if s in pp:
                        cpu = [x["server_cpu_s"] * 1e6 / x["round_trips"]
                               for x in pp[s] if x.get("round_trips")]
                        w("| %s | %s | %s | %s |" % (
                            label(s), stat(vals(pp[s], "rt_per_s"), kfmt),
                            stat(vals(pp[s], "us_per_rt")), stat(cpu)))
                if "berth_tun" in pp and "kernel_veth" in pp:
                    w("| **berth ÷ kernel** (pairwise) | %s | | |" % stat(
                        ratios(pp["berth_tun"], pp["kernel_veth"],
                               "rt_per_s"),
                        xfmt))
            w("")
            w(self.img(self.chart(
                "tun", "One stream over TUN (berth) vs veth (kernel)",
                "Gbit/s",
                [(label(s) + " ←", vals(ts.get(s, []), "gbit_per_s"))
                 for s in ("berth_tun", "berth_tun_nooff")] +
                [(label(s) + " →", vals(tx.get(s, []), "gbit_per_s"))
                 for s in ("berth_tun", "berth_tun_nooff")] +
                [(label("kernel_veth"),
                  vals(ts.get("kernel_veth", []), "gbit_per_s"))]),
                chart_prefix))
        mm = r.get("mem", {})
        if mm:
            w("### 4. Memory\n")
            w("berth: its own accounting (`berth_mem_bytes`), both stacks in "
              "one process; kernel: deltas of /proc/slabinfo (active objects "
              "× object size) with the same number of loopback connections "
              "held by several processes (RLIMIT_NOFILE 20000).\n")
            w("| Entry | berth (accounting) | kernel (slab) | what the "
              "kernel's figure holds |")
            w("|---|---|---|---|")
            be = mm.get("berth_mem_established", [])
            ke = mm.get("kernel_mem_established", [])
            w("| Established idle connection, both ends | %s B (RSS: %s B) "
              "| %s B | %s |" % (
                  stat(vals(be, "pair_bytes")),
                  stat(vals(be, "rss_pair_bytes")),
                  stat(vals(ke, "slab_listed_bytes")), kernel_parts(ke)))
            w("| Established idle connection, one end | %s B | %s B | |" % (
                stat(vals(be, "client_bytes")),
                stat([x / 2 for x in vals(ke, "slab_listed_bytes")])))
            ba = mm.get("berth_mem_after_request", [])
            w("| Same after one 64 B request and response, one end | %s B "
              "| | berth keeps its send and receive buffers "
              "(64 KiB each) once used |" % stat(vals(ba, "client_bytes")))
            bt = mm.get("berth_mem_time_wait", [])
            kt = mm.get("kernel_mem_time_wait", [])
            w("| TIME-WAIT entry | %s B | %s B | tw_sock_TCP |" % (
                stat(vals(bt, "bytes")), stat(vals(kt, "tw_sock_TCP_bytes"))))
            bs = mm.get("berth_mem_syn_queue", [])
            ks = mm.get("kernel_mem_syn_queue", [])
            w("| SYN-queue entry | %s B | %s B | request_sock_TCP "
              "(TCP_DEFER_ACCEPT keeps each handshake there) |" % (
                  stat(vals(bs, "bytes")),
                  stat(vals(ks, "request_sock_TCP_bytes"))))
            b6 = mm.get("berth_mem6_established", [])
            k6 = mm.get("kernel_mem6_established", [])
            if b6:
                w("| **IPv6** established idle connection, both ends | %s B "
                  "| %s B | TCPv6 |" % (stat(vals(b6, "pair_bytes")),
                                       stat(vals(k6, "slab_listed_bytes"))))
                bt6 = mm.get("berth_mem6_time_wait", [])
                kt6 = mm.get("kernel_mem6_time_wait", [])
                w("| IPv6 TIME-WAIT entry | %s B | %s B | tw_sock_TCPv6 |" % (
                    stat(vals(bt6, "bytes")),
                    stat(vals(kt6, "tw_sock_TCPv6_bytes"))))
                bs6 = mm.get("berth_mem6_syn_queue", [])
                ks6 = mm.get("kernel_mem6_syn_queue", [])
                w("| IPv6 SYN-queue entry | %s B | %s B | request_sock_TCPv6 "
                  "|" % (stat(vals(bs6, "bytes")),
                         stat(vals(ks6, "request_sock_TCPv6_bytes"))))
                w("\nberth's IPv6 records are its IPv4 ones: the peer's "
                  "address is interned once per stack (32 bytes per peer "
                  "address, shared by all its records).")
            w("\nEntries per run: %s." % kfmt(med(vals(be, "conns"))))
            w("")
            w(self.img(self.chart(
                "memory", "Bytes per entry (median, min-max; log scale)",
                "bytes (a connection: both ends)", [
                    ("berth conn", vals(be, "pair_bytes")),
                    ("kernel conn", vals(ke, "slab_listed_bytes")),
                    ("berth TW", vals(bt, "bytes")),
                    ("kernel TW", vals(kt, "tw_sock_TCP_bytes")),
                    ("berth SYN-Q", vals(bs, "bytes")),
                    ("kernel SYN-Q", vals(ks, "request_sock_TCP_bytes"))],
                logy=True), chart_prefix))
        sc = r.get("scale", {})
        if sc:
            w("### 5. Scale (berth, both stacks in one process, virtual "
              "time)\n")
            w("With K idle established connections held: the lifecycle of "
              "figure 1 (50k connections, 64 in flight) and one keepalive "
              "timer on every held connection (each expiry: a probe, the "
              "peer's ACK, the timer armed again), in CPU per expiry.\n")
            w("| Connections held | CPU µs per lifecycle | CPU ns per timer "
              "expiry | berth memory (both stacks) |")
            w("|---|---|---|---|")
            keys = sorted(sc, key=int)
            for k in keys:
                w("| %s | %s | %s | %s |" % (
                    kfmt(float(k)), stat(vals(sc[k], "cpu_us_per_conn")),
                    stat(vals(sc[k], "cpu_ns_per_timer")),
                    mib(med(vals(sc[k], "mem_bytes")))))
            pts1 = [(int(k), med(v), min(v), max(v)) for k, v in
                    ((k, vals(sc[k], "cpu_us_per_conn")) for k in keys) if v]
            pts2 = [(int(k), med(v), min(v), max(v)) for k, v in
                    ((k, vals(sc[k], "cpu_ns_per_timer")) for k in keys) if v]
            w("")
            w(self.img(self.line_chart(
                "scale", "berth: cost as connections grow",
                [("CPU us per lifecycle (left)", pts1),
                 ("CPU ns per timer expiry (right)", pts2)],
                ("µs per lifecycle", "ns per timer expiry")), chart_prefix))
        sf = r.get("synflood", {})
        if sf:
            w("### 6. SYN flood\n")
            w("SYN cookies on overflow on both sides (berth's default "
              "`syncookies 1`; the kernel's `tcp_syncookies=1`). Every "
              "forged SYN is a new 4-tuple from 10.128.0.0/9 with MSS, "
              "SACK-permitted, timestamps and window scale. **Absorbed**: "
              "berth in one process, forged SYNs fed to `berth_input` "
              "(its SYN-ACKs lost), CPU of the process; the kernel: a raw "
              "socket sending to a loopback listener, CPU of the sender "
              "(loopback delivers in its context, so this counts the "
              "kernel's SYN handling plus the send and the SYN-ACKs' "
              "loop back, a handicap of about a syscall per SYN). "
              "**During the flood**: the lifecycle of figure 1 against "
              "one port; berth interleaves one forged SYN per packet of "
              "the lifecycles in one thread, the kernel's flooder runs "
              "flat out beside the lifecycle processes.\n")
            w("| Stack | SYNs absorbed per CPU-second | cookies sent | "
              "lifecycles/s, no flood | lifecycles/s during the flood | "
              "flood SYN/s meanwhile | handshakes by cookie |")
            w("|---|---|---|---|---|---|---|")
            for s in ("berth", "kernel"):
                if s in sf:
                    x = sf[s]
                    w("| %s | %s | %s | %s | %s | %s | %s |" % (
                        label(s), stat(vals(x, "syns_per_cpu_s"), kfmt),
                        kfmt(med(vals(x, "cookies_sent"))),
                        stat(vals(x, "base_conn_per_s"), kfmt),
                        stat(vals(x, "conn_per_s"), kfmt),
                        stat(vals(x, "flood_syns_per_s"), kfmt),
                        kfmt(med(vals(x, "cookie_conns")))))
            if "berth" in sf and "kernel" in sf:
                w("| **berth ÷ kernel** (pairwise) | %s | | | %s | | |" % (
                    stat(ratios(sf["berth"], sf["kernel"], "syns_per_cpu_s"),
                         xfmt),
                    stat(ratios(sf["berth"], sf["kernel"], "conn_per_s"),
                         xfmt)))
            w("")
        cg = self.b.callgrind
        if cg:
            w("### Top costs per lifecycle (callgrind)\n")
            bt = cg["berth"]
            ms = sum(ir for ir, _, fn in bt["self"] if "memset" in fn)
            w("`valgrind --tool=callgrind build/bench/bench/berth-bench "
              "lifecycle --conns %d --virtual` (time stands still, so the "
              "count is the same run to run): instructions per connection "
              "lifecycle, client and server together. berth: **%s** per "
              "lifecycle, of which %s in `memset` (calloc zeroing the four "
              "64 KiB socket buffers each lifecycle allocates; valgrind "
              "counts every byte of `rep stosb` as an instruction, so this "
              "share overstates its time) and **%s** for everything else."
              % (cg["conns"], kfmt(bt["total"]), kfmt(ms),
                 kfmt(bt["total"] - ms)) +
              (" lwIP, same work: **%s** per lifecycle (`lc_start` below "
               "is the bench's TIME-WAIT cap, the walk lwIP's own "
               "`tcp_kill_timewait` makes)." % kfmt(cg["lwip"]["total"])
               if "lwip" in cg else ""))
            w("")
            w("| berth function (self) | instructions per lifecycle | "
              "share |")
            w("|---|---|---|")
            for ir, pct, fn in bt["self"][:15]:
                w("| `%s` | %s | %.1f%% |" % (fn, kfmt(ir), pct))
            want = ("tcp_conn_alloc_snd", "tcp_conn_alloc_rcv", "mem_alloc",
                    "tcp_input", "tcp_output", "sock_flush_events",
                    "tcp_lookup", "siphash24", "berth_connect",
                    "timer_wheel_advance")
            incl = [(ir, pct, fn) for ir, pct, fn in bt["incl"]
                    if fn in want]
            if incl:
                w("\n| berth function (inclusive) | instructions per "
                  "lifecycle | share |")
                w("|---|---|---|")
                for ir, pct, fn in incl:
                    w("| `%s` | %s | %.1f%% |" % (fn, kfmt(ir), pct))
            if "lwip" in cg:
                w("\n| lwIP function (self) | instructions per lifecycle | "
                  "share |")
                w("|---|---|---|")
                for ir, pct, fn in cg["lwip"]["self"][:8]:
                    w("| `%s` | %s | %.1f%% |" % (fn, kfmt(ir), pct))
            w("")
        ng, ip = r.get("programs_nginx", {}), r.get("programs_iperf3", {})
        if ng or ip:
            w("### 7. Unmodified programs (`berth run`)\n")
            w("nginx (one process, a 1 KiB page) served to `wrk -t 2 -c 50` "
              "from the kernel: on berth through `berth run` over the TUN, "
              "and on the kernel over the namespace's loopback. CPU per "
              "request is the nginx process's own (with berth, its runtime "
              "thread is inside it; on the kernel, TCP work done on wrk's "
              "side is not counted). iperf3, one stream each way against a "
              "kernel iperf3 over the TUN, and kernel to kernel over the "
              "loopback.\n")
            if ng:
                w("| nginx on | requests/s | CPU µs per request |")
                w("|---|---|---|")
                for k in ("berth", "kernel"):
                    if k in ng:
                        w("| %s | %s | %s |" % (
                            k, stat(vals(ng[k], "req_per_s"), kfmt),
                            stat(vals(ng[k], "cpu_us_per_req"))))
                if "berth" in ng and "kernel" in ng:
                    w("| **berth ÷ kernel** (pairwise) | %s | %s |" % (
                        stat(ratios(ng["berth"], ng["kernel"], "req_per_s"),
                             xfmt),
                        stat(ratios(ng["berth"], ng["kernel"],
                                    "cpu_us_per_req"), xfmt)))
                w("")
            if ip:
                w("| iperf3 | Gbit/s |")
                w("|---|---|")
                for k, lab in (("berth_sends", "berth sends to the kernel"),
                               ("berth_receives", "berth receives from the "
                                "kernel"),
                               ("kernel_loopback", "kernel to kernel "
                                "(loopback)")):
                    if k in ip:
                        w("| %s | %s |" % (lab, stat(vals(ip[k],
                                                          "gbit_per_s"))))
                w("")
        if self.b.notes:
            w("### Notes from this run\n")
            for n in self.b.notes:
                w("- " + n)
            w("")
        return "\n".join(L) + "\n"


def label(s):
    return {"berth_mss1460": "berth, MSS 1460",
            "berth_mss1460_offload": "berth, MSS 1460, offloaded link "
                                     "(--offload --handoff)",
            "berth_mss1460_offload_sg": "berth, MSS 1460, offloaded link, "
                                        "scatter-gather (--sg)",
            "berth_mss1460_offload_zc": "berth, MSS 1460, offloaded link, "
                                        "zero-copy calls (--zerocopy)",
            "berth_mss65495": "berth, MSS 65495 (MTU-less link)",
            "kernel": "kernel (loopback)", "lwip": "lwIP (loopback)",
            "berth_tun": "berth over TUN",
            "berth_tun_nooff": "berth over TUN, --no-offload",
            "kernel_veth": "kernel over veth",
            "berth_buf4k": "berth, 4 KiB socket buffers (diagnostic)"}.get(s, s)


def parse_size(s):
    """"16m" -> 16777216; "1g", "4096", "64k" alike."""
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(s[-1:].lower(), 1)
    return int(s[:-1] if mult > 1 else s) * mult


def gib(x):
    return "n/a" if x is None else "%g GiB" % (x / (1 << 30)) \
        if x >= (1 << 30) else "%g MiB" % (x / (1 << 20))


def mib(x):
    return "n/a" if x is None else "%.0f MiB" % (x / (1 << 20))


def per_gb(rs, key):
    return [r[key] / (r["bytes"] / 1e9) for r in rs
            if isinstance(r.get(key), float) and r.get("bytes")]


def kernel_parts(ke):
    if not ke:
        return ""
    parts = []
    for c in ("TCP", "sock_inode_cache", "filp", "dentry"):
        v = vals(ke, c + "_bytes")
        if v:
            parts.append("%s %s" % (c, ffmt(med(v))))
    return ", ".join(parts)


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) / (1 << 20)
    except OSError:
        mem = 0
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short",
                             "HEAD"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True).stdout.strip()
    return ("%d × %s, %.0f GiB, Linux %s; berth %s" % (
        os.cpu_count() or 0, model, mem, platform.release(), commit or "?"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true",
                    help="tiny sizes, 2 repetitions, no report files")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/bench/bench"))
    ap.add_argument("--berth", default=os.path.join(ROOT, "build/bench/berth"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/results"))
    ap.add_argument("--only", help="comma-separated: memory,lifecycle,bulk,"
                    "shards,shards_tun,tun,scale,synflood,callgrind")
    ap.add_argument("--no-benchmarks-md", action="store_true",
                    help="do not update BENCHMARKS.md")
    ap.add_argument("--from-json", metavar="FILE",
                    help="write the report from a saved run (DATE.json) "
                    "instead of running")
    a = ap.parse_args()
    if a.reps is None:
        a.reps = 2 if a.smoke else 5
    a.reps = max(1, a.reps)
    a.stamp = datetime.date.today().isoformat()
    os.makedirs(a.out, exist_ok=True)
    if a.berth and not os.path.exists(a.berth):
        a.berth = None
    b = Bench(a)

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    mach = machine()
    if a.from_json:
        with open(a.from_json) as f:
            saved = json.load(f)
        b.res, b.notes, b.callgrind = (saved["results"], saved["notes"],
                                       saved["callgrind"])
        started, a.reps, a.stamp = saved["started"], saved["reps"], \
            saved["stamp"]
        mach = saved["machine"]
    else:
        try:
            b.run_all()
        except KeyboardInterrupt:
            b.note("interrupted")
        finally:
            b.cleanup()
        with open(os.path.join(a.out, a.stamp + ".json"), "w") as f:
            json.dump({"results": b.res, "notes": b.notes,
                       "callgrind": b.callgrind, "started": started,
                       "reps": a.reps, "stamp": a.stamp,
                       "machine": mach}, f, indent=1)
    rep = Report(b)
    cmd = "bench/run.sh" + ("" if a.reps == 5 else " --reps %d" % a.reps)
    head = ("Run %s on %s, %d repetitions interleaved; median (min–max)."
            "\nCommand: `%s`. Raw results: `bench/results/%s.json`.\n" % (
                started, mach, a.reps, cmd, a.stamp))
    body = rep.render("")
    md = os.path.join(a.out, a.stamp + ".md")
    with open(md, "w") as f:
        f.write("# berth benchmarks, %s\n\n%s\n%s" % (a.stamp, head, body))
    b.log("wrote %s (%d charts)" % (md, len(rep.charts)))
    if not a.smoke and not a.no_benchmarks_md:
        update_benchmarks_md(head, rep.render("bench/results/"), a.stamp)
    # Smoke: the run itself is the test; timing never fails it.
    if a.smoke:
        missing = [f for f in ("lifecycle", "bulk", "scale", "mem", "shards")
                   if not b.res.get(f)]
        if missing:
            b.log("smoke: no results for %s" % ", ".join(missing))
            return 1
        b.log("smoke: ok")
    return 0


def update_benchmarks_md(head, body, stamp):
    path = os.path.join(ROOT, "BENCHMARKS.md")
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    text = open(path).read() if os.path.exists(path) else \
        "# Benchmarks\n\n%s\n%s\n" % (begin, end)
    if begin not in text:
        text += "\n%s\n%s\n" % (begin, end)
    pre, rest = text.split(begin, 1)
    _, post = rest.split(end, 1)
    block = "%s\n## Latest results (%s)\n\n%s\n%s%s" % (
        begin, stamp, head, body, end)
    with open(path, "w") as f:
        f.write(pre + block + post)


if __name__ == "__main__":
    sys.exit(main())
