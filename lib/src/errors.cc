// errors.cc - lbk_strerror(), lbk_error_last(), the internal set_error()
// and what the ABI boundary reports (api.h).
#include <cstdarg>
#include <cstdio>
#include <exception>
#include <new>

#include "api.h"
#include "error_internal.h"
#include "lbkit.h"

namespace lbk {
namespace {
thread_local char last_error_message[ERROR_MESSAGE_MAX];
}  // namespace

int set_error(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(last_error_message, sizeof last_error_message, fmt, ap);
  va_end(ap);
  return code;
}

void clear_error() { last_error_message[0] = '\0'; }

int error_from_exception(const char *function) noexcept {
  try {
    throw;
  } catch (const std::bad_alloc &) {
    return set_error(LBK_ENOMEM, "%s: out of memory", function);
  } catch (const std::exception &e) {
    return set_error(LBK_EINTERNAL, "%s: internal error: %s", function,
                     e.what());
  } catch (...) {
    return set_error(LBK_EINTERNAL, "%s: internal error", function);
  }
}

int check_version(unsigned version, unsigned current, const char *what,
                  const char *init_macro) {
  if (version >= 1 && version <= current) return 0;
  return set_error(LBK_EINVAL, "%s version %u is not 1..%u (initialise with "
                   "%s)", what, version, current, init_macro);
}

}  // namespace lbk

extern "C" {

LBK_EXTERN const char *lbk_strerror(int code) {
  switch (code) {
    case LBK_OK: return "success";
    case LBK_EINVAL: return "invalid argument";
    case LBK_ENOMEM: return "out of memory or block too small";
    case LBK_ENOPEER: return "no live peer";
    case LBK_EWEIGHT: return "invalid weight";
    case LBK_EDUPNAME: return "duplicate peer name";
    case LBK_EMETHOD: return "unknown balancing method";
    case LBK_ETOOMANY: return "too many peers";
    case LBK_EKEY: return "bad hash key";
    case LBK_ENOTFOUND: return "no such peer";
    case LBK_ERANGE: return "value out of range or buffer too small";
    case LBK_EPARSE: return "malformed input";
    case LBK_EAGAIN: return "incomplete input";
    case LBK_ELIMIT: return "size limit exceeded";
    case LBK_ELAYOUT: return "placed block has another layout or version";
    case LBK_ENAME: return "invalid name";
    case LBK_EINTERNAL: return "internal error";
    default: return "unknown error code";
  }
}

LBK_EXTERN const char *lbk_error_last(void) {
  return lbk::last_error_message;
}

}  // extern "C"
