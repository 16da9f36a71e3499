#!/usr/bin/env python3
"""Runs upstream packetdrill scripts against berth and compares each outcome
with its expectation in scripts.txt.

    run.py --packetdrill PD --adapter SO --tcp-dir DIR --list scripts.txt
           [--out DIR] [--only SUBDIR] [-v] [SCRIPT ...]

Each script is relaxed first (see README.md: shell commands removed, the
options of outbound SYN and SYN-ACK not checked, outbound windows not
checked), written under --out, and run by packetdrill with berth loaded
through --so_filename. A script listed `pass` must pass; one listed
`xfail-linux` or `xfail-berth` must fail, and passing is an error too, so
the list stays true. A script of a listed directory missing from the list
is an error: nothing is skipped silently. Exit status 0 when every outcome
matches.
"""
import argparse
import os
import re
import subprocess
import sys

EXPECTATIONS = ("pass", "xfail-linux", "xfail-berth")
# packetdrill's options: berth's address, and the PSH relaxation (4).
OPTIONS = ["--local_ip=192.168.0.1", "--remote_ip=192.0.2.1", "--lax_psh"]
TIMEOUT_S = 30


def read_list(path):
    """[(script, expectation, line, so_flags, reason)] from scripts.txt."""
    entries = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split(None, 2)
            kind, _, at = fields[1].partition("@") if len(fields) > 1 \
                else ("", "", "")
            if len(fields) < 2 or kind not in EXPECTATIONS or \
                    (kind == "pass") != (at == "") or \
                    (at and not at.isdigit()):
                sys.exit(f"{path}:{n}: want 'SCRIPT EXPECTATION [so:FLAGS] "
                         f"[REASON]', expectation pass, or xfail-linux@LINE "
                         f"or xfail-berth@LINE (the script line it fails at)")
            rest = fields[2] if len(fields) > 2 else ""
            flags = ""
            if rest.startswith("so:"):
                flags, _, rest = rest.partition(" ")
                flags = flags[3:]
            if kind != "pass" and not rest.strip():
                sys.exit(f"{path}:{n}: an expected failure needs its reason")
            entries.append((fields[0], kind, int(at) if at else None, flags,
                            rest.strip()))
    return entries


def wscale_for(rcvbuf):
    """berth's window scale for a receive buffer (RFC 7323 §2.3: the
    smallest shift that lets the window field cover it, at most 14)."""
    shift = 0
    while shift < 14 and (rcvbuf >> shift) > 65535:
        shift += 1
    return shift


def relax(text, wscale):
    """The documented, mechanical relaxations (README.md, "Relaxations")."""
    # 1. Shell commands in backquotes (possibly over several lines) set the
    #    Linux host's sysctls: never run. scripts.txt gives berth's settings.
    #    A timed command (`+0 `tc ...``) goes with its line.
    #    Line numbers stay those of the upstream script.
    def blank(m):
        return "\n" * m.group(0).count("\n")
    text = re.sub(r"(?m)^\s*[-+.~0-9]+\s*`[^`]*`[^\n]*$", blank, text)
    text = re.sub(r"`[^`]*`", blank, text)
    out = []
    for line in text.split("\n"):
        m = re.match(r"^(\s*\S+\s+>\s+)(.*)$", line)
        if m:
            head, pkt = m.groups()
            # 2. Outbound SYN and SYN-ACK: the window scale offered follows
            #    the receive buffer (Linux's from tcp_rmem[2], berth's from
            #    its rcvbuf), so berth's value is expected.
            if re.match(r"S\.?\s", pkt):
                pkt = re.sub(r"wscale\s+\d+", f"wscale {wscale}", pkt)
            # 3. Outbound windows depend on Linux's buffer sizing.
            # (4. PSH placement: packetdrill's --lax_psh, patches/0003.)
            pkt = re.sub(r"\s+win\s+\d+", "", pkt)
            line = head + pkt
        out.append(line)
    return "\n".join(out)


def run_one(args, script, flags):
    src = os.path.join(args.tcp_dir, script)
    dst = os.path.join(args.out, script)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    so_flags = " ".join(x for x in flags.split(",") if x)
    m = re.search(r"rcvbuf=(\d+)", so_flags)
    rcvbuf = int(m.group(1)) if m else 65535  # berth_config's default
    with open(src) as f:
        text = relax(f.read(), wscale_for(rcvbuf))
    with open(dst, "w") as f:
        f.write(text)
    cmd = [args.packetdrill, f"--so_filename={args.adapter}",
           f"--so_flags={so_flags}"] + OPTIONS + [os.path.basename(dst)]
    try:
        p = subprocess.run(cmd, cwd=os.path.dirname(dst), capture_output=True,
                           text=True, timeout=TIMEOUT_S)
        return p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() + (e.stderr or b"").decode()
        return None, out + f"\n(killed after {TIMEOUT_S} s)"


def failed_at(script, output):
    """The script line packetdrill reports the failure at, or None."""
    m = re.search(re.escape(os.path.basename(script)) + r":(\d+):", output)
    return int(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--packetdrill", required=True)
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--tcp-dir", required=True)
    ap.add_argument("--list", required=True)
    ap.add_argument("--out", default="packetdrill-out")
    ap.add_argument("--only", help="run the listed scripts of this directory")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("scripts", nargs="*")
    args = ap.parse_args()
    args.adapter = os.path.abspath(args.adapter)
    args.packetdrill = os.path.abspath(args.packetdrill)
    args.out = os.path.abspath(args.out)

    entries = read_list(args.list)
    listed = {e[0] for e in entries}
    bad = 0
    dirs = sorted({os.path.dirname(e[0]) for e in entries})
    if args.only:
        dirs = [args.only]
    for d in dirs:
        full = os.path.join(args.tcp_dir, d)
        if not os.path.isdir(full):
            print(f"MISSING {d}/: not in this packetdrill source")
            bad += 1
            continue
        for name in sorted(os.listdir(full)):
            if name.endswith(".pkt") and f"{d}/{name}" not in listed:
                print(f"UNLISTED {d}/{name}: add it to {args.list}")
                bad += 1

    passes = total = 0
    for script, expect, at, flags, reason in entries:
        if args.scripts and script not in args.scripts:
            continue
        if not args.scripts and args.only and \
                os.path.dirname(script) != args.only:
            continue
        rc, output = run_one(args, script, flags)
        total += 1
        passed = rc == 0
        passes += passed
        adapter_error = "berth adapter:" in output
        if adapter_error:
            verdict = "FAIL (adapter error: never expected)"
        elif expect == "pass":
            verdict = "ok" if passed else "FAIL (expected to pass)"
        elif passed:
            verdict = "FAIL (expected to fail, passes: update " \
                      f"{os.path.basename(args.list)})"
        elif failed_at(script, output) != at:
            verdict = f"FAIL (expected to fail at line {at}, fails at " \
                      f"{failed_at(script, output)}: see why, then update " \
                      f"{os.path.basename(args.list)})"
        else:
            verdict = f"ok ({expect}@{at}: {reason})"
        ok = verdict.startswith("ok")
        bad += not ok
        print(f"{'pass' if passed else 'fail'}  {script}: {verdict}")
        if not ok or args.verbose:
            for line in output.strip().split("\n"):
                print(f"      {line}")
    print(f"berth passes {passes} of {total} upstream packetdrill scripts run; "
          f"{bad} outcome(s) differ from {os.path.basename(args.list)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
