/* Helpers shared by the fuzz targets. */
#ifndef BERTH_FUZZ_UTIL_H
#define BERTH_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Recomputes the IPv4 header checksum and, for TCP, the TCP checksum over
 * what the header says is the segment (IPv6: behind its extension headers);
 * malformed headers are left alone.
 * Mutations then reach the state machine instead of the checksum check. */
void fuzz_fix_checksums(uint8_t *p, size_t len);

#endif
