/* Flow steering for shards (docs/ARCHITECTURE.md, "Shards"): berth's own
 * keyed function of a flow's 4-tuple names the shard that owns it. The
 * kernel applies it to every packet it sends into the multiqueue TUN
 * device through a socket-filter eBPF program (TUNSETSTEERINGEBPF: the
 * program's return value picks the queue, modulo the number of queues),
 * each shard checks it on what it reads, and active opens pick a local
 * port it maps to the opening shard. The program is assembled here by
 * hand (no libbpf): a few loads and a 64-bit mix. */
#include "rt_impl.h"

#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define STEER_M1 UINT64_C(0x9e3779b97f4a7c15)
#define STEER_M2 UINT64_C(0xbf58476d1ce4e5b9)

/* The mix the program computes, in C: a keyed splitmix-style finalizer of
 * (peer address, peer port, berth's port). 16 bits, because the TUN
 * driver keeps the program's result in a u16 before taking it modulo the
 * queue count. The key is random per run, so a peer cannot aim its flows
 * at one shard without learning it (it could at most unbalance the load:
 * each shard's connection table keeps its own SipHash key). */
uint32_t rt_steer_hash(uint64_t key, uint32_t raddr, uint16_t rport,
                       uint16_t lport)
{
    uint64_t x = ((uint64_t)raddr << 32 | (uint64_t)rport << 16 | lport) ^ key;
    x *= STEER_M1;
    x ^= x >> 29;
    x *= STEER_M2;
    x ^= x >> 32;
    return (uint32_t)(x & 0xffff);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* An ICMP error (destination unreachable, time exceeded) about a TCP
 * segment berth sent belongs to that segment's connection: the quoted
 * header's destination is the peer (RFC 792; RFC 1122 §3.2.2 quotes the
 * IP header and at least 8 bytes). Without it PMTUD (RFC 1191) and hard
 * errors would reach only the connections of shard 0. */
static unsigned icmp_owner(uint64_t key, unsigned nshards, const uint8_t *ip,
                           size_t len, size_t ihl)
{
    const uint8_t *q = ip + ihl + 8;
    if (len < ihl + 8 + 20 || (ip[ihl] != 3 && ip[ihl] != 11) || q[9] != 6)
        return 0;
    size_t qhl = (size_t)(q[0] & 15) * 4;
    if (len < ihl + 8 + qhl + 4)
        return 0;
    return rt_steer_hash(key, be32(q + 16), be16(q + qhl + 2), be16(q + qhl)) %
           nshards;
}

unsigned rt_steer_owner(uint64_t key, unsigned nshards, const uint8_t *ip,
                        size_t len)
{
    /* What the program does: an unfragmented IPv4 TCP packet goes by its
     * 4-tuple, an ICMP error by the TCP segment it quotes; anything else
     * (and a packet too short for what is read) to queue 0. */
    if (nshards <= 1 || len < 20 || ip[0] >> 4 != 4 ||
        (ip[9] != 6 && ip[9] != 1) || ((ip[6] & 0x3f) | ip[7]) != 0)
        return 0;
    size_t ihl = (size_t)(ip[0] & 15) * 4;
    if (ip[9] == 1)
        return icmp_owner(key, nshards, ip, len, ihl);
    if (len < ihl + 4)
        return 0;
    return rt_steer_hash(key, be32(ip + 12), be16(ip + ihl),
                         be16(ip + ihl + 2)) %
           nshards;
}

bool rt_steer_port_ok(void *ctx, uint32_t raddr, uint16_t rport, uint16_t lport)
{
    const struct berth_rt *rt = ctx;
    return rt_steer_hash(rt->steer_key, raddr, rport, lport) % rt->nshards ==
           rt->shard;
}

/* ---- The eBPF program ---- */

