#include "CFuzzGzip.h"

#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

int nabla_fuzz_write_gzip(const char *path, const uint8_t *bytes, size_t count) {
    z_stream stream = {0};
    if (deflateInit2(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    uLong capacity = deflateBound(&stream, (uLong)count);
    unsigned char *output = malloc(capacity);
    if (output == NULL) {
        deflateEnd(&stream);
        return -1;
    }
    stream.next_in = (Bytef *)bytes;
    stream.avail_in = (uInt)count;
    stream.next_out = output;
    stream.avail_out = (uInt)capacity;
    int status = deflate(&stream, Z_FINISH);
    size_t written = capacity - stream.avail_out;
    deflateEnd(&stream);
    int result = -1;
    if (status == Z_STREAM_END) {
        FILE *file = fopen(path, "wb");
        if (file != NULL) {
            result = fwrite(output, 1, written, file) == written ? 0 : -1;
            if (fclose(file) != 0) result = -1;
        }
    }
    free(output);
    return result;
}
