/* placeholder */
#include "demo.h"
int demo_tun(struct demo_opts *o, char *why, size_t whylen)
{
    (void)o;
    snprintf(why, whylen, "TUN demo not written yet.");
    return -1;
}