#define INSN(c, d, s, o, i)                                                    \
    ((struct bpf_insn){                                                        \
        .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define MOV64_REG(d, s)     INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV64_IMM(d, i)     INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ALU64_IMM(op, d, i) INSN(BPF_ALU64 | (op) | BPF_K, d, 0, 0, i)
#define ALU64_REG(op, d, s) INSN(BPF_ALU64 | (op) | BPF_X, d, s, 0, 0)
#define LD_ABS(sz, off)     INSN(BPF_LD | (sz) | BPF_ABS, 0, 0, 0, off)
#define LD_IND(sz, s, o)    INSN(BPF_LD | (sz) | BPF_IND, 0, s, 0, o)
#define JNE_IMM(d, i, o)    INSN(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, i)
#define JEQ_IMM(d, i, o)    INSN(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, i)
#define JA(o)               INSN(BPF_JMP | BPF_JA, 0, 0, o, 0)
#define EXIT()              INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
/* A 64-bit immediate takes two instructions. */
#define LD_IMM64(d, v)                                                         \
    INSN(BPF_LD | BPF_DW | BPF_IMM, d, 0, 0, (int32_t)(uint32_t)(v)),          \
        INSN(0, 0, 0, 0, (int32_t)(uint32_t)((uint64_t)(v) >> 32))

/* LD_ABS/LD_IND read the packet from the network header (a TUN device has
 * no link header) in host order into r0, and end the program with 0 when
 * the packet is too short; they need the context in r6 and clobber r1-r5,
 * so the program keeps its values in r6-r9. */
static size_t steer_program(struct bpf_insn *p, uint64_t key)
{
    size_t n = 0;
    p[n++] = MOV64_REG(BPF_REG_6, BPF_REG_1);
    p[n++] = LD_ABS(BPF_B, 0); /* version and IHL */
    p[n++] = MOV64_REG(BPF_REG_7, BPF_REG_0);
    p[n++] = ALU64_IMM(BPF_RSH, BPF_REG_0, 4);
    size_t not_v4 = n;
    p[n++] = JNE_IMM(BPF_REG_0, 4, 0);
    p[n++] = ALU64_IMM(BPF_AND, BPF_REG_7, 15);
    p[n++] = ALU64_IMM(BPF_LSH, BPF_REG_7, 2); /* r7 = header length */
    p[n++] = LD_ABS(BPF_H, 6);                 /* flags and fragment offset */
    p[n++] = ALU64_IMM(BPF_AND, BPF_REG_0, 0x3fff);
    size_t fragment = n;
    p[n++] = JNE_IMM(BPF_REG_0, 0, 0);
    p[n++] = LD_ABS(BPF_B, 9); /* protocol */
    size_t is_tcp = n;
    p[n++] = JEQ_IMM(BPF_REG_0, 6, 0);
    size_t not_icmp = n;
    p[n++] = JNE_IMM(BPF_REG_0, 1, 0);
    /* ICMP: a destination unreachable or time exceeded quoting TCP. */
    p[n++] = LD_IND(BPF_B, BPF_REG_7, 0); /* type */
    size_t unreach = n;
    p[n++] = JEQ_IMM(BPF_REG_0, 3, 0);
    size_t not_exceeded = n;
    p[n++] = JNE_IMM(BPF_REG_0, 11, 0);
    size_t quoted = n;
    p[n++] = LD_IND(BPF_B, BPF_REG_7, 8 + 9); /* the quoted protocol */
    size_t quoted_not_tcp = n;
    p[n++] = JNE_IMM(BPF_REG_0, 6, 0);
    p[n++] = LD_IND(BPF_W, BPF_REG_7, 8 + 16); /* quoted destination: peer */
    p[n++] = MOV64_REG(BPF_REG_8, BPF_REG_0);
    p[n++] = ALU64_IMM(BPF_LSH, BPF_REG_8, 32);
    p[n++] = LD_IND(BPF_B, BPF_REG_7, 8); /* the quoted header's length */
    p[n++] = ALU64_IMM(BPF_AND, BPF_REG_0, 15);
    p[n++] = ALU64_IMM(BPF_LSH, BPF_REG_0, 2);
    p[n++] = ALU64_REG(BPF_ADD, BPF_REG_7, BPF_REG_0);
    p[n++] = LD_IND(BPF_H, BPF_REG_7, 8 + 2); /* quoted destination port */
    p[n++] = ALU64_IMM(BPF_LSH, BPF_REG_0, 16);
    p[n++] = ALU64_REG(BPF_OR, BPF_REG_8, BPF_REG_0);
    p[n++] = LD_IND(BPF_H, BPF_REG_7, 8); /* quoted source port: berth's */
    p[n++] = ALU64_REG(BPF_OR, BPF_REG_8, BPF_REG_0);
    size_t to_mix = n;
    p[n++] = JA(0);
    size_t tcp = n;
    p[n++] = LD_ABS(BPF_W, 12); /* source address: the peer's */
    p[n++] = MOV64_REG(BPF_REG_8, BPF_REG_0);
    p[n++] = ALU64_IMM(BPF_LSH, BPF_REG_8, 32);
    p[n++] = LD_IND(BPF_H, BPF_REG_7, 0); /* source port: the peer's */
    p[n++] = ALU64_IMM(BPF_LSH, BPF_REG_0, 16);
    p[n++] = ALU64_REG(BPF_OR, BPF_REG_8, BPF_REG_0);
    p[n++] = LD_IND(BPF_H, BPF_REG_7, 2); /* destination port: berth's */
    p[n++] = ALU64_REG(BPF_OR, BPF_REG_8, BPF_REG_0);
    size_t mix_at = n;
    struct bpf_insn mix[] = {
        LD_IMM64(BPF_REG_1, key),
        ALU64_REG(BPF_XOR, BPF_REG_8, BPF_REG_1),
        LD_IMM64(BPF_REG_1, STEER_M1),
        ALU64_REG(BPF_MUL, BPF_REG_8, BPF_REG_1),
        MOV64_REG(BPF_REG_2, BPF_REG_8),
        ALU64_IMM(BPF_RSH, BPF_REG_2, 29),
        ALU64_REG(BPF_XOR, BPF_REG_8, BPF_REG_2),
        LD_IMM64(BPF_REG_1, STEER_M2),
        ALU64_REG(BPF_MUL, BPF_REG_8, BPF_REG_1),
        MOV64_REG(BPF_REG_2, BPF_REG_8),
        ALU64_IMM(BPF_RSH, BPF_REG_2, 32),
        ALU64_REG(BPF_XOR, BPF_REG_8, BPF_REG_2),
        MOV64_REG(BPF_REG_0, BPF_REG_8),
        ALU64_IMM(BPF_AND, BPF_REG_0, 0xffff),
        EXIT(),
    };
    memcpy(p + n, mix, sizeof mix);
    n += sizeof mix / sizeof *mix;
    size_t queue0 = n;
    p[n++] = MOV64_IMM(BPF_REG_0, 0);
    p[n++] = EXIT();
    /* The jumps to "queue 0": offsets count from the next instruction. */
    p[not_v4].off = (int16_t)(queue0 - not_v4 - 1);
    p[fragment].off = (int16_t)(queue0 - fragment - 1);
    p[is_tcp].off = (int16_t)(tcp - is_tcp - 1);
    p[not_icmp].off = (int16_t)(queue0 - not_icmp - 1);
    p[unreach].off = (int16_t)(quoted - unreach - 1);
    p[not_exceeded].off = (int16_t)(queue0 - not_exceeded - 1);
    p[quoted_not_tcp].off = (int16_t)(queue0 - quoted_not_tcp - 1);
    p[to_mix].off = (int16_t)(mix_at - to_mix - 1);
    return n;
}

int rt_steer_load(uint64_t key, char *err, size_t errlen)
{
    struct bpf_insn prog[96];
    size_t n = steer_program(prog, key);
    static const char license[] = "GPL";
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    attr.insns = (uint64_t)(uintptr_t)prog;
    attr.insn_cnt = (uint32_t)n;
    attr.license = (uint64_t)(uintptr_t)license;
    int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
    if (fd < 0)
        snprintf(err, errlen, "cannot load the steering program: %s",
                 strerror(errno));
    return fd;
}

int rt_steer_attach(int tunfd, uint64_t key, char *err, size_t errlen)
{
    int fd = rt_steer_load(key, err, errlen);
    if (fd < 0)
        return -1;
    /* The device keeps its own reference to the program. */
    int rc = ioctl(tunfd, TUNSETSTEERINGEBPF, &fd);
    int e = errno;
    close(fd);
    if (rc < 0) {
        snprintf(err, errlen, "cannot attach the steering program: %s",
                 strerror(e));
        return -1;
    }
    return 0;
}
