// pool_lock.cc - the spin lock that lives in shared memory (lock_word),
// used for PoolHeader::config_lock, PeerSlot::state_lock and least_conn's
// tree lock, and the process id it records.
//
// Owns: the lock protocol.  A lock word is 0 when free, else the holder's
// pid; a waiter that has spun LOCK_STEAL_AFTER_SPINS times takes the lock
// over from a holder that no longer exists (kill(pid, 0) fails with ESRCH),
// so a crashed nginx worker cannot wedge the others.
// Locks: takes none itself; which lock comes before which is the callers'
// rule (pool_internal.h).
#include "pool_internal.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>

namespace lbk {
namespace {

constexpr uint64_t LOCK_STEAL_AFTER_SPINS = 2000000;

}  // namespace

// This process's id, read from the kernel once per process (getpid() is a
// system call; a forked child forgets its parent's).
uint32_t current_pid() {
  static std::atomic<uint32_t> cached{0};
  static const int forget_on_fork =
      pthread_atfork(nullptr, nullptr, [] { cached.store(0); });
  (void)forget_on_fork;
  uint32_t pid = cached.load(std::memory_order_relaxed);
  if (pid == 0) {
    pid = static_cast<uint32_t>(getpid());
    cached.store(pid, std::memory_order_relaxed);
  }
  return pid;
}

// A spin lock living in shared memory.  The holder stores its pid; a
// waiter that spun for long steals the lock from a holder that no longer
// exists (a crashed nginx worker must not wedge the others).
void lock_word(std::atomic<uint32_t> &word) {
  const uint32_t self = current_pid();
  for (uint64_t spins = 0;; ++spins) {
    uint32_t expected = 0;
    if (word.compare_exchange_weak(expected, self, std::memory_order_acquire))
      return;
    if (spins >= LOCK_STEAL_AFTER_SPINS && expected != 0 &&
        kill(static_cast<pid_t>(expected), 0) != 0 && errno == ESRCH) {
      if (word.compare_exchange_strong(expected, self,
                                       std::memory_order_acquire))
        return;
    }
    if ((spins & 63) == 63) sched_yield();
  }
}

void unlock_word(std::atomic<uint32_t> &word) {
  word.store(0, std::memory_order_release);
}

}  // namespace lbk
