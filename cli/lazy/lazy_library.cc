// cli/lazy/lazy_library.cc - see lazy_library.h.
#include "lazy/lazy_library.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

#include "exit_codes.h"

namespace lbctl {

void *lazy_library(const char *soname, std::string *error) {
  // dlopen() of a library already loaded only takes a reference: no cache.
  void *lib = dlopen(soname, RTLD_LAZY | RTLD_LOCAL);
  if (!lib && error) {
    const char *why = dlerror();
    *error = why ? why : std::string("cannot load ") + soname;
  }
  return lib;
}

void *lazy_symbol(const char *soname, const char *name) {
  std::string error;
  void *lib = lazy_library(soname, &error);
  void *symbol = lib ? dlsym(lib, name) : nullptr;
  if (!symbol) {
    if (lib) error = std::string("no symbol ") + name + " in " + soname;
    std::fprintf(stderr, "lbctl: cannot load %s (needed for %s): %s\n", soname, name, error.c_str());
    std::exit(kExitRuntime);
  }
  return symbol;
}

}  // namespace lbctl
