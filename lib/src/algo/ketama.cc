// ketama.cc - consistent hashing exactly as nginx `hash $key consistent`.
//
// The ring (facts of nginx's ngx_http_upstream_hash_module, written anew):
//  - a member's name is nginx's `server` text.  It is split into host and
//    port: "unix:PATH" gives host PATH and no port; otherwise, if the name
//    ends in ':' followed only by digits, host is what precedes that ':' and
//    port the digits; else the whole name is the host and the port is empty;
//  - base = crc32 over host, one '\0' byte, port;
//  - the member gets 160 x weight points; point j's hash is crc32 over the
//    same bytes followed by the 4 bytes of point j-1's hash, least
//    significant byte first (4 zero bytes for j = 0);
//  - points are sorted by hash; of points with equal hashes only the first
//    is kept.
// A key's hash is crc32(key); its point is the first with hash >= key hash,
// wrapping to the first point.  A pick that finds the member unusable (or
// over the load bound) moves to the next point, as nginx does.  As nginx,
// an empty key and a walk past 21 points whose members are unusable end
// in round robin (with a load bound, which nginx lacks, the walk goes on
// up to HASH_WALK_STEPS points and then the members are scanned).
//
// On change: add, remove and weight changes rebuild the ring (O(P log P)
// for P points), admin state changes only the round-robin schedule; drained, down or failed members keep their points and are
// walked past, so their keys return when they do.  Slow start does not
// apply to hash methods (their keys would otherwise move).
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "algo/hash_common.h"
#include "algo/methods.h"

namespace lbk {
namespace {

constexpr uint32_t POINTS_PER_WEIGHT = 160;

struct RingPoint {
  uint32_t hash;
  uint32_t pos;  // tier position
};

// Lookup acceleration.  The hash space is cut into 2^bits buckets (bits
// grows with the ring, 8..20).  For a bucket that holds no point, every key
// in it maps to the same point (the first one after the bucket): its entry
// stores that point's member directly, flagged with DIRECT, and a lookup is
// one table read.  Otherwise the entry is the index of the bucket's first
// point, and the lookup steps forward over the (few) points of the bucket.
constexpr uint32_t DIRECT = 0x80000000u;

struct Ring : HashState {
  std::vector<RingPoint> points;
  std::vector<uint32_t> table;
  int shift = 32;  // 32 - bits

  // The first point with hash >= h, wrapping to 0.  *direct_pos is set to
  // the member position when a DIRECT entry answered (and the point index
  // is then left to full_lower_bound(), needed only to walk on).
  size_t lookup(uint32_t h, uint32_t *direct_pos) const {
    uint32_t entry = table[h >> shift];
    if (entry & DIRECT) {
      *direct_pos = entry & ~DIRECT;
      return SIZE_MAX;
    }
    size_t at = entry;
    while (at < points.size() && points[at].hash < h) ++at;
    return at == points.size() ? 0 : at;
  }

