// cli/curl_api.cc - libcurl through dlopen() (see curl_api.h).
#include "curl_api.h"

#include <dlfcn.h>

#include "lazy/lazy_library.h"

namespace lbctl {

namespace {

struct Loaded {
  CurlApi api{};
  bool ok = false;
  std::string error;
};

template <typename Fn>
void bind(void *lib, Fn &fn, const char *name, Loaded &out) {
  void *symbol = dlsym(lib, name);
  if (!symbol && out.ok) {
    out.ok = false;
    out.error = std::string(kLibcurlSoname) + ": no symbol " + name;
  }
  fn = reinterpret_cast<Fn>(symbol);
}

Loaded load() {
  Loaded out;
  void *lib = lazy_library(kLibcurlSoname, &out.error);
  if (!lib) return out;
  out.ok = true;
  CurlApi &a = out.api;
  bind(lib, a.global_init, "curl_global_init", out);
  bind(lib, a.global_cleanup, "curl_global_cleanup", out);
  bind(lib, a.version_info, "curl_version_info", out);
  bind(lib, a.easy_init, "curl_easy_init", out);
  bind(lib, a.easy_setopt, "curl_easy_setopt", out);
  bind(lib, a.easy_getinfo, "curl_easy_getinfo", out);
  bind(lib, a.easy_strerror, "curl_easy_strerror", out);
  bind(lib, a.easy_cleanup, "curl_easy_cleanup", out);
  bind(lib, a.multi_init, "curl_multi_init", out);
  bind(lib, a.multi_add_handle, "curl_multi_add_handle", out);
  bind(lib, a.multi_remove_handle, "curl_multi_remove_handle", out);
  bind(lib, a.multi_perform, "curl_multi_perform", out);
  bind(lib, a.multi_info_read, "curl_multi_info_read", out);
  bind(lib, a.multi_poll, "curl_multi_poll", out);
  bind(lib, a.multi_cleanup, "curl_multi_cleanup", out);
  bind(lib, a.slist_append, "curl_slist_append", out);
  bind(lib, a.slist_free_all, "curl_slist_free_all", out);
  bind(lib, a.easy_perform, "curl_easy_perform", out);
  bind(lib, a.easy_reset, "curl_easy_reset", out);
  // The library stays loaded until exit (libcurl is not made to be unloaded).
  return out;
}

}  // namespace

const CurlApi *curl_api(std::string *error) {
  static const Loaded loaded = load();  // thread-safe one-time init
  if (!loaded.ok && error) *error = loaded.error;
  return loaded.ok ? &loaded.api : nullptr;
}

}  // namespace lbctl
