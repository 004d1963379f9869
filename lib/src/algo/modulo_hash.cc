// modulo_hash.cc - nginx `hash $key` (not consistent) / map-based hashing.
//
// As nginx computes it (compatible with Cache::Memcached): attempt r
// (0, 1, ...) hashes crc32 over the decimal text of r (omitted for r = 0)
// followed by the key, keeps (crc >> 16) & 0x7fff and adds it to the running
// sum of the previous attempts; the member is the one whose cumulative
// weight range contains sum % total weight (members in id order).  An
// unusable member (or one over the load bound) leads to the next attempt.
// As nginx, an empty key, a tier of one member and 21 unusable attempts
// end in round robin (with a load bound, which nginx lacks, in a scan of
// the members).  nginx counts the unusable attempts over the whole request
// and resumes a retry after the attempt the previous try took; a pick
// replays the attempts from the first, and does not count as a miss the
// first attempt that lands on each peer the request already tried (that
// attempt took it then): the same misses, the same decision.  Finding the member is a binary search over cumulative
// weights: O(log n).
//
// On change: add, remove and weight changes rebuild the cumulative weights;
// most keys move (that is what consistent hashing avoids); admin state
// changes only the round-robin schedule.
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <iterator>

#include "algo/hash_common.h"
#include "algo/methods.h"

namespace lbk {
namespace {

struct Cumulative : HashState {
  std::vector<uint64_t> ends;  // ends[i] = weights[0] + ... + weights[i]
};

std::unique_ptr<AlgoState> build(const Tier &tier, const PoolParams &params) {
  auto c = std::make_unique<Cumulative>();
  c->round_robin = round_robin_build(tier, params);
  uint64_t sum = 0;
  for (uint32_t w : tier.weights) c->ends.push_back(sum += w);
  return c;
}

uint32_t pick(PickContext &ctx, const Tier &tier) {
  const auto &ends = static_cast<const Cumulative *>(tier.state.get())->ends;
  if (ctx.key_len() == 0 || ends.size() < 2) return hash_round_robin(ctx, tier);
  LoadBound bound(ctx, tier);
  uint64_t sum = 0;
  size_t pos = 0;
  // the peers of earlier attempts met so far in the replay, each once (nginx
  // has no load bound: with one, every unusable attempt counts)
  uint32_t taken[32];
  size_t n_taken = 0, room = bound.bounded() ? 0 : std::size(taken);
  size_t steps = hash_walk_steps(bound), misses = 0;
  for (size_t rehash = 0; misses < steps; ++rehash) {
    uLong crc = crc32(0L, Z_NULL, 0);
    if (rehash > 0) {
      char digits[16];
      int len = std::snprintf(digits, sizeof digits, "%zu", rehash);
      crc = crc32(crc, reinterpret_cast<const Bytef *>(digits),
                  static_cast<uInt>(len));
    }
    uint32_t h = static_cast<uint32_t>(crc32(
        crc, static_cast<const Bytef *>(ctx.key()), static_cast<uInt>(ctx.key_len())));
    sum += (h >> 16) & 0x7fff;
    uint64_t w = sum % tier.total_weight;
    pos = static_cast<size_t>(std::upper_bound(ends.begin(), ends.end(), w) -
                              ends.begin());
    uint32_t id = tier.ids[pos];
    if (bound.allows(ctx, tier, pos) && ctx.usable(id)) return id;
    if (n_taken < room && ctx.tried(id) &&
        std::find(taken, taken + n_taken, id) == taken + n_taken) {
      taken[n_taken++] = id;
      continue;
    }
    ++misses;
  }
  return hash_walk_failed(ctx, tier, pos, bound);
}

}  // namespace

extern const AlgoOps modulo_hash_ops = {.name = "modulo_hash", .needs_key = true,
                                        .build_reads_admin_state = true, .build = build,
                                        .pick = pick};

}  // namespace lbk
