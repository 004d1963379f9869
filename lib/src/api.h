// api.h - what every C entry point of liblbkit does at the ABI boundary.
//
// Error message.  An entry point that returns a status (0 or a negative
// LBK_E* code) starts with lbk::clear_error(): after it returns 0 the
// thread's lbk_error_last() is "", after it fails it holds the failure's
// message (set_error()).  Functions that return no status (free, count,
// names, hashes, UTF-8 helpers) leave the message as it is.
//
// Exceptions.  No C++ exception crosses the C ABI.  An entry point whose
// body can allocate (or call anything that can throw) is a function-try-
// block ending in LBK_API_CATCH:
//
//   LBK_EXTERN int lbk_thing(lbk_thing_t **out, ...) try {
//     lbk::clear_error();
//     ...
//   } LBK_API_CATCH
//
// which returns LBK_ENOMEM for std::bad_alloc and LBK_EINTERNAL for any
// other exception, naming the function in lbk_error_last().
//
// Versioned structs.  A struct the caller fills is accepted in every
// version from 1 to the header's current one (check_version()); the bytes
// a caller of version v owns are struct_size<T>(v), so the library neither
// reads nor writes beyond an older caller's struct.
#pragma once

#include <cstddef>

#include "error_internal.h"
#include "lbkit.h"

namespace lbk {

// The code and message for the exception being handled: LBK_ENOMEM for
// std::bad_alloc, LBK_EINTERNAL otherwise.  Call only inside a handler.
int error_from_exception(const char *function) noexcept;

// 0 when @p version is 1..@p current, else LBK_EINVAL with a message naming
// @p what and the macro that initialises it.
int check_version(unsigned version, unsigned current, const char *what,
                  const char *init_macro);

// Bytes of a versioned struct that a caller of @p version owns: each
// version appends fields, so an older version ends where the next began.
// Structs that have only version 1 own all of sizeof(T).
template <class T> inline size_t struct_size(unsigned) { return sizeof(T); }
template <> inline size_t struct_size<lbk_outcome>(unsigned version) {
  return version < 2 ? offsetof(lbk_outcome, bytes_sent) : sizeof(lbk_outcome);
}
template <> inline size_t struct_size<lbk_peer_info>(unsigned version) {
  return version < 2 ? offsetof(lbk_peer_info, responses) : sizeof(lbk_peer_info);
}

}  // namespace lbk

#define LBK_API_CATCH                                                          \
  catch (...) {                                                                \
    return ::lbk::error_from_exception(__func__);                              \
  }
