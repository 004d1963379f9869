// cli/exit_codes.cc - the exit code of a health verdict (exit_codes.h).
#include "exit_codes.h"

#include "state_file.h"

namespace lbctl {

int health_exit_code(size_t healthy, size_t total) {
  if (total == 0 || healthy == 0) return kExitNoneHealthy;
  return healthy == total ? kExitOk : kExitSomeUnhealthy;
}

int state_exit_code(const State &state) {
  size_t healthy = 0, total = 0;
  for (const PoolState &p : state.pools)
    for (const NodeState &n : p.nodes)
      if (!n.disabled) {
        ++total;
        healthy += n.healthy;
      }
  return health_exit_code(healthy, total);
}

}  // namespace lbctl
