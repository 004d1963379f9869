// libFuzzer target: `lbctl forward --annotate` on arbitrary reply bodies
// (any nesting: run with a large -max_len).  The output is valid UTF-8; an
// annotated reply is a JSON object with the two members added.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "annotate.h"
#include "lbkit.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // The first bytes up to a NUL are the node's version text, the rest the body.
  const std::string input(reinterpret_cast<const char *>(data), size);
  const size_t nul = input.find('\0');
  const std::string version = nul == std::string::npos ? "" : input.substr(0, nul);
  const std::string body = nul == std::string::npos ? input : input.substr(nul + 1);
  lbctl::Annotated result;
  std::string why;
  const std::string out =
      lbctl::annotate_reply(body, "http://127.0.0.1:1/", version, result, why);
  if (result != lbctl::Annotated::kYes) {
    if (out != body || why.empty()) __builtin_trap();
    return 0;
  }
  if (!lbk_utf8_valid(out.data(), out.size())) __builtin_trap();
  const nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  if (!j.is_object() || !j.contains("__server__") || !j.contains("__version__")) __builtin_trap();
  return 0;
}
