// libFuzzer target: the canary's state file reader (lbctl --state FILE).
// Whatever parses must write back valid UTF-8 that parses to the same nodes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "lbkit.h"
#include "state_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  lbctl::State state;
  std::string error;
  if (!lbctl::state_from_json(text, state, error)) {
    if (error.empty()) __builtin_trap();  // a refusal says why
    return 0;
  }
  const std::string out = lbctl::state_to_json(state);
  if (!lbk_utf8_valid(out.data(), out.size())) __builtin_trap();
  lbctl::State again;
  if (!lbctl::state_from_json(out, again, error)) __builtin_trap();
  if (again.pools.size() != state.pools.size()) __builtin_trap();
  for (size_t i = 0; i < state.pools.size(); ++i) {
    if (again.pools[i].nodes.size() != state.pools[i].nodes.size()) __builtin_trap();
    for (size_t k = 0; k < state.pools[i].nodes.size(); ++k) {
      const lbctl::NodeState &a = state.pools[i].nodes[k], &b = again.pools[i].nodes[k];
      if (a.name != b.name || a.url != b.url || a.reason != b.reason || a.version != b.version)
        __builtin_trap();
    }
  }
  return 0;
}
