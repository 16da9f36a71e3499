/* The pcap writer: classic libpcap format (magic 0xa1b2c3d4 in host byte
 * order, version 2.4, microsecond timestamps), LINKTYPE_RAW so each record
 * is a bare IPv4 datagram, as it crosses the TUN device (LINKTYPE_ETHERNET
 * on Ethernet links: whole frames, ARP included). Records go through
 * a large stdio buffer; the loop flushes it periodically and at exit, never
 * per packet. */
#include "rt_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCAP_MAGIC        0xa1b2c3d4u
#define PCAP_SNAPLEN      65535u
#define PCAP_LINKTYPE_RAW 101u
#define PCAP_BUFFER       (64u * 1024u)

struct pcap_file_header {
    uint32_t magic;
    uint16_t version_major, version_minor;
    int32_t thiszone;
    uint32_t sigfigs, snaplen, linktype;
};

struct pcap_record_header {
    uint32_t ts_sec, ts_usec, incl_len, orig_len;
};

struct rt_pcap {
    FILE *f;
    int error; /* first write error (positive errno); capture stops */
    char *buf; /* the stdio buffer: freed only after fclose() */
};

/* A file in a directory others can write to (/tmp) may be a planted
 * symlink or a hard link to a file of root's: O_NOFOLLOW refuses the
 * first, the link count the second, and O_TRUNC only runs after both
 * checks (ftruncate), so nothing is written through either. */
int berth_rt_create_file(const char *path, bool append, char *err,
                         size_t errlen)
{
    int fd = open(path,
                  O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
                      (append ? O_APPEND : 0),
                  0644);
    struct stat st;
    const char *why = NULL;
    if (fd < 0)
        why = errno == ELOOP ? "it is a symbolic link" : strerror(errno);
    else if (fstat(fd, &st) < 0)
        why = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (st.st_nlink > 1)
        why = "it has other hard links";
    else if (!append && ftruncate(fd, 0) < 0)
        why = strerror(errno);
    if (why) {
        snprintf(err, errlen, "cannot create %s: %s", path, why);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

struct rt_pcap *rt_pcap_open(const char *path, char *err, size_t errlen)
{
    return rt_pcap_open_linktype(path, PCAP_LINKTYPE_RAW, err, errlen);
}

struct rt_pcap *rt_pcap_open_linktype(const char *path, uint32_t linktype,
                                      char *err, size_t errlen)
{
    struct rt_pcap *p = calloc(1, sizeof *p);
    char *buf = malloc(PCAP_BUFFER);
    int fd = -1;
    FILE *f = NULL;
    if (!p || !buf)
        snprintf(err, errlen, "capture file %s: out of memory", path);
    else if ((fd = berth_rt_create_file(path, false, err, errlen)) >= 0 &&
             !(f = fdopen(fd, "wb")))
        snprintf(err, errlen, "cannot create capture file %s: %s", path,
                 strerror(errno));
    if (!f) {
        if (fd >= 0)
            close(fd);
        free(buf);
        free(p);
        return NULL;
    }
    setvbuf(f, buf, _IOFBF, PCAP_BUFFER);
    p->f = f;
    p->buf = buf;
    struct pcap_file_header h = {PCAP_MAGIC,   2,       4, 0, 0,
                                 PCAP_SNAPLEN, linktype};
    /* Written through at once: even a run that captures nothing leaves a
     * file that tshark opens. */
    if (fwrite(&h, sizeof h, 1, f) != 1 || fflush(f) != 0) {
        snprintf(err, errlen, "cannot write capture file %s: %s", path,
                 strerror(errno));
        fclose(f);
        free(buf);
        free(p);
        return NULL;
    }
    return p;
}

void rt_pcap_write_at(struct rt_pcap *p, const struct timespec *ts,
                      const uint8_t *pkt, size_t len)
{
    if (p->error)
        return;
    size_t incl = len < PCAP_SNAPLEN ? len : PCAP_SNAPLEN;
    struct pcap_record_header r = {(uint32_t)ts->tv_sec,
                                   (uint32_t)(ts->tv_nsec / 1000),
                                   (uint32_t)incl, (uint32_t)len};
    if (fwrite(&r, sizeof r, 1, p->f) != 1 ||
        fwrite(pkt, 1, incl, p->f) != incl)
        p->error = errno ? errno : EIO;
}

void rt_pcap_write(struct rt_pcap *p, const uint8_t *pkt, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rt_pcap_write_at(p, &ts, pkt, len);
}

int rt_pcap_flush(struct rt_pcap *p)
{
    if (!p->error && fflush(p->f) != 0)
        p->error = errno ? errno : EIO;
    return -p->error;
}

void rt_pcap_forget(struct rt_pcap *p)
{
    if (!p)
        return;
    __fpurge(p->f); /* another process writes these records */
    fclose(p->f);
    free(p->buf);
    free(p);
}

int rt_pcap_close(struct rt_pcap *p)
{
    if (!p)
        return 0;
    int rc = rt_pcap_flush(p);
    if (fclose(p->f) != 0 && rc == 0)
        rc = -(errno ? errno : EIO);
    free(p->buf);
    free(p);
    return rc;
}
