// cli/exit_codes.h - lbctl's exit codes, the same for every subcommand
// (lbctl(1), EXIT STATUS).
#pragma once

namespace lbctl {

enum ExitCode {
  kExitOk = 0,              // success / all healthy
  kExitSomeUnhealthy = 1,   // some nodes unhealthy
  kExitUsage = 2,           // usage or configuration error
  kExitNoneHealthy = 3,     // none healthy (or nothing usable)
  kExitRuntime = 4,         // runtime failure (I/O, peer, a library that cannot be loaded)
  kExitReplyError = 22,     // forward --fail: an HTTP or JSON-RPC error reply (as curl's --fail)
};

}  // namespace lbctl
