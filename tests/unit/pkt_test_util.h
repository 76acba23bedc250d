/* Byte-writing and reference-checksum helpers shared by the decoder tests. */
#ifndef VIGIL_PKT_TEST_UTIL_H
#define VIGIL_PKT_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

static inline void put16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static inline void put32(uint8_t *b, uint32_t v)
{
    put16(b, (uint16_t)(v >> 16));
    put16(b + 2, (uint16_t)v);
}

/* The RFC 1071 sum written the slow, obvious way, to check the decoder's. */
static inline uint32_t ref_sum(const uint8_t *b, size_t len, uint32_t sum)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)b[i] << 8 | b[i + 1];
    if (len & 1)
        sum += (uint32_t)b[len - 1] << 8;
    return sum;
}

static inline uint16_t ref_finish(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

#endif
