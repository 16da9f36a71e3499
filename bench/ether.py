#!/usr/bin/env python3
"""berth on Ethernet links against TUN and against the kernel, same run.

One TCP stream each way (kernel -> berth: `berth cat --listen` fed by
kernel-bench send; berth -> kernel: `berth cat` of a sparse file into
kernel-bench recv) over:
  kernel      kernel-bench to kernel-bench across a veth pair (the baseline)
  tun         berth on a TUN device (offloads on: TSO super-segments)
  tun-nooff   berth on a TUN device without offloads (MSS-sized packets)
  packet      berth on one end of a veth pair, AF_PACKET TPACKET_V3 rings
  xdp         berth on one end of a veth pair, AF_XDP copy mode
For each: Gbit/s, CPU seconds per GB of berth (or of the kernel's
receiver/sender process) and of the peer process, and the ratios to the
kernel's figures of this run. CPU is the processes' own (wait4 and the
peer's getrusage): softirq work the kernel does on their behalf is
counted where the kernel charges it. Timing never fails the run.

usage: sudo bench/ether.py [--berth build/bench/berth]
         [--kb build/bench/bench/kernel-bench] [--size 1g] [--reps N]
         [--only kernel,tun,packet,xdp]
Needs root, ip(8), /dev/net/tun; xdp needs a berth built with libxdp.
"""
import argparse
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PID = os.getpid()
KERNEL, BERTH = "198.18.0.1", "198.18.0.2"
BUF = "4m"


def size_bytes(s):
    m = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    return int(float(s[:-1]) * m[s[-1]]) if s[-1] in m else int(s)


def results(text):
    """kernel-bench's `key=value` result lines, merged."""
    out = {}
    for line in text.splitlines():
        for tok in line.split():
            if "=" in tok:
                k, v = tok.split("=", 1)
                try:
                    out[k] = float(v)
                except ValueError:
                    out[k] = v
    return out


class Rig:
    def __init__(self, a):
        self.a = a
        self.ns = []
        self.procs = []

    def sh(self, *cmd):
        subprocess.run(list(cmd), check=True)

    def netns(self, name):
        name = "%s-%d" % (name, PID)
        self.sh("ip", "netns", "add", name)
        self.ns.append(name)
        self.sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def spawn(self, ns, cmd, stdin=None, stdout=subprocess.DEVNULL):
        p = subprocess.Popen(["ip", "netns", "exec", ns] + cmd, stdin=stdin,
                             stdout=stdout, stderr=subprocess.PIPE)
        self.procs.append(p)
        return p

    def reap(self, p, timeout):
        deadline = time.monotonic() + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.send_signal(signal.SIGKILL)
                pid, status, ru = os.wait4(p.pid, 0)
                print("  (had to kill %s)" % " ".join(p.args[3:5]),
                      file=sys.stderr)
                break
            time.sleep(0.01)
        p.returncode = os.waitstatus_to_exitcode(status)
        self.procs.remove(p)
        return ru.ru_utime + ru.ru_stime

    def run(self, ns, cmd, timeout=300):
        r = subprocess.run(["ip", "netns", "exec", ns] + cmd,
                           capture_output=True, text=True, timeout=timeout)
        return results(r.stdout)

    def cleanup(self):
        for p in list(self.procs):
            p.kill()
            p.wait()
        for ns in self.ns:
            subprocess.run(["ip", "netns", "del", ns])


def veth(rig, kernel_csum_off):
    """Two namespaces: berth's (bbeb, no address) and the kernel's (bbek,
    198.18.0.1/24)."""
    b, k = rig.netns("bbe-b"), rig.netns("bbe-k")
    rig.sh("ip", "link", "add", "bbeb", "netns", b, "type", "veth", "peer",
           "name", "bbek", "netns", k)
    rig.sh("ip", "-n", k, "addr", "add", KERNEL + "/24", "dev", "bbek")
    for ns, dev in ((b, "bbeb"), (k, "bbek")):
        rig.sh("ip", "-n", ns, "link", "set", dev, "up")
    if kernel_csum_off:
        rig.sh("ip", "netns", "exec", k, "python3",
               os.path.join(ROOT, "tests/interop/txcsum_off.py"), "bbek")
    return b, k


