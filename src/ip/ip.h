/* The network layer beside TCP: IPv4 and IPv6 output for ICMP and UDP,
 * ICMP (icmp.c), ICMPv6 (icmp6.c), the path MTU cache (pmtu.c) and UDP
 * sockets (udp.c). The stack's input (stack.c) hands each datagram here
 * by protocol. */
#ifndef BERTH_IP_IP_H
#define BERTH_IP_IP_H

#include "stack.h"
#include "wire/icmp.h"
#include "wire/icmp6.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"

#include <stdbool.h>
#include <stdint.h>

/* Sends the payload_len bytes the caller wrote at s->txbuf + 20 to dst,
 * with an IPv4 header from our address (ip_out.c). */
void ip_send(struct berth_stack *s, uint32_t dst, uint8_t proto,
             size_t payload_len);
/* The same over IPv6: the payload at s->txbuf + 40, from our IPv6
 * address to dst (16 bytes), flow label 0 (ip_out.c). */
void ip6_send(struct berth_stack *s, const uint8_t *dst, uint8_t proto,
              size_t payload_len);

/* ---- icmp.c ---- */
/* An ICMP message for us (ip: its datagram, already checked by
 * ipv4_parse). Returns 0 or the drop reason. */
int icmp_input(struct berth_stack *s, const struct ipv4_info *ip);
/* Destination unreachable (code: protocol or port) for a datagram we
 * received (RFC 1122 §3.2.2.1), unless the rate limit says no (then
 * false). Never for ICMP errors, fragments or broadcast/multicast
 * sources: the caller sends only for unicast datagrams to our address. */
bool icmp_send_unreach(struct berth_stack *s, const struct ipv4_info *ip,
                       uint8_t code);

/* RFC 4443 §2.4 (f): the token bucket every ICMP and ICMPv6 message we
 * send takes a token from; false (and counted) when it is empty. */
bool icmp_allowed(struct berth_stack *s);

/* What an ICMP error tells a transport protocol. An ICMPv6 error is told
 * in ICMPv4's terms (icmp6.c maps its type and code, as Linux's
 * icmpv6_err_convert does): Packet Too Big as fragmentation needed. */
struct icmp_err {
    uint8_t type, code;
    uint16_t mtu; /* fragmentation needed: next-hop MTU, 0 if not given */
    bool v6;      /* q.src and q.dst are interned IPv6 ids (ip/addr6.h);
                     q.dst is 0 if the peer's address is not interned */
    const uint8_t *dst6; /* v6: the quoted destination, 16 bytes */
    struct icmp_quote q;
};

/* ---- icmp6.c ---- */
/* An ICMPv6 message for us (ip: its packet, already checked by
 * ipv6_parse and addressed to us). Returns 0 or the drop reason. */
int icmp6_input(struct berth_stack *s, const struct ipv6_info *ip);
/* Destination unreachable (code: ICMP6_PORT_UNREACH) for a packet we
 * received, unless the rate limit says no (then false). The caller sends
 * only for unicast packets to our address, never for ICMPv6 errors. */
bool icmp6_send_unreach(struct berth_stack *s, const struct ipv6_info *ip,
                        uint8_t code);
/* tcp/tcp_icmp.c: an ICMP error about a TCP segment we sent. Returns 0 or
 * the drop reason (the message was not acted on). */
int tcp_icmp_error(struct berth_stack *s, const struct icmp_err *e);

/* ---- pmtu.c: the path MTU per destination (RFC 1191 §6.3, RFC 8201
 * §5.2). dst: an IPv4 address, or with v6 an interned IPv6 id. ---- */
/* The path MTU cached for dst, or 0 (none, or expired). */
uint16_t pmtu_get(struct berth_stack *s, bool v6, uint32_t dst);
/* Records a path MTU for dst (a smaller value replaces a larger one;
 * the entry ages from now). */
void pmtu_set(struct berth_stack *s, bool v6, uint32_t dst, uint16_t mtu);
/* The MSS a new connection to dst may send: mss, or less if a cached path
 * MTU says so (the IP and TCP headers, 40 or 60 bytes, below the MTU). */
uint16_t pmtu_clamp_mss(struct berth_stack *s, bool v6, uint32_t dst,
                        uint16_t mss);
void pmtu_free(struct berth_stack *s);

/* ---- frag.c: IPv4 reassembly for UDP and ICMP ---- */
/* A packet ipv4_parse() called a fragment: 0 with *out the whole datagram
 * (valid until frag_release()), -1 if it waits for more, or the drop
 * reason (IP_FRAGMENT: a TCP or other fragment, not reassembled). */
int frag_input(struct berth_stack *s, const uint8_t *pkt, size_t len,
               struct ipv4_info *out);
/* Frees the datagram frag_input() completed, once it was delivered. */
void frag_release(struct berth_stack *s);
/* Abandons the datagrams whose time is up (FRAG_TIMEOUT). */
void frag_expire(struct berth_stack *s);
void frag_free(struct berth_stack *s);

/* ---- udp.c: UDP sockets (the socket layer's calls) ---- */
struct udp_sock;
/* A new UDP handle, or BERTH_ENOMEM / BERTH_EMFILE. */
int udp_user_socket(struct berth_stack *s);
/* Binds to 0.0.0.0 or our IPv4 address (IPv4 only), our IPv6 address
 * (IPv6 only) or "::" (both; IPv4 peers reported mapped). */
int udp_user_bind(struct berth_stack *s, struct udp_sock *u,
                  const struct berth_endpoint *ep);
/* Sets the default peer; datagrams from others are no longer taken. */
int udp_user_connect(struct berth_stack *s, struct udp_sock *u,
                     const struct berth_endpoint *ep);
/* Sends one datagram (to NULL: to the connected peer): len, or
 * BERTH_EDESTADDRREQ, BERTH_EMSGSIZE, a pending error. */
int udp_user_sendto(struct berth_stack *s, struct udp_sock *u, const void *buf,
                    size_t len, const struct berth_endpoint *to);
/* Takes one datagram (its tail beyond len is lost): bytes copied, or
 * BERTH_EAGAIN, or a pending error. */
int udp_user_recvfrom(struct berth_stack *s, struct udp_sock *u, void *buf,
                      size_t len, struct berth_endpoint *from);
uint32_t udp_poll(const struct udp_sock *u);
int udp_user_take_error(struct udp_sock *u);
/* getsockname (peer false) / getpeername (BERTH_ENOTCONN unconnected). */
int udp_user_name(const struct berth_stack *s, const struct udp_sock *u,
                  bool peer, struct berth_endpoint *out);
/* Frees the socket and its queue (the handle is released by the caller). */
void udp_user_close(struct berth_stack *s, struct udp_sock *u);
/* Stack teardown, after every socket is closed: the port table. */
void udp_fini(struct berth_stack *s);
/* A UDP datagram for us. flags: BERTH_IN_*. Returns 0 or the drop reason. */
int udp_input(struct berth_stack *s, const struct ipv4_info *ip,
              uint32_t flags);
/* The same over IPv6 (the checksum mandatory, RFC 8200 §8.1). */
int udp_input6(struct berth_stack *s, const struct ipv6_info *ip,
               uint32_t flags);
/* An ICMP error about a datagram a UDP socket sent (port unreachable on a
 * connected socket: ECONNREFUSED, as Linux). Returns 0 or the reason. */
int udp_icmp_error(struct berth_stack *s, const struct icmp_err *e);

#endif
