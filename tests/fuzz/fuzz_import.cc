// libFuzzer target: lbctl's foreign-config readers and runtime API parser
// (haproxy.cfg, nginx.conf, `show servers state`) on arbitrary bytes.  The
// readers live in lbctl, not in liblbkit, so their sources are compiled
// into this target (with the fuzzer's coverage instrumentation).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../../cli/haproxy_runtime.cc"
#include "../../cli/import_common.cc"
#include "../../cli/import_haproxy.cc"
#include "../../cli/import_nginx.cc"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  lbctl::detect_import_format(text);
  const lbctl::ImportResult h = lbctl::import_haproxy("fuzz.cfg", text);
  const lbctl::ImportResult n = lbctl::import_nginx("fuzz.conf", text);
  for (const lbctl::ImportResult *r : {&h, &n})
    for (const lbctl::ImportNote &note : r->notes) (void)note.text();
  std::vector<lbctl::ServerRuntimeState> servers;
  std::string error;
  lbctl::parse_servers_state(text, servers, error);
  return 0;
}
