// cli/lazy/lazy_library.h - shared libraries lbctl opens when first needed.
//
// A library named in the executable (DT_NEEDED) is loaded and relocated at
// every start of every subcommand, and each one also lengthens the symbol
// search of every library dlopen()ed later.  lbctl therefore loads libcurl
// (forward, version), libevent (every subcommand that probes: probe, watch,
// agent, and rank, forward and haproxy-sync without --state), inih
// (configuration files) and c-ares (sync) on first use.  libevent, inih and
// c-ares are bound through stubs with their headers' own signatures
// (libevent_lazy.cc, inih_lazy.cc, cli/discovery.cc), so callers, the
// prober in lib/probe among them, are unchanged; libcurl, whose
// curl_easy_setopt() is variadic, through a table (cli/curl_api.h).
#pragma once

#include <string>

namespace lbctl {

// dlopen()s @p soname (RTLD_LAZY | RTLD_LOCAL; libraries stay loaded until
// exit).  nullptr with dlerror()'s message in @p error when it cannot.
void *lazy_library(const char *soname, std::string *error);

// The address of @p name in @p soname (or its dependencies), loading the
// library on first use.  Failure is fatal: a message naming the library and
// the symbol on stderr, then exit(kExitRuntime) (exit_codes.h).
void *lazy_symbol(const char *soname, const char *name);

// Loads the libevent libraries lbctl uses; false with the reason in
// @p error when one cannot be loaded (lbctl version reports it; a stub
// would exit).  Defined in libevent_lazy.cc.
bool libevent_loadable(std::string *error);

}  // namespace lbctl

// Defines `extern "C" RET NAME PARAMS` as a stub that calls NAME from
// SONAME, resolved on its first call.  The definition must match the
// library header's declaration (C linkage allows no overloads), so a wrong
// signature does not compile.
#define LBK_LAZY_FUNCTION(soname, ret, name, params, args)                                     \
  extern "C" ret name params {                                                                  \
    using Fn = ret(*) params;                                                                   \
    static const Fn real = reinterpret_cast<Fn>(::lbctl::lazy_symbol(soname, #name));           \
    return real args;                                                                           \
  }
