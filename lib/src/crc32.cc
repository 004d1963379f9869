// crc32.cc - lbk_crc32(): zlib's crc32, the hash nginx uses for keys and
// for the ketama points of `hash ... consistent`.
#include <zlib.h>

#include <climits>

#include "lbkit.h"

extern "C" {

LBK_EXTERN uint32_t lbk_crc32(const void *data, size_t len) {
  const Bytef *bytes = static_cast<const Bytef *>(data);
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed long inputs in pieces.
  while (len > 0) {
    uInt chunk = len > UINT_MAX ? UINT_MAX : static_cast<uInt>(len);
    crc = crc32(crc, bytes, chunk);
    bytes += chunk;
    len -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

}  // extern "C"
