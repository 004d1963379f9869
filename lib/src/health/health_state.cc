// health_state.cc - lbk_health_*: HAProxy's rise/fall health counter.
//
// The counter runs from 0 to top = rise + fall - 1 and the peer is up while
// counter >= rise.  A success increments it, and on reaching rise it jumps to
// top (fully up); a failure decrements it, and on falling below rise it drops
// to 0 (fully down).  So a fully up peer goes down after `fall` consecutive
// failures and a fully down one comes up after `rise` consecutive successes,
// while a single opposite verdict during a transition sends the counter back
// to the extreme it came from.
//
// The state is a flat, pointer-free block (lbk_health_state) so that it can
// live in a shared-memory pool; it is not synchronised here: the caller (the
// pool) serialises reports for one peer.
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "api.h"
#include "error_internal.h"
#include "health/check_internal.h"
#include "health/health_state_internal.h"
#include "proto/utf8.h"

namespace lbk {
namespace health {
namespace {

constexpr uint32_t kStateMagic = 0x6c626b48u;  // "lbkH"

// The opaque block is copied in and out (never type-punned in place), so
// its alignment and aliasing are of no concern.
HealthStateData load(const lbk_health_state *st) {
  HealthStateData d;
  std::memcpy(&d, st->opaque, sizeof d);
  return d;
}
void store(lbk_health_state *st, const HealthStateData &d) {
  std::memcpy(st->opaque, &d, sizeof d);
}

uint32_t top_of(const lbk_check &c) { return c.rise + c.fall - 1; }

// A driver-side failure: the reason is a predicate phrase ("timed out after
// 1000ms") that reads best without a colon after the check's name.
bool is_driver_failure(int outcome) {
  return outcome == LBK_CHECK_FAIL_CONNECT || outcome == LBK_CHECK_FAIL_TIMEOUT ||
         outcome == LBK_CHECK_FAIL_TLS || outcome == LBK_CHECK_FAIL_DNS;
}

// HAProxy's "x/y" progress: while up, how many failures are left before it
// goes down (out of fall); while down, how many successes it has (of rise).
void progress(const HealthStateData &d, const lbk_check &c, uint32_t *num,
              uint32_t *den) {
  if (d.counter >= c.rise) {
    *num = d.counter - c.rise + 1;
    *den = c.fall;
  } else {
    *num = d.counter;
    *den = c.rise;
  }
}

}  // namespace

void state_init(HealthStateData *d, const lbk_check &c, uint64_t now_us) {
  std::memset(d, 0, sizeof *d);
  d->magic = kStateMagic;
  d->rise = c.rise;
  d->fall = c.fall;
  d->health = c.initial_health;
  // UP and UNKNOWN start at rise: usable at once, and one failure takes a
  // dead peer out (HAProxy's start state).  DOWN starts at 0: `rise`
  // successes are needed first.
  d->counter = c.initial_health == LBK_HEALTH_DOWN ? 0 : c.rise;
  d->last_change_us = now_us;
}

// Adapts a state made for another rise/fall (the check was reconfigured) or
// never initialised, keeping its health.
void state_adapt(HealthStateData *d, const lbk_check &c, uint64_t now_us) {
  if (d->magic != kStateMagic) {
    state_init(d, c, now_us);
    return;
  }
  if (d->rise == c.rise && d->fall == c.fall) return;
  const bool up = d->health != LBK_HEALTH_DOWN;
  d->rise = c.rise;
  d->fall = c.fall;
  d->counter = up ? top_of(c) : 0;
}

int check_event_version(const lbk_health_event *out, const char *who) {
  if (out != nullptr && (out->version < 1 || out->version > LBK_HEALTH_EVENT_VERSION)) {
    return set_error(LBK_EINVAL, "%s: health event version %u is not 1..%d", who,
                     out->version, LBK_HEALTH_EVENT_VERSION);
  }
  return LBK_OK;
}

void store_event(lbk_health_event *out, const lbk_health_event &event) {
  if (out == nullptr) return;
  const unsigned int version = out->version;
  // a version 1 caller's struct ends where version 2's outcome begins
  std::memcpy(out, &event,
              version < 2 ? offsetof(lbk_health_event, outcome) : sizeof event);
  out->version = version;
}

}  // namespace health
}  // namespace lbk

using lbk::health::HealthStateData;