def one_link(rig, kind, src, size):
    """Both directions over one kind of link: two result dicts."""
    a = rig.a
    if kind.startswith("tun"):
        b = k = rig.netns("bbe-t")
        link = ["--tun", "bbet"] + (["--no-offload"] if kind == "tun-nooff"
                                    else [])
    else:
        b, k = veth(rig, kind == "xdp")
        link = ["--link", "%s:bbeb" % kind]
    ctl = ["--ctl", "/tmp/berth-ether-%d.sock" % PID, "--rcvbuf", BUF,
           "--sndbuf", BUF]
    out = []
    # kernel -> berth
    p = rig.spawn(b, [a.berth, "cat", "--listen", "9000"] + link + ctl)
    time.sleep(1.0)
    r = rig.run(k, [a.kb, "send", "--host", BERTH, "--port", "9000",
                    "--bytes", str(size)])
    r["berth_cpu_s"] = rig.reap(p, 30)
    r["peer_cpu_s"] = r.get("sender_cpu_s", 0)
    out.append(r)
    # berth -> kernel
    q = rig.spawn(k, [a.kb, "recv", "--port", "9001"],
                  stdout=subprocess.PIPE)
    time.sleep(0.3)
    with open(src, "rb") as f:
        p = rig.spawn(b, [a.berth, "cat", KERNEL, "9001"] + link + ctl,
                      stdin=f)
        cpu = rig.reap(p, 300)
    rig.reap(q, 30)
    r = results(q.stdout.read().decode())
    r["berth_cpu_s"] = cpu
    r["peer_cpu_s"] = r.get("receiver_cpu_s", 0)
    out.append(r)
    for ns in (b, k) if b != k else (b,):
        subprocess.run(["ip", "netns", "del", ns])
        rig.ns.remove(ns)
    return out


def kernel_pair(rig, size):
    b, k = veth(rig, False)
    out = []
    for snd, rcv in ((k, b), (b, k)):
        host = BERTH if rcv == b else KERNEL
        if rcv == b:
            rig.sh("ip", "-n", b, "addr", "add", BERTH + "/24", "dev",
                   "bbeb")
        q = rig.spawn(rcv, [rig.a.kb, "recv", "--port", "9002"],
                      stdout=subprocess.PIPE)
        time.sleep(0.3)
        r = rig.run(snd, [rig.a.kb, "send", "--host", host, "--port",
                          "9002", "--bytes", str(size)])
        rig.reap(q, 30)
        rr = results(q.stdout.read().decode())
        r["berth_cpu_s"] = rr.get("receiver_cpu_s", 0) if rcv == b else \
            r.get("sender_cpu_s", 0)
        r["peer_cpu_s"] = r.get("sender_cpu_s", 0) if rcv == b else \
            rr.get("receiver_cpu_s", 0)
        out.append(r)
    for ns in (b, k):
        subprocess.run(["ip", "netns", "del", ns])
        rig.ns.remove(ns)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--berth", default=os.path.join(ROOT, "build/bench/berth"))
    ap.add_argument("--kb", default=os.path.join(
        ROOT, "build/bench/bench/kernel-bench"))
    ap.add_argument("--size", default="1g")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--only", default="kernel,tun,tun-nooff,packet,xdp")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/ether.py: needs root (namespaces, TUN, AF_PACKET)")
    size = size_bytes(a.size)
    src = "/tmp/berth-ether-%d.src" % PID
    with open(src, "wb") as f:
        f.truncate(size)
    # Read once, so the first stream does not pay for creating the page
    # cache (seconds of system time in berth's reads otherwise).
    with open(src, "rb") as f:
        while f.read(1 << 20):
            pass
    rig = Rig(a)
    kinds = a.only.split(",")
    best = {}
    try:
        for rep in range(a.reps):
            for kind in kinds:
                rs = kernel_pair(rig, size) if kind == "kernel" else \
                    one_link(rig, kind, src, size)
                for d, r in zip(("rx", "tx"), rs):
                    g = r.get("gbit_per_s", 0) or 0
                    if g > best.get((kind, d), {}).get("gbit_per_s", -1):
                        best[(kind, d)] = r
                print("rep %d %-9s kernel->berth %5.2f Gbit/s, "
                      "berth->kernel %5.2f Gbit/s" % (
                          rep + 1, kind, rs[0].get("gbit_per_s", 0) or 0,
                          rs[1].get("gbit_per_s", 0) or 0), flush=True)
    finally:
        rig.cleanup()
        os.unlink(src)
    gb = size / 1e9
    print("\nBest of %d, %s per stream, buffers %s; CPU s/GB: the stack's "
          "process (berth, or the kernel's receiving/sending one) and its "
          "peer's process" % (a.reps, a.size, BUF))
    print("%-10s %-14s %8s %8s %10s %10s %10s" % (
        "link", "direction", "Gbit/s", "x kernel", "stack s/GB",
        "peer s/GB", "x kernel"))
    for d, name in (("rx", "kernel->berth"), ("tx", "berth->kernel")):
        base = best.get(("kernel", d), {})
        bg = base.get("gbit_per_s") or 0
        bc = (base.get("berth_cpu_s", 0) + base.get("peer_cpu_s", 0)) / gb
        for kind in kinds:
            r = best.get((kind, d))
            if not r:
                continue
            g = r.get("gbit_per_s") or 0
            sc, pc = r.get("berth_cpu_s", 0) / gb, r.get("peer_cpu_s", 0) / gb
            print("%-10s %-14s %8.2f %8s %10.2f %10.2f %10s" % (
                kind, name, g, "%.2f" % (g / bg) if bg else "-", sc, pc,
                "%.2f" % ((sc + pc) / bc) if bc else "-"))


if __name__ == "__main__":
    main()
