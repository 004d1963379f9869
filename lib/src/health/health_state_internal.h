// health_state_internal.h - the layout behind the opaque lbk_health_state.
#pragma once

#include <cstdint>

#include "lbkit.h"

namespace lbk {
namespace health {

// Flat and pointer-free (it may live in shared memory); fits the 64 bytes of
// lbk_health_state.  All-zero (magic 0) means "never initialised": readers
// then report LBK_HEALTH_UNKNOWN and the first report initialises it.
struct HealthStateData {
  uint32_t magic;
  uint32_t counter;    // 0 .. rise + fall - 1; up while >= rise
  int32_t health;      // enum lbk_health
  uint32_t successes;  // consecutive
  uint32_t failures;   // consecutive
  uint32_t rise;       // the rise/fall the counter was built with
  uint32_t fall;
  uint32_t reserved;
  uint64_t last_change_us;  // time of the last health change (or init)
  uint64_t last_check_us;   // time of the last report, 0 = never
  uint64_t checks;          // reports so far
};

static_assert(sizeof(HealthStateData) <= sizeof(lbk_health_state),
              "HealthStateData must fit lbk_health_state");

void state_init(HealthStateData *d, const lbk_check &c, uint64_t now_us);

}  // namespace health
}  // namespace lbk
