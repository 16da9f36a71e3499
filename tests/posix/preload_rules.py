"""Run under `berth run` by test_preload_routes_sockets_by_the_documented_rule.sh,
with a kernel HTTP server on 0.0.0.0:8080 in the namespace. Checks which
sockets the preload library gives berth and which the kernel (README,
"Unmodified programs"), and the fork/exec rule. Exits non-zero with a
message on the first difference; every socket has a timeout."""
import errno
import os
import socket
import subprocess
import sys

socket.setdefaulttimeout(20)
BERTH, KERNEL = "198.18.0.2", "198.18.0.1"


def fail(msg):
    print(f"preload_rules: {msg}", file=sys.stderr)
    sys.exit(1)


def http_get(s):
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    if not data.startswith(b"HTTP/1.0 200"):
        fail(f"bad response {data[:40]!r}")


# 1. IPv4 TCP to a non-loopback address: berth (source 198.18.0.2).
s = socket.create_connection((KERNEL, 8080))
if s.getsockname()[0] != BERTH:
    fail(f"to {KERNEL}: local address {s.getsockname()[0]}, not berth's")
http_get(s)
s.close()
print("ipv4 tcp to the kernel side: berth")

# 2. Loopback: handed to the kernel on the same descriptor.
s = socket.socket()
fd = s.fileno()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.connect(("127.0.0.1", 8080))
if s.fileno() != fd or s.getsockname()[0] != "127.0.0.1":
    fail(f"loopback: fd {s.fileno()} (was {fd}), local {s.getsockname()}")
if s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 1:
    fail("loopback: TCP_NODELAY not carried over to the kernel socket")
http_get(s)
s.close()
print("loopback: the kernel, same fd, options kept")

# 3. UDP to loopback and IPv6 bound to ::1: handed to the kernel (berth's
# sockets would name berth's addresses); unix sockets are the kernel's.
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"x", ("127.0.0.1", 9))
if u.getsockname()[0] == BERTH:
    fail(f"udp to loopback: local {u.getsockname()}, berth's")
u.close()
s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s6.bind(("::1", 0))
if s6.getsockname()[0] != "::1":
    fail(f"ipv6 bound to ::1: local {s6.getsockname()}")
s6.close()
x = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
x.close()
print("udp to loopback, ipv6 on ::1, unix: the kernel")

# 4. close_range (os.closerange) closes a berth socket: `berth ss` sees
# the connection leave ESTABLISHED, and the number is reused by a new
# socket that works.
def state(port):
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    out = subprocess.run([os.environ["PX_BERTH"], "ss", "--ctl",
                          os.environ["PX_CTL"]], capture_output=True,
                         text=True, timeout=10, env=env).stdout
    # Rows for our local port (a TIME-WAIT row of an earlier connection
    # may share it).
    return {l.split()[0] for l in out.splitlines()
            if f" {BERTH}:{port} " in l}


s = socket.create_connection((KERNEL, 8080))
port = s.getsockname()[1]
if "ESTABLISHED" not in state(port):
    # (this also proves a vfork()ed subprocess's closes left it alone)
    fail(f"berth ss does not show port {port} ESTABLISHED: {state(port)}")
fd = s.detach()
os.closerange(fd, fd + 1)
if "ESTABLISHED" in state(port):
    fail("closerange left the berth connection open")
s = socket.socket()
if s.fileno() != fd:
    fail(f"closerange: new socket got fd {s.fileno()}, expected {fd}")
s.connect((KERNEL, 8080))
http_get(s)
s.close()
print("closerange closes berth sockets")

# 5. fork: the child's copy of a berth socket is EBADF; the parent's works.
s = socket.create_connection((KERNEL, 8080))
pid = os.fork()
if pid == 0:
    try:
        s.send(b"GET")
        os._exit(2)
    except OSError as e:
        os._exit(0 if e.errno == errno.EBADF else 3)
_, status = os.waitpid(pid, 0)
if os.waitstatus_to_exitcode(status) != 0:
    fail(f"fork: the child's send did not fail with EBADF ({status})")
http_get(s)
s.close()
print("fork: the child gets EBADF, the parent keeps its socket")

# 6. exec from a child: another process, the kernel's sockets.
out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{local_ip}",
                      f"http://{KERNEL}:8080/"], capture_output=True,
                     text=True, timeout=30)
if out.returncode != 0 or out.stdout != KERNEL:
    fail(f"exec'd curl: status {out.returncode}, local ip {out.stdout!r} "
         f"(expected the kernel's {KERNEL}), {out.stderr}")
print("a process started by the program: the kernel")

# 7. Berth sockets take the numbers kernel sockets would: the layer's own
# descriptors live above FD_SETSIZE (select() users see small numbers).
kernel = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
want = [k.fileno() for k in kernel]
for k in kernel:
    k.close()
mine = [socket.socket() for _ in range(3)]
if [m.fileno() for m in mine] != want:
    fail(f"berth sockets got fds {[m.fileno() for m in mine]}; the kernel's "
         f"would be {want}")
for m in mine:
    m.close()
print("berth sockets take the kernel's numbers")
