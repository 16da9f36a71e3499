/* The AF_XDP backend where berth was built without libxdp and libbpf (the
 * build found no libxdp-dev/libbpf-dev): --link xdp: says so. */
#include "link_rt.h"

#include <stdio.h>

int rt_xdp_open(const char *ifname, unsigned queue, uint32_t addr,
                struct rt_backend *out, char *err, size_t errlen)
{
    (void)queue, (void)addr, (void)out;
    snprintf(err, errlen,
             "AF_XDP on %s: this berth was built without libxdp/libbpf "
             "(install libxdp-dev and libbpf-dev, and rebuild)",
             ifname);
    return -1;
}