extern "C" {

LBK_EXTERN void lbk_health_init(lbk_health_state *st, const lbk_check *check,
                                uint64_t now_us) {
  if (st == nullptr) return;
  if (check == nullptr) {
    std::memset(st, 0, sizeof *st);
    return;
  }
  HealthStateData d;
  lbk::health::state_init(&d, *check, now_us);
  lbk::health::store(st, d);
}

LBK_EXTERN int lbk_health_report(lbk_health_event *out, lbk_health_state *st,
                                 const lbk_check *check,
                                 const lbk_check_result *result,
                                 uint64_t now_us) try {
  lbk::clear_error();
  if (st == nullptr || check == nullptr || result == nullptr) {
    return LBK_EINVAL;
  }
  if (int rc = lbk::health::check_event_version(out, "lbk_health_report")) return rc;
  HealthStateData d = lbk::health::load(st);
  lbk::health::state_adapt(&d, *check, now_us);
  const uint32_t top = lbk::health::top_of(*check);
  const int old_health = d.health;
  const bool passed = result->outcome == LBK_CHECK_PASS;

  if (passed) {
    if (d.successes < UINT32_MAX) d.successes++;
    d.failures = 0;
    if (check->kind == LBK_CHECK_AGENT && (result->agent_state == LBK_AGENT_UP ||
                                           result->agent_state == LBK_AGENT_READY)) {
      d.counter = top;  // an agent's explicit "up" is authoritative (HAProxy)
    } else if (d.counter < top) {
      d.counter++;
      if (d.counter >= check->rise) d.counter = top;
    }
  } else {
    if (d.failures < UINT32_MAX) d.failures++;
    d.successes = 0;
    if (result->outcome == LBK_CHECK_FAIL_AGENT) {
      d.counter = 0;  // an agent's "down"/"fail"/"stopped"/"maint" is final
    } else if (d.counter > 0) {
      d.counter--;
      if (d.counter < check->rise) d.counter = 0;
    }
  }
  d.health = d.counter >= check->rise ? LBK_HEALTH_UP : LBK_HEALTH_DOWN;
  d.checks++;
  d.last_check_us = now_us;
  if (d.health != old_health) d.last_change_us = now_us;
  lbk::health::store(st, d);

  if (out != nullptr) {
    lbk_health_event event;
    std::memset(&event, 0, sizeof event);
    event.version = LBK_HEALTH_EVENT_VERSION;
    event.changed = d.health != old_health;
    event.old_health = old_health;
    event.new_health = d.health;
    event.counter = d.counter;
    event.successes = d.successes;
    event.failures = d.failures;
    event.outcome = result->outcome;
    uint32_t num = 0, den = 0;
    lbk::health::progress(d, *check, &num, &den);
    try {
      // The result's reason is a fixed buffer that may lack its NUL.
      const std::string detail(result->reason,
                               strnlen(result->reason, sizeof result->reason));
      std::string text = lbk::health::check_label(*check);
      text += lbk::health::is_driver_failure(result->outcome) ? " " : ": ";
      std::string what = !detail.empty() ? detail : passed ? "passed" : "failed";
      const std::string progress =
          " (" + std::to_string(num) + "/" + std::to_string(den) + ")";
      // Shorten a long detail rather than lose the progress at the end.
      const size_t room = sizeof event.reason - 1 - text.size() - progress.size();
      if (what.size() > room) what = lbk::proto::utf8_excerpt(what, room);
      lbk::health::copy_reason(event.reason, text + what + progress);
    } catch (const std::bad_alloc &) {
      event.reason[0] = '\0';  // the transition itself is recorded above
    }
    lbk::health::store_event(out, event);
  }
  return LBK_OK;
} LBK_API_CATCH

LBK_EXTERN int lbk_health_get(const lbk_health_state *st) {
  if (st == nullptr) return LBK_HEALTH_UNKNOWN;
  const HealthStateData d = lbk::health::load(st);
  if (d.magic != lbk::health::kStateMagic) return LBK_HEALTH_UNKNOWN;
  return d.health;
}

LBK_EXTERN uint64_t lbk_health_next_delay(const lbk_health_state *st,
                                          const lbk_check *check,
                                          uint64_t random) {
  if (check == nullptr) return 0;
  uint32_t interval_ms = check->fastinter_ms;  // unchecked or transitioning
  if (st != nullptr) {
    const HealthStateData d = lbk::health::load(st);
    if (d.magic == lbk::health::kStateMagic && d.health != LBK_HEALTH_UNKNOWN &&
        d.rise == check->rise && d.fall == check->fall) {
      if (d.counter == 0) {
        interval_ms = check->downinter_ms;
      } else if (d.counter >= lbk::health::top_of(*check)) {
        interval_ms = check->inter_ms;
      }
    }
  }
  // Uniform in [base - spread, base + spread], spread = base * jitter / 100.
  const uint64_t base_us = uint64_t{interval_ms} * 1000;
  const uint64_t spread_us = base_us * check->jitter_pct / 100;
  if (spread_us == 0) return base_us;
  return base_us - spread_us + random % (2 * spread_us + 1);
}

}  // extern "C"
