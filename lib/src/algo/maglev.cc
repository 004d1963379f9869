// maglev.cc - Maglev hashing (Eisenbud et al., NSDI 2016), table size 65537.
//
// Each member has a preference permutation of the table: offset = h1 % M,
// skip = h2 % (M - 1) + 1, entry j = (offset + j * skip) % M (M is prime, so
// every skip visits every entry).  h1 and h2 come from the member's name:
// b = FNV-1a-64(name), h1 = splitmix64(b), h2 = splitmix64(b + 2^64/phi).
// Members take turns claiming their next unclaimed preferred entry until
// the table is full.  Weights: in round r a member of weight w takes a turn
// when floor(r * w / w_max) > floor((r - 1) * w / w_max), so members of the
// highest weight take one every round and the others proportionally fewer.
// With equal weights every member owns floor(M/n) or ceil(M/n) entries.
//
// A key's entry is FNV-1a-64(key) % M.  An unusable member (or one over the
// load bound) passes the key to the following entries.  As the nginx hash
// methods: an empty key and 21 unusable entries end in round robin (with a
// load bound: HASH_WALK_STEPS entries, then the members are scanned).
//
// On change: add, remove and weight changes rebuild the table (O(M) when
// weights are equal); Maglev moves few keys besides the changed member's.
#include <algorithm>
#include <cstring>

#include "algo/hash_common.h"
#include "algo/methods.h"
#include "bits.h"

namespace lbk {
namespace {

constexpr uint32_t TABLE_SIZE = 65537;

struct Table : HashState {
  std::vector<uint32_t> entries;  // tier positions
};

uint64_t fnv1a64(const void *data, size_t len) {
  const unsigned char *p = static_cast<const unsigned char *>(data);
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < len; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::unique_ptr<AlgoState> build(const Tier &tier, const PoolParams &params) {
  size_t n = tier.ids.size();
  std::vector<uint32_t> offset(n), skip(n), next(n, 0);
  uint32_t max_weight = 1;
  for (size_t i = 0; i < n; ++i) {
    uint64_t b = fnv1a64(tier.names[i].data(), tier.names[i].size());
    offset[i] = static_cast<uint32_t>(splitmix64(b) % TABLE_SIZE);
    skip[i] = static_cast<uint32_t>(splitmix64(b + 0x9e3779b97f4a7c15ULL) %
                                    (TABLE_SIZE - 1)) + 1;
    max_weight = std::max(max_weight, tier.weights[i]);
  }
  auto table = std::make_unique<Table>();
  table->round_robin = round_robin_build(tier, params);
  table->entries.assign(TABLE_SIZE, UINT32_MAX);
  uint32_t filled = 0;
  for (uint64_t round = 1; filled < TABLE_SIZE; ++round) {
    for (size_t i = 0; i < n && filled < TABLE_SIZE; ++i) {
      uint64_t w = tier.weights[i];
      if ((round * w) / max_weight == ((round - 1) * w) / max_weight) continue;
      uint32_t c;
      do {
        c = static_cast<uint32_t>(
            (offset[i] + uint64_t{next[i]} * skip[i]) % TABLE_SIZE);
        ++next[i];
      } while (table->entries[c] != UINT32_MAX);
      table->entries[c] = static_cast<uint32_t>(i);
      ++filled;
    }
  }
  return table;
}

uint32_t pick(PickContext &ctx, const Tier &tier) {
  const auto &entries = static_cast<const Table *>(tier.state.get())->entries;
  if (ctx.key_len() == 0) return hash_round_robin(ctx, tier);
  size_t at = static_cast<size_t>(fnv1a64(ctx.key(), ctx.key_len()) % TABLE_SIZE);
  LoadBound bound(ctx, tier);
  for (size_t step = 0, steps = hash_walk_steps(bound); step < steps;
       ++step, ++at) {
    if (at >= TABLE_SIZE) at = 0;
    uint32_t pos = entries[at];
    if (bound.allows(ctx, tier, pos) && ctx.usable(tier.ids[pos]))
      return tier.ids[pos];
  }
  return hash_walk_failed(ctx, tier, entries[at % TABLE_SIZE], bound);
}

}  // namespace

extern const AlgoOps maglev_ops = {.name = "maglev", .needs_key = true,
                                   .build_reads_admin_state = true, .build = build, .pick = pick};

}  // namespace lbk
