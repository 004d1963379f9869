// cli/exit_codes.h - lbctl's exit codes, the same for every subcommand
// (lbctl(1), EXIT STATUS).
#pragma once

#include <cstddef>

namespace lbctl {

struct State;

enum ExitCode {
  kExitOk = 0,              // success / all healthy
  kExitSomeUnhealthy = 1,   // some nodes unhealthy
  kExitUsage = 2,           // usage or configuration error
  kExitNoneHealthy = 3,     // none healthy (or nothing usable)
  kExitRuntime = 4,         // runtime failure (I/O, peer, a library that cannot be loaded)
  kExitReplyError = 22,     // forward --fail: an HTTP or JSON-RPC error reply (as curl's --fail)
};

// Exit code for @p healthy of @p total nodes: 0 all, 1 some, 3 none (or no nodes).
int health_exit_code(size_t healthy, size_t total);
// The same over the nodes of @p state that are not disabled.
int state_exit_code(const State &state);

}  // namespace lbctl
