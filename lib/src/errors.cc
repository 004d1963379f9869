// errors.cc - lbk_strerror(), lbk_error_last() and the internal set_error().
#include <cstdarg>
#include <cstdio>

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
    default: return "unknown error code";
  }
}

LBK_EXTERN const char *lbk_error_last(void) {
  return lbk::last_error_message;
}

}  // extern "C"
