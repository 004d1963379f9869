// libFuzzer target: lbctl's DNS answer walker (the smallest TTL of a reply's
// answer records, cli/discovery.cc) on arbitrary bytes.  Names are read by
// c-ares's ares_expand_name, loaded as lbctl loads it.
#include <cstddef>
#include <cstdint>

#include "discovery.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint32_t ttl = 0;
  if (size > 65535) return 0;  // a DNS message is at most 64 KiB
  lbctl::dns_answer_min_ttl(data, static_cast<int>(size), ttl);
  return 0;
}
