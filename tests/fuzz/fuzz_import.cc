// libFuzzer target: lbctl's foreign-config readers and runtime API parser
// (haproxy.cfg, nginx.conf, `show servers state`) on arbitrary bytes, from
// lbctl's library (lbctl_core, built with the fuzzer's instrumentation).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "haproxy/haproxy_runtime.h"
#include "import/import_common.h"
#include "import/import_haproxy.h"
#include "import/import_nginx.h"

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
