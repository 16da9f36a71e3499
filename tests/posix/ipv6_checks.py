"""Run under `berth run` by test_ipv6_curl_and_python_through_berth_run.sh,
with a kernel HTTP server on [::]:8080 (dual-stack) in the namespace.
Checks the AF_INET6 stream sockets berth serves: the names they give
(sockaddr_in6), IPV6_V6ONLY (Linux's default off), IPv4 peers as
::ffff:a.b.c.d, and the rule's IPv6 side (::1 and binds to other addresses
are the kernel's). Exits non-zero with a message on the first difference;
every socket has a timeout."""
import socket
import sys

socket.setdefaulttimeout(20)
B6, K6 = "2001:db8:b::2", "2001:db8:b::1"
BERTH, KERNEL = "198.18.0.2", "198.18.0.1"


def fail(msg):
    print(f"ipv6_checks: {msg}", file=sys.stderr)
    sys.exit(1)


def http_get(s):
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    for _ in range(10000):
        b = s.recv(65536)
        if not b:
            break
        data += b
    if not data.startswith(b"HTTP/1.0 200"):
        fail(f"bad response {data[:40]!r}")


# 1. IPv6 to the kernel side: berth, from berth's IPv6 address.
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
if s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) != 0:
    fail("IPV6_V6ONLY is not off by default")
if s.getsockopt(socket.SOL_SOCKET, socket.SO_DOMAIN) != socket.AF_INET6:
    fail("SO_DOMAIN is not AF_INET6")
s.connect((K6, 8080))
if s.getsockname()[0] != B6 or s.getpeername()[:2] != (K6, 8080):
    fail(f"IPv6: local {s.getsockname()}, peer {s.getpeername()}")
http_get(s)
s.close()
print("ipv6 tcp to the kernel side: berth")

# 2. An AF_INET6 socket to an IPv4-mapped address reaches the IPv4 peer
# (not with IPV6_V6ONLY), and names both ends ::ffff:a.b.c.d.
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.connect(("::ffff:" + KERNEL, 8080))
if s.getsockname()[0] != "::ffff:" + BERTH or \
        s.getpeername()[0] != "::ffff:" + KERNEL:
    fail(f"mapped: local {s.getsockname()}, peer {s.getpeername()}")
http_get(s)
s.close()
print("ipv4-mapped destination on an IPv6 socket: berth over IPv4")

# 3. A dual-stack listener on [::] takes IPv4 connections too, named
# ::ffff:a.b.c.d; with IPV6_V6ONLY a listener on [::] does not.
l = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
l.bind(("::", 0))
l.listen(4)
name = l.getsockname()
if name[0] != "::":
    fail(f"listener on [::] names itself {name}")
print(f"listening on [::]:{name[1]}", flush=True)
print(f"PORT {name[1]}", flush=True)
for want in ("::ffff:" + KERNEL, K6):
    c, peer = l.accept()
    if peer[0] != want or c.getsockname()[0] not in (B6, "::ffff:" + BERTH):
        fail(f"accepted {peer} (expected {want}), local {c.getsockname()}")
    c.sendall(b"hello " + peer[0].encode() + b"\n")
    c.close()
l.close()
print("dual-stack listener: an IPv4 and an IPv6 client")

v = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
v.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
if v.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) != 1:
    fail("IPV6_V6ONLY did not stick")
try:
    v.connect(("::ffff:" + KERNEL, 8080))
    fail("IPV6_V6ONLY socket connected to a mapped address")
except OSError:
    pass
v.close()
print("IPV6_V6ONLY refuses mapped addresses")

# 4. The rule, IPv6 side: ::1 is the kernel's (same fd, handed over).
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
fd = s.fileno()
s.connect(("::1", 8080))
if s.fileno() != fd or s.getsockname()[0] != "::1":
    fail(f"::1: fd {s.fileno()} (was {fd}), local {s.getsockname()}")
http_get(s)
s.close()
print("::1: the kernel, same fd")
