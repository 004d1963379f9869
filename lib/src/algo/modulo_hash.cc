// modulo_hash.cc - nginx `hash $key` (not consistent) / map-based hashing.
//
// As nginx computes it (compatible with Cache::Memcached): attempt r
// (0, 1, ...) hashes crc32 over the decimal text of r (omitted for r = 0)
// followed by the key, keeps (crc >> 16) & 0x7fff and adds it to the running
// sum of the previous attempts; the member is the one whose cumulative
// weight range contains sum % total weight (members in id order).  An
// unusable member (or one over the load bound) leads to the next attempt,
// up to 20 as in nginx, then the members are scanned.  Finding the member is
// a binary search over cumulative weights: O(log n).
//
// On change: add, remove and weight changes rebuild the cumulative weights;
// most keys move (that is what consistent hashing avoids).
#include <zlib.h>

#include <algorithm>
#include <cstdio>

#include "algo/hash_common.h"
#include "algo/methods.h"

namespace lbk {
namespace {

constexpr uint32_t MAX_REHASH = 20;

struct Cumulative : AlgoState {
  std::vector<uint64_t> ends;  // ends[i] = weights[0] + ... + weights[i]
};

std::unique_ptr<AlgoState> build(const Tier &tier, const PoolParams &) {
  auto c = std::make_unique<Cumulative>();
  uint64_t sum = 0;
  for (uint32_t w : tier.weights) c->ends.push_back(sum += w);
  return c;
}

uint32_t pick(PickContext &ctx, const Tier &tier) {
  const auto &ends = static_cast<const Cumulative *>(tier.state.get())->ends;
  LoadBound bound(ctx, tier);
  uint64_t sum = 0;
  size_t pos = 0;
  for (uint32_t rehash = 0; rehash < MAX_REHASH; ++rehash) {
    uLong crc = crc32(0L, Z_NULL, 0);
    if (rehash > 0) {
      char digits[16];
      int len = std::snprintf(digits, sizeof digits, "%u", rehash);
      crc = crc32(crc, reinterpret_cast<const Bytef *>(digits),
                  static_cast<uInt>(len));
    }
    uint32_t h = static_cast<uint32_t>(crc32(
        crc, static_cast<const Bytef *>(ctx.key()), static_cast<uInt>(ctx.key_len())));
    sum += (h >> 16) & 0x7fff;
    uint64_t w = sum % tier.total_weight;
    pos = static_cast<size_t>(std::upper_bound(ends.begin(), ends.end(), w) -
                              ends.begin());
    if (bound.allows(ctx, tier, pos) && ctx.usable(tier.ids[pos]))
      return tier.ids[pos];
  }
  return hash_fallback(ctx, tier, pos, bound);
}

}  // namespace

const AlgoOps modulo_hash_ops = {"modulo_hash", true, build, pick, false};

}  // namespace lbk
