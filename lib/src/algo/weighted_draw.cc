// weighted_draw.cc - the alias table (Vose 1991) and usable weighted draws.
#include "algo/weighted_draw.h"

namespace lbk {

AliasTable::AliasTable(const std::vector<uint32_t> &weights)
    : prob_(weights.size(), 0), alias_(weights.size(), 0) {
  size_t n = weights.size();
  if (n == 0) return;
  uint64_t total = 0;
  for (uint32_t w : weights) total += w;
  // Scaled weights: w * n / total, in units of 2^32.
  std::vector<unsigned __int128> scaled(n);
  const unsigned __int128 one = static_cast<unsigned __int128>(1) << 32;
  std::vector<size_t> small, large;
  for (size_t i = 0; i < n; ++i) {
    scaled[i] = static_cast<unsigned __int128>(weights[i]) * n * one / total;
    (scaled[i] < one ? small : large).push_back(i);
  }
  while (!small.empty() && !large.empty()) {
    size_t s = small.back(), l = large.back();
    small.pop_back();
    prob_[s] = static_cast<uint32_t>(scaled[s]);
    alias_[s] = static_cast<uint32_t>(l);
    scaled[l] -= one - scaled[s];
    if (scaled[l] < one) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // Leftovers (rounding) keep their own column.
  for (size_t i : large) { prob_[i] = UINT32_MAX; alias_[i] = static_cast<uint32_t>(i); }
  for (size_t i : small) { prob_[i] = UINT32_MAX; alias_[i] = static_cast<uint32_t>(i); }
}

uint32_t AliasTable::draw(uint64_t random_bits) const {
  size_t column = static_cast<size_t>(
      random_below(random_bits & 0xffffffff00000000ULL, prob_.size()));
  uint32_t coin = static_cast<uint32_t>(random_bits);
  return coin < prob_[column] ? static_cast<uint32_t>(column) : alias_[column];
}

std::unique_ptr<AlgoState> build_alias_state(const Tier &tier,
                                             const PoolParams &) {
  return std::make_unique<AliasState>(tier);
}

namespace {

bool already_drawn(uint32_t id, const uint32_t *drawn, size_t n_drawn) {
  for (size_t i = 0; i < n_drawn; ++i)
    if (drawn[i] == id) return true;
  return false;
}

}  // namespace

uint32_t draw_usable_distinct(PickContext &ctx, const Tier &tier,
                              const uint32_t *drawn, size_t n_drawn) {
  const AliasTable &table = static_cast<const AliasState *>(tier.state.get())->table;
  uint64_t bits = 0;
  for (int attempt = 0; attempt < MAX_DRAW_ATTEMPTS; ++attempt) {
    bits = ctx.random();
    uint32_t id = tier.ids[table.draw(bits)];
    if (!already_drawn(id, drawn, n_drawn) && ctx.usable(id)) return id;
  }
  return scan_tier(ctx, tier, static_cast<size_t>(random_below(bits, tier.ids.size())),
                   drawn, n_drawn);
}

}  // namespace lbk
