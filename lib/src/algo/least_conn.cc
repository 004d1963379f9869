// least_conn.cc - fewest active requests per weight (nginx least_conn).
//
// The order: peer a goes before peer b when active_a / weight_a is lower
// (cross-multiplied, no division); among equals, when its pass is lower;
// then by id.  The pass is stride scheduling's virtual finish time: a
// winner's pass grows by 2^32 / weight and V (the pool's virtual time)
// becomes the pass it had; a peer entering the tree starts at V + 2^32 /
// weight.  Peers that tie take turns in proportion to their weights, as in
// nginx's weighted round robin among equals ({a: 1, b: 2} give b a b b a
// b), and a peer that comes back gets no burst.
//
// Structure: one tournament tree in the pool's shared block, after the
// peer slots (pool_layout.h).  Leaf i stands for peer id i; every node
// holds the id of the first peer of its subtree (backups order after every
// primary), and each peer's rank (its key and pass, as last ordered) sits
// in an array of its own: at 1,024 peers the nodes take 8 KiB and the
// ranks 16 KiB, so a pick's climb stays in the first-level cache.  A
// pick reads the root: O(1) when the best peer is usable; a peer unusable
// at pick time (tried, full, failed window, ejected) is passed over with a
// best-first search that pushes the siblings along its path, O(log n) per
// peer passed over, at most MAX_PASSED_OVER before a linear scan of the
// tier decides (backups are picked by that scan when primaries stand in
// the tree but none is usable).  After a pick the winner's leaf counts its
// new request at once; a release updates its leaf: O(log n).
//
// Across processes: one short spin lock per pick and per release (nginx's
// least_conn takes the zone's lock per pick too).  A leaf stores the active
// count it was ordered with; every change of a peer's active count is
// followed by least_conn_active_changed(), which stores the live count, so
// the tree converges to the counts whatever the interleaving.  Eligibility
// (in use, admin state up, no agent drain/maint, weight above 0, health not
// down, the tier) changes only with the pool's generation or health epoch:
// the tree is rebuilt, O(n), by the first pick or release that sees them
// move, so peers added, removed, re-weighted or changing state at run time
// are ordered correctly from then on.  In panic mode (health ignored) the
// pick is the linear scan.
#include <algorithm>
#include <cstring>
#include <new>

#include "algo/methods.h"

