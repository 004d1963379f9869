// pool_layout.h - the flat, pointer-free block behind every lbk_pool.
//
// The block is [PoolHeader][PeerSlot x max_peers], each part 64-byte
// aligned.  It holds no pointers, so several processes may map it at
// different addresses (nginx shared memory).  Everything that changes after
// a peer is added is a lock-free std::atomic; the static part of a slot
// (name, address, backup, max_fails, fail_timeout) is written under the
// block's configuration lock before `in_use` is published with release
// ordering.  POOL_LAYOUT_VERSION changes whenever this file changes shape;
// lbk_pool_place(ATTACH) refuses another version with LBK_ELAYOUT.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "lbkit.h"

namespace lbk {

constexpr uint64_t POOL_MAGIC = 0x6c626b6974706f6fULL;  // "lbkitpoo"
constexpr uint32_t POOL_LAYOUT_VERSION = 2;

static_assert(std::atomic<uint64_t>::is_always_lock_free,
              "shared pools need lock-free 64-bit atomics");
static_assert(std::atomic<uint32_t>::is_always_lock_free,
              "shared pools need lock-free 32-bit atomics");

// Agent-imposed administrative state (HAProxy agent-check words); kept apart
// from the operator's lbk_admin_state so either may lift only its own.
enum AgentAdmin : uint32_t { AGENT_ADMIN_NONE = 0, AGENT_ADMIN_DRAIN = 1,
                             AGENT_ADMIN_MAINT = 2 };

// Failure window packed in one word so a CAS updates it atomically:
// bits 63..20 = time of the last failure in milliseconds, 19..0 = failures.
constexpr uint64_t FAIL_COUNT_BITS = 20;
constexpr uint64_t FAIL_COUNT_MASK = (uint64_t{1} << FAIL_COUNT_BITS) - 1;

struct alignas(64) PoolHeader {
  // Written once by LBK_PLACE_INIT / lbk_pool_create, then read only.
  uint64_t magic;
  uint32_t layout_version;
  uint32_t max_peers;
  uint64_t block_size;
  uint32_t method;  // index into the method table (algo/methods.h)
  int32_t hash_kind;
  uint32_t balance_factor;
  uint32_t random_draws;
  uint64_t ewma_decay_us;
  uint32_t fastest_band_pct;
  uint32_t outlier_consecutive;
  uint64_t outlier_base_ejection_us;
  uint32_t outlier_max_ejection_pct;
  uint32_t panic_threshold_pct;
  uint64_t slow_start_us;

  // Configuration lock: 0 free, else the holder's pid (for diagnostics).
  alignas(64) std::atomic<uint32_t> config_lock;
  std::atomic<uint32_t> peer_count;
  std::atomic<uint32_t> id_limit;  // every used id is below this
  // Bumped by every configuration or administrative change.
  std::atomic<uint64_t> generation;
  // Bumped by changes that alter what per-process caches are built from
  // (add, remove, weight, weight %): rings, tables, schedules.
  std::atomic<uint64_t> topology_generation;
  // Bumped when a peer's health, ejection or failed window changes.
  std::atomic<uint64_t> health_epoch;
  // Bumped when a probe latency changes (method fastest).
  std::atomic<uint64_t> probe_epoch;

  alignas(64) std::atomic<uint64_t> rr_counter;  // shared pick sequence
  alignas(64) std::atomic<uint64_t> total_active;  // in flight: bounded load, peak_ewma
  // Pool-wide mean request latency (double bits); the cost of peers with
  // no latency history in peak_ewma.
  alignas(64) std::atomic<uint64_t> latency_mean_bits;
};

struct alignas(64) PeerSlot {
  // First cache line: everything a pick reads.
  std::atomic<uint32_t> in_use;
  std::atomic<uint32_t> admin_state;  // enum lbk_admin_state
  std::atomic<uint32_t> health;       // enum lbk_health (mirror of health_state)
  std::atomic<uint32_t> agent_admin;  // enum AgentAdmin
  std::atomic<uint32_t> max_conns;
  std::atomic<uint32_t> active;
  std::atomic<uint32_t> effective_weight;  // weight * weight_pct / 100
  uint32_t backup;
  uint32_t max_fails;
  uint32_t fail_timeout_ms;
  std::atomic<uint64_t> fail_word;         // see FAIL_COUNT_BITS
  std::atomic<uint64_t> ejected_until_us;  // 0 = not ejected
  std::atomic<uint64_t> ramp_start_us;     // slow start began; 0 = none

  // Statistics and latency.
  alignas(64) std::atomic<uint64_t> requests;
  std::atomic<uint64_t> successes;
  std::atomic<uint64_t> failures;
  std::atomic<uint32_t> consecutive_failures;
  std::atomic<uint32_t> ejections;
  std::atomic<uint32_t> weight;      // configured
  std::atomic<uint32_t> weight_pct;  // agent percentage, 100 = as configured
  std::atomic<uint64_t> ewma_bits;   // peak-EWMA latency in us (double bits)
  std::atomic<uint64_t> ewma_time_us;  // clock of the last EWMA update
  std::atomic<uint32_t> ewma_lock;     // try-lock around EWMA updates
  std::atomic<uint32_t> has_ewma;

  // Active-check results (written under state_lock).
  alignas(64) std::atomic<uint32_t> state_lock;
  std::atomic<uint32_t> last_check_ok;
  std::atomic<uint64_t> probe_latency_us;  // 0 = none yet
  std::atomic<uint64_t> checks;
  std::atomic<uint64_t> checks_failed;
  std::atomic<uint64_t> last_check_us;
  std::atomic<uint64_t> last_change_us;
  std::atomic<uint32_t> has_value;
  std::atomic<int64_t> value;
  std::atomic<int64_t> lag;

  alignas(64) lbk_health_state health_state;
  char name[LBK_NAME_MAX];
  char address[LBK_ADDRESS_MAX];
  char last_reason[LBK_REASON_MAX];

  // Traffic statistics (lbk_peer_info version 2), fed by releases.
  alignas(64) std::atomic<uint64_t> responses[5];  // 1xx..5xx
  std::atomic<uint64_t> responses_total;
  std::atomic<uint64_t> bytes_sent;
  std::atomic<uint64_t> bytes_received;
  std::atomic<uint64_t> header_time_sum_us;
  std::atomic<uint64_t> header_time_count;
  std::atomic<uint64_t> response_time_sum_us;
  std::atomic<uint64_t> response_time_count;
  std::atomic<uint64_t> last_selected_us;
  std::atomic<uint64_t> unavail;      // max_fails reached
  std::atomic<uint64_t> unhealthy;    // checks took it down
  std::atomic<uint64_t> downtime_us;  // closed down spells
  std::atomic<uint64_t> down_since_us;  // open spell's start; 0 = none
};

static_assert(sizeof(PoolHeader) % 64 == 0, "header keeps slots aligned");
static_assert(sizeof(PeerSlot) % 64 == 0, "slots are cache-line multiples");

}  // namespace lbk
