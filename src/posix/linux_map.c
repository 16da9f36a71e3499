/* Linux's numbers for berth's (linux_map.h): one table of integer socket
 * options, the state numbering, struct tcp_info. */
#include "linux_map.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static const struct linux_int_opt INT_OPTS[] = {
    {SOL_SOCKET, SO_KEEPALIVE, BERTH_OPT_KEEPALIVE, 1},
    {SOL_SOCKET, SO_SNDBUF, BERTH_OPT_SNDBUF, 1},
    {SOL_SOCKET, SO_RCVBUF, BERTH_OPT_RCVBUF, 1},
    {IPPROTO_TCP, TCP_NODELAY, BERTH_OPT_NODELAY, 1},
    {IPPROTO_TCP, TCP_KEEPIDLE, BERTH_OPT_KEEPIDLE, 1000000},
    {IPPROTO_TCP, TCP_KEEPINTVL, BERTH_OPT_KEEPINTVL, 1000000},
    {IPPROTO_TCP, TCP_KEEPCNT, BERTH_OPT_KEEPCNT, 1},
    {IPPROTO_TCP, TCP_MAXSEG, BERTH_OPT_MAXSEG, 1},
    {IPPROTO_TCP, TCP_USER_TIMEOUT, BERTH_OPT_USER_TIMEOUT, 1000},
};

const struct linux_int_opt *linux_int_opt(int level, int name)
{
    for (size_t i = 0; i < sizeof INT_OPTS / sizeof INT_OPTS[0]; i++)
        if (INT_OPTS[i].level == level && INT_OPTS[i].name == name)
            return &INT_OPTS[i];
    return NULL;
}

int linux_tcp_state(enum berth_state st)
{
    static const uint8_t LINUX_STATE[BERTH_STATE__COUNT] = {
        [BERTH_STATE_CLOSED] = TCP_CLOSE,
        [BERTH_STATE_LISTEN] = TCP_LISTEN,
        [BERTH_STATE_SYN_SENT] = TCP_SYN_SENT,
        [BERTH_STATE_SYN_RECEIVED] = TCP_SYN_RECV,
        [BERTH_STATE_ESTABLISHED] = TCP_ESTABLISHED,
        [BERTH_STATE_FIN_WAIT_1] = TCP_FIN_WAIT1,
        [BERTH_STATE_FIN_WAIT_2] = TCP_FIN_WAIT2,
        [BERTH_STATE_CLOSE_WAIT] = TCP_CLOSE_WAIT,
        [BERTH_STATE_CLOSING] = TCP_CLOSING,
        [BERTH_STATE_LAST_ACK] = TCP_LAST_ACK,
        [BERTH_STATE_TIME_WAIT] = TCP_TIME_WAIT,
    };
    return (unsigned)st < BERTH_STATE__COUNT ? LINUX_STATE[st] : TCP_CLOSE;
}

void linux_tcp_info(const struct berth_tcp_info *in, struct tcp_info *ti)
{
    uint32_t mss = in->snd_mss ? in->snd_mss : 1;
    memset(ti, 0, sizeof *ti);
    ti->tcpi_state = (uint8_t)linux_tcp_state(in->state);
    ti->tcpi_ca_state = in->recovery == BERTH_RECOVERY_FAST  ? TCP_CA_Recovery
                        : in->recovery == BERTH_RECOVERY_RTO ? TCP_CA_Loss
                                                             : TCP_CA_Open;
    ti->tcpi_retransmits = (uint8_t)in->retransmits;
    ti->tcpi_options = (in->timestamps ? TCPI_OPT_TIMESTAMPS : 0) |
                       (in->sack ? TCPI_OPT_SACK : 0) |
                       (in->snd_wscale || in->rcv_wscale ? TCPI_OPT_WSCALE : 0);
    ti->tcpi_snd_wscale = in->snd_wscale & 15;
    ti->tcpi_rcv_wscale = in->rcv_wscale & 15;
    ti->tcpi_rto = in->rto;
    ti->tcpi_snd_mss = in->snd_mss;
    ti->tcpi_rcv_mss = in->snd_mss;
    /* Linux counts packets out: a partial segment is one. */
    ti->tcpi_unacked = (in->unacked + mss - 1) / mss;
    ti->tcpi_rtt = in->srtt;
    ti->tcpi_rttvar = in->rttvar;
    ti->tcpi_snd_ssthresh =
        in->ssthresh == UINT32_MAX ? 0x7fffffff : in->ssthresh / mss;
    ti->tcpi_snd_cwnd = in->cwnd / mss;
    ti->tcpi_advmss = in->snd_mss;
    ti->tcpi_rcv_space = in->rcv_wnd;
    ti->tcpi_total_retrans = in->total_retrans;
}
