"""Run under `berth run` by test_udp_python_client_and_server_through_berth_run.sh,
with kernel UDP echo servers (udp_peer.py echo) on 198.18.0.1:7000 and
10.99.0.1:7000 (a kernel address on lo: off berth's link) and a DNS responder on
10.99.0.1:53 named by the namespace's resolv.conf. Exits non-zero with a
message on the first difference; every socket has a timeout."""
import errno
import selectors
import socket
import sys
import time

socket.setdefaulttimeout(10)
BERTH, KERNEL, OFFLINK = "198.18.0.2", "198.18.0.1", "10.99.0.1"
B6, K6 = "2001:db8:b::2", "2001:db8:b::1"


def fail(msg):
    print(f"udp_client: {msg}", file=sys.stderr)
    sys.exit(1)


# 1. sendto/recvfrom on an unbound socket: berth binds it, the kernel's
# echo answers to berth's address.
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"one", (KERNEL, 7000))
data, peer = s.recvfrom(100)
if data != b"one" or peer != (KERNEL, 7000):
    fail(f"sendto/recvfrom: {data!r} from {peer}")
if s.getsockname()[0] != BERTH:
    fail(f"local address {s.getsockname()}, not berth's")
if s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) != socket.SOCK_DGRAM:
    fail("SO_TYPE is not SOCK_DGRAM")
print("sendto/recvfrom through berth")

# 2. sendmsg with two buffers, recvmsg with the sender's address; MSG_PEEK
# leaves the datagram; a short buffer truncates it (MSG_TRUNC).
s.sendmsg([b"two-", b"parts"], [], 0, (KERNEL, 7000))
data, _, flags, peer = s.recvmsg(100, 0, socket.MSG_PEEK)
if data != b"two-parts" or peer != (KERNEL, 7000):
    fail(f"recvmsg MSG_PEEK: {data!r} from {peer}")
data, _, flags, peer = s.recvmsg(3)
if data != b"two" or not flags & socket.MSG_TRUNC:
    fail(f"recvmsg (3 bytes): {data!r}, flags {flags:#x}")
print("sendmsg/recvmsg, MSG_PEEK, MSG_TRUNC")

# 3. Readiness through the mirrored descriptor (epoll): not readable until
# the echo arrives; non-blocking recv says EAGAIN.
s.setblocking(False)
try:
    s.recv(100)
    fail("non-blocking recv on an empty socket did not fail")
except BlockingIOError:
    pass
sel = selectors.DefaultSelector()
sel.register(s, selectors.EVENT_READ)
if sel.select(timeout=0):
    fail("empty socket polls readable")
s.sendto(b"three", (KERNEL, 7000))
if not sel.select(timeout=5):
    fail("no readiness after the echo within 5 s")
if s.recv(100) != b"three":
    fail("epoll: wrong datagram")
sel.close()
s.setblocking(True)
s.close()
print("epoll readiness, EAGAIN")

# 4. connect: a default peer, send/recv, getpeername.
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.connect((KERNEL, 7000))
if c.getpeername() != (KERNEL, 7000) or c.getsockname()[0] != BERTH:
    fail(f"connected: peer {c.getpeername()}, local {c.getsockname()}")
c.send(b"four")
if c.recv(100) != b"four":
    fail("connected send/recv")
c.close()
print("connect, send/recv, getpeername")

# 5. A closed port: ICMP port unreachable comes back as ECONNREFUSED.
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r.settimeout(5)
r.connect((KERNEL, 7001))
refused = False
for _ in range(20):
    try:
        r.send(b"anyone?")
        r.recv(100)
    except ConnectionRefusedError:
        refused = True
        break
    except socket.timeout:
        continue
if not refused:
    fail("no ECONNREFUSED from a closed port")
r.close()
print("closed port: ECONNREFUSED")

# 6. Off berth's link: the socket is handed to the kernel (same fd), which
# sends from its own address (the echo's log says so; an unconnected kernel
# socket names itself 0.0.0.0, berth's would be berth's address).
o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
fd = o.fileno()
o.sendto(b"six", (OFFLINK, 7000))
data, peer = o.recvfrom(100)
if data != b"six" or o.fileno() != fd or o.getsockname()[0] == BERTH:
    fail(f"off-link: {data!r}, fd {o.fileno()} (was {fd}), "
         f"local {o.getsockname()}")
o.close()
print("off-link datagrams: the kernel")

# 7. Name resolution: glibc's resolver asks the namespace's nameserver
# (off berth's link: the kernel's sockets), then TCP to the answer goes
# through berth.
infos = socket.getaddrinfo("echo.berth.test", 7000, socket.AF_INET,
                           socket.SOCK_DGRAM)
if infos[0][4] != (KERNEL, 7000):
    fail(f"getaddrinfo: {infos}")
n = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n.sendto(b"seven", infos[0][4])
if n.recvfrom(100) != (b"seven", (KERNEL, 7000)) or n.getsockname()[0] != BERTH:
    fail("to the resolved address: not through berth")
n.close()
print("name resolution works; the answer is reached through berth")

# 8. IPv6 UDP, when the core has it (else the socket is the kernel's).
v = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
v.sendto(b"eight", (K6, 7000))
data, peer = v.recvfrom(100)
if data != b"eight" or peer[:2] != (K6, 7000):
    fail(f"IPv6: {data!r} from {peer}")
print("IPv6 UDP: " + ("berth" if v.getsockname()[0] == B6 else
                      "the kernel's (the core has no IPv6 UDP)"))
v.close()

# 9. asyncio's datagram endpoint (non-blocking socket, epoll loop).
import asyncio


class Once(asyncio.DatagramProtocol):
    def __init__(self, fut):
        self.fut = fut

    def datagram_received(self, data, addr):
        if not self.fut.done():
            self.fut.set_result((data, addr))


async def asyncio_echo():
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    tr, _ = await loop.create_datagram_endpoint(
        lambda: Once(fut), remote_addr=(KERNEL, 7000))
    tr.sendto(b"nine")
    got = await asyncio.wait_for(fut, 5)
    local = tr.get_extra_info("sockname")
    tr.close()
    return got, local


got, local = asyncio.run(asyncio_echo())
if got != (b"nine", (KERNEL, 7000)) or local[0] != BERTH:
    fail(f"asyncio: {got} at {local}")
print("asyncio datagram endpoint through berth")