namespace lbk {
namespace {

constexpr uint32_t NONE = UINT32_MAX;
constexpr uint32_t SCAN = UINT32_MAX - 1;  // search(): let the scan decide
constexpr uint64_t STRIDE = uint64_t{1} << 32;  // pass step of weight 1
constexpr uint64_t BACKUP_BIT = uint64_t{1} << 63;
constexpr uint64_t EMPTY_KEY = UINT64_MAX;  // above every peer's key
constexpr uint32_t ACTIVE_CAP = (uint32_t{1} << 31) - 1;
constexpr int MAX_PASSED_OVER = 32;
constexpr int MAX_DEPTH = 18;  // log2 of the leaves for LBK_PEERS_MAX

struct alignas(64) Area {
  std::atomic<uint32_t> lock;
  uint32_t leaves;  // a power of two >= max_peers
  uint64_t generation;    // the pool's generation the tree was built at
  uint64_t health_epoch;  // and health epoch
  uint64_t virtual_time;
  std::atomic<uint32_t> built;  // 0: never
};

// A peer's counts as the tree knows them.
struct Leaf {
  std::atomic<uint32_t> active;  // the count the tree orders by
  uint32_t weight;               // effective weight; 0: not in the tree
};

// A peer's place in the order.  key is (backup << 63) |
// floor(min(active, 2^31 - 1) * 2^32 / weight): distinct fractions
// active / weight with weights up to 65535 differ by more than 2^-32, so
// the floor keeps their order and their ties exactly.  Rank max_peers is
// the empty subtree's (EMPTY_KEY); a node holds that index for "none".
struct Rank {
  uint64_t key;
  uint64_t pass;
};

static_assert(sizeof(Area) % 64 == 0 && sizeof(Leaf) == 8 &&
                  sizeof(Rank) == 16 && LBK_WEIGHT_MAX <= 65535,
              "area layout");

// The area: [Area][Leaf x max_peers][Rank x max_peers + 1][node id x 2
// leaves] (node 1 is the root, leaf i is node leaves + i).
struct View {
  Area *area;
  Leaf *leaf;
  Rank *rank;
  uint32_t *node;
  uint32_t max_peers;  // also the empty subtree's id in node[]
};

uint32_t leaves_for(uint32_t max_peers) {
  uint32_t n = 1;
  while (n < max_peers) n <<= 1;
  return n;
}

size_t round_up64(size_t b) { return (b + 63) / 64 * 64; }

size_t leaf_bytes(uint32_t max_peers) { return round_up64(sizeof(Leaf) * size_t{max_peers}); }

size_t rank_bytes(uint32_t max_peers) {
  return round_up64(sizeof(Rank) * (size_t{max_peers} + 1));
}

View view_of(const lbk_pool *pool) {
  View v;
  v.max_peers = pool->header->max_peers;
  v.area = reinterpret_cast<Area *>(pool->slots + v.max_peers);
  v.leaf = reinterpret_cast<Leaf *>(v.area + 1);
  v.rank = reinterpret_cast<Rank *>(reinterpret_cast<char *>(v.leaf) +
                                    leaf_bytes(v.max_peers));
  v.node = reinterpret_cast<uint32_t *>(reinterpret_cast<char *>(v.rank) +
                                        rank_bytes(v.max_peers));
  return v;
}

bool passes_before(uint64_t a, uint64_t b) {
  return static_cast<int64_t>(a - b) < 0;  // wraps after 2^63
}

// Does the peer ranked @p a (id @p ia) go before the one ranked @p b?
// Without branches: the outcome is data dependent, a mispredicted branch
// per tree level would cost more than the comparison.
bool before(const Rank &a, uint32_t ia, const Rank &b, uint32_t ib) {
  int64_t pass = static_cast<int64_t>(a.pass - b.pass);
  return (a.key < b.key) |
         ((a.key == b.key) & ((pass < 0) | ((pass == 0) & (ia < ib))));
}

bool before(const View &v, uint32_t a, uint32_t b) {
  return before(v.rank[a], a, v.rank[b], b);
}

// The index of the first of nodes 2i and 2i + 1.
size_t first_child(const View &v, size_t i) {
  return 2 * i + static_cast<size_t>(before(v, v.node[2 * i + 1], v.node[2 * i]));
}

// Stores peer @p id's rank from its leaf; returns what its tree leaf holds
// (the id, or the empty subtree's when it is out of the tree).
uint32_t rank_leaf(const View &v, uint32_t id, bool backup) {
  const Leaf &l = v.leaf[id];
  if (l.weight == 0) return v.max_peers;
  uint64_t active = std::min(l.active.load(std::memory_order_relaxed), ACTIVE_CAP);
  v.rank[id].key = (backup ? BACKUP_BIT : 0) | ((active << 32) / l.weight);
  return id;
}

// Re-orders the path above leaf @p id after its rank changed.
void sift(const View &v, uint32_t id, bool backup) {
  uint32_t *node = v.node;
  size_t i = size_t{v.area->leaves} + id;
  // The first of the subtree climbed so far and its rank stay in
  // registers: a level reads only the sibling and its rank.
  uint32_t first = rank_leaf(v, id, backup);
  Rank r = v.rank[first];
  node[i] = first;
  for (; i > 1; i >>= 1) {
    uint32_t sibling = node[i ^ 1];
    const Rank &sr = v.rank[sibling];
    uint32_t old = node[i >> 1];
    if (before(sr, sibling, r, first)) {
      first = sibling;
      r = sr;
    }
    node[i >> 1] = first;
    // neither the subtree's first nor its key changed: nothing above does
    if (first == old && old != id) break;
  }
}

bool eligible(const PeerSlot &s) {
  return s.in_use.load(std::memory_order_acquire) && !admin_excluded(s) &&
         s.health.load(std::memory_order_relaxed) != LBK_HEALTH_DOWN;
}

// Rebuilds the tree from the slots when the pool's generation or health
// epoch moved since the last build.  Caller holds the lock.
void refresh(lbk_pool *pool, const View &v) {
  const PoolHeader &h = *pool->header;
  uint64_t gen = h.generation.load(std::memory_order_acquire);
  uint64_t epoch = h.health_epoch.load(std::memory_order_acquire);
  Area &a = *v.area;
  if (a.built.load(std::memory_order_relaxed) && a.generation == gen &&
      a.health_epoch == epoch)
    return;
  size_t leaves = a.leaves;
  std::fill(v.node + leaves, v.node + 2 * leaves, v.max_peers);
  v.rank[v.max_peers] = {EMPTY_KEY, 0};
  for (uint32_t id = 0; id < v.max_peers; ++id) {
    const PeerSlot &s = pool->slots[id];
    Leaf &l = v.leaf[id];
    uint32_t was = l.weight;
    l.weight = 0;
    if (!eligible(s)) continue;
    l.weight = s.effective_weight.load(std::memory_order_relaxed);
    l.active.store(s.active.load(std::memory_order_relaxed),
                   std::memory_order_relaxed);
    Rank &r = v.rank[id];
    if (was == 0 || !passes_before(a.virtual_time, r.pass))
      r.pass = a.virtual_time + STRIDE / l.weight;
    v.node[leaves + id] = rank_leaf(v, id, s.backup != 0);
  }
  for (size_t i = leaves - 1; i != 0; --i) v.node[i] = v.node[first_child(v, i)];
  a.generation = gen;
  a.health_epoch = epoch;
  a.built.store(1, std::memory_order_release);
}

struct Locked {
  explicit Locked(const View &v) : word(v.area->lock) { lock_word(word); }
  ~Locked() { unlock_word(word); }
  std::atomic<uint32_t> &word;
};

// The first usable peer of tier @p backup in the order, NONE if it has
// none in the tree, or SCAN when more than MAX_PASSED_OVER peers had to be
// passed over.
uint32_t search(PickContext &ctx, const View &v, bool backup) {
  const uint32_t *node = v.node;
  // The common case: the first peer of all is usable.
  uint32_t top = node[1];
  if (top == v.max_peers) return NONE;
  if (((v.rank[top].key & BACKUP_BIT) != 0) == backup && ctx.usable(top)) return top;
  // A binary min-heap of subtrees, ordered by their first peer.
  uint32_t heap[MAX_PASSED_OVER * MAX_DEPTH + 1];
  size_t n = 0;
  auto less = [&](size_t x, size_t y) { return before(v, node[heap[x]], node[heap[y]]); };
  auto push = [&](uint32_t sub) {
    size_t i = n++;
    heap[i] = sub;
    for (; i > 0 && less(i, (i - 1) / 2); i = (i - 1) / 2)
      std::swap(heap[i], heap[(i - 1) / 2]);
  };
  auto pop = [&]() {
    uint32_t first = heap[0];
    heap[0] = heap[--n];
    for (size_t i = 0;;) {
      size_t l = 2 * i + 1, r = l + 1, m = i;
      if (l < n && less(l, m)) m = l;
      if (r < n && less(r, m)) m = r;
      if (m == i) break;
      std::swap(heap[i], heap[m]);
      i = m;
    }
    return first;
  };
  push(1);
  for (int passed = 0; n > 0; ++passed) {
    uint32_t sub = pop();
    uint32_t first = node[sub];
    if (first == v.max_peers) return NONE;
    bool is_backup = (v.rank[first].key & BACKUP_BIT) != 0;
    if (is_backup && !backup) return NONE;  // every primary passed over
    // (the root was tried above)
    if (sub != 1 && is_backup == backup && ctx.usable(first)) return first;
    if (passed == MAX_PASSED_OVER) return SCAN;
    // the subtree without that peer: the siblings along the path to it
    for (size_t i = size_t{v.area->leaves} + first; i > sub; i >>= 1)
      if (node[i ^ 1] != v.max_peers) push(static_cast<uint32_t>(i ^ 1));
  }
  return NONE;
}

// The exact O(n) scan: first in the order among the usable members of the
// tier, starting at a position taken from the shared round-robin counter.
uint32_t scan(PickContext &ctx, const Tier &tier) {
  size_t n = tier.ids.size();
  size_t start = static_cast<size_t>(
      ctx.pool()->header->rr_counter.fetch_add(1, std::memory_order_relaxed) % n);
  uint32_t best = LBK_PEER_NONE;
  uint64_t best_active = 0, best_weight = 1;
  for (size_t i = 0; i < n; ++i) {
    size_t pos = start + i;
    if (pos >= n) pos -= n;
    uint32_t id = tier.ids[pos];
    uint64_t active = ctx.slot(id).active.load(std::memory_order_relaxed);
    uint64_t weight = tier.weights[pos];
    if ((best == LBK_PEER_NONE || active * best_weight < best_active * weight) &&
        ctx.usable(id)) {
      best = id;
      best_active = active;
      best_weight = weight;
    }
  }
  return best;
}

uint32_t pick(PickContext &ctx, const Tier &tier) {
  if (ctx.panic()) return scan(ctx, tier);
  lbk_pool *pool = ctx.pool();
  View v = view_of(pool);
  bool backup = ctx.slot(tier.ids[0]).backup != 0;
  uint32_t id;
  {
    Locked lock(v);
    refresh(pool, v);
    id = search(ctx, v, backup);
    if (id != NONE && id != SCAN) {
      // The winner counts the request the pool is about to admit, and
      // takes its stride.
      Leaf &l = v.leaf[id];
      Rank &r = v.rank[id];
      l.active.store(ctx.slot(id).active.load(std::memory_order_relaxed) + 1,
                     std::memory_order_relaxed);
      if (passes_before(v.area->virtual_time, r.pass))
        v.area->virtual_time = r.pass;
      r.pass += STRIDE / l.weight;
      sift(v, id, backup);
    }
  }
  if (id == SCAN) return scan(ctx, tier);
  return id == NONE ? LBK_PEER_NONE : id;
}

}  // namespace

size_t least_conn_area_size(uint32_t max_peers) {
  return sizeof(Area) + leaf_bytes(max_peers) + rank_bytes(max_peers) +
         round_up64(2 * sizeof(uint32_t) * size_t{leaves_for(max_peers)});
}

void least_conn_area_format(void *area, uint32_t max_peers) {
  Area *a = new (area) Area();
  a->leaves = leaves_for(max_peers);
  Leaf *leaf = reinterpret_cast<Leaf *>(a + 1);
  for (uint32_t i = 0; i < max_peers; ++i) new (&leaf[i]) Leaf();
  Rank *rank = reinterpret_cast<Rank *>(reinterpret_cast<char *>(leaf) + leaf_bytes(max_peers));
  for (uint32_t i = 0; i <= max_peers; ++i) rank[i] = {EMPTY_KEY, 0};
}

void least_conn_active_changed(lbk_pool *pool, uint32_t id) {
  View v = view_of(pool);
  const PeerSlot &s = pool->slots[id];
  // Nothing to do when the leaf already holds the live count (a pick
  // stores its winner's new count itself); any later change calls again.
  if (v.area->built.load(std::memory_order_acquire) &&
      v.leaf[id].active.load(std::memory_order_relaxed) ==
          s.active.load(std::memory_order_relaxed))
    return;
  Locked lock(v);
  refresh(pool, v);
  Leaf &l = v.leaf[id];
  l.active.store(s.active.load(std::memory_order_relaxed),
                 std::memory_order_relaxed);
  if (l.weight != 0) sift(v, id, s.backup != 0);
}

extern const AlgoOps least_conn_ops = {.name = "least_conn", .build = build_members_only,
                                       .pick = pick, .active_changed = least_conn_active_changed};

}  // namespace lbk
