#ifndef NABLA_FUZZ_GZIP_H
#define NABLA_FUZZ_GZIP_H

#include <stddef.h>
#include <stdint.h>

/// Writes `bytes` gzip-compressed (zlib's deflate, windowBits 15 + 16, level 6) to `path`,
/// replacing it. Returns 0, or -1 if zlib or the file failed.
int nabla_fuzz_write_gzip(const char *path, const uint8_t *bytes, size_t count);

#endif
