// cli/curl_api.h - libcurl, loaded when first needed.
//
// Only `lbctl forward` and `lbctl version` use libcurl.  Linked in, it and
// its ~30 dependencies (GnuTLS, Kerberos, LDAP, ...) would be loaded at
// every start of every subcommand: about 4 ms, more than half of lbctl's
// start-up, paid by each `lbctl probe`.  So lbctl opens it with dlopen()
// on first use and calls it through this table.
#pragma once

#include <curl/curl.h>

#include <string>

namespace lbctl {

// libcurl's SONAME ("libcurl.so.4" since libcurl 7.16, 2006), read from
// the library at configure time (cli/CMakeLists.txt).
constexpr const char kLibcurlSoname[] = LBK_LIBCURL_SONAME;

struct CurlApi {
  decltype(&::curl_global_init) global_init;
  decltype(&::curl_global_cleanup) global_cleanup;
  decltype(&::curl_version_info) version_info;
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_setopt) easy_setopt;
  decltype(&::curl_easy_getinfo) easy_getinfo;
  decltype(&::curl_easy_strerror) easy_strerror;
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_multi_init) multi_init;
  decltype(&::curl_multi_add_handle) multi_add_handle;
  decltype(&::curl_multi_remove_handle) multi_remove_handle;
  decltype(&::curl_multi_perform) multi_perform;
  decltype(&::curl_multi_info_read) multi_info_read;
  decltype(&::curl_multi_poll) multi_poll;
  decltype(&::curl_multi_cleanup) multi_cleanup;
  decltype(&::curl_slist_append) slist_append;
  decltype(&::curl_slist_free_all) slist_free_all;
  decltype(&::curl_easy_perform) easy_perform;
  decltype(&::curl_easy_reset) easy_reset;
};

// Loads libcurl once (thread safe); nullptr with the reason in @p error
// (dlopen's or dlsym's message) when it cannot be loaded.
const CurlApi *curl_api(std::string *error);

}  // namespace lbctl