  size_t full_lower_bound(uint32_t h) const {
    size_t at = static_cast<size_t>(
        std::lower_bound(points.begin(), points.end(), h,
                         [](const RingPoint &p, uint32_t v) { return p.hash < v; }) -
        points.begin());
    return at == points.size() ? 0 : at;
  }
};

uLong crc_update(uLong crc, const void *data, size_t len) {
  return crc32(crc, static_cast<const Bytef *>(data), static_cast<uInt>(len));
}

uLong base_hash(const std::string &name) {
  const char *host = name.data();
  size_t host_len = name.size();
  const char *port = "";
  size_t port_len = 0;
  if (name.size() >= 5 && strncasecmp(name.data(), "unix:", 5) == 0) {
    host += 5;
    host_len -= 5;
  } else {
    size_t digits = 0;
    while (digits < name.size() && name[name.size() - 1 - digits] >= '0' &&
           name[name.size() - 1 - digits] <= '9')
      ++digits;
    if (digits < name.size() && name[name.size() - 1 - digits] == ':') {
      host_len = name.size() - digits - 1;
      port = name.data() + name.size() - digits;
      port_len = digits;
    }
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc_update(crc, host, host_len);
  crc = crc_update(crc, "", 1);
  return crc_update(crc, port, port_len);
}

std::unique_ptr<AlgoState> build(const Tier &tier, const PoolParams &params) {
  std::vector<RingPoint> points;
  points.reserve(tier.total_weight * POINTS_PER_WEIGHT);
  for (uint32_t pos = 0; pos < tier.ids.size(); ++pos) {
    uLong base = base_hash(tier.names[pos]);
    uint32_t prev = 0;
    uint64_t npoints = uint64_t{tier.weights[pos]} * POINTS_PER_WEIGHT;
    for (uint64_t j = 0; j < npoints; ++j) {
      unsigned char prev_bytes[4] = {
          static_cast<unsigned char>(prev), static_cast<unsigned char>(prev >> 8),
          static_cast<unsigned char>(prev >> 16),
          static_cast<unsigned char>(prev >> 24)};
      uint32_t hash = static_cast<uint32_t>(crc_update(base, prev_bytes, 4));
      points.push_back({hash, pos});
      prev = hash;
    }
  }
  std::stable_sort(points.begin(), points.end(),
                   [](const RingPoint &x, const RingPoint &y) {
                     return x.hash < y.hash;
                   });
  points.erase(std::unique(points.begin(), points.end(),
                           [](const RingPoint &x, const RingPoint &y) {
                             return x.hash == y.hash;
                           }),
               points.end());
  auto ring = std::make_unique<Ring>();
  ring->round_robin = round_robin_build(tier, params);
  ring->points = std::move(points);
  const auto &sorted = ring->points;
  // About 4 buckets per point, at most 2^20 buckets (4 MB, reached at
  // 262144 points, i.e. about 1640 weight units).
  int bits = 8;
  while (bits < 20 && (size_t{1} << bits) < 4 * sorted.size()) ++bits;
  ring->shift = 32 - bits;
  size_t buckets = size_t{1} << bits;
  ring->table.assign(buckets, 0);
  size_t at = 0;
  for (size_t b = 0; b < buckets; ++b) {
    size_t start = at;
    while (at < sorted.size() && (sorted[at].hash >> ring->shift) == b) ++at;
    if (start == at)  // empty: the first point after it (wrapping) answers
      ring->table[b] = DIRECT | sorted[at == sorted.size() ? 0 : at].pos;
    else
      ring->table[b] = static_cast<uint32_t>(start);
  }
  return ring;
}

uint32_t pick(PickContext &ctx, const Tier &tier) {
  const Ring &ring = *static_cast<const Ring *>(tier.state.get());
  const auto &points = ring.points;
  if (ctx.key_len() == 0) return hash_round_robin(ctx, tier);
  uint32_t key_hash = lbk_crc32(ctx.key(), ctx.key_len());
  LoadBound bound(ctx, tier);
  uint32_t direct_pos = 0;
  size_t step = 0;
  size_t at = ring.lookup(key_hash, &direct_pos);
  if (at == SIZE_MAX) {
    if (bound.allows(ctx, tier, direct_pos) && ctx.usable(tier.ids[direct_pos]))
      return tier.ids[direct_pos];
    at = ring.full_lower_bound(key_hash) + 1;  // walk on past the point
    step = 1;
  }
  for (size_t steps = hash_walk_steps(bound); step < steps; ++step, ++at) {
    if (at >= points.size()) at = 0;
    uint32_t pos = points[at].pos;
    if (bound.allows(ctx, tier, pos) && ctx.usable(tier.ids[pos]))
      return tier.ids[pos];
  }
  return hash_walk_failed(ctx, tier, points[at % points.size()].pos, bound);
}

}  // namespace

extern const AlgoOps ketama_ops = {.name = "ketama", .needs_key = true,
                                   .build_reads_admin_state = true, .build = build, .pick = pick};

}  // namespace lbk
