/* state/crc32c.h: CRC32C (Castagnoli), the checksum of every checkpoint file. */
#ifndef WEIR_STATE_CRC32C_H
#define WEIR_STATE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) over p[0..n). */
uint32_t weir__crc32c(uint32_t crc, const void *p, size_t n);

#endif
