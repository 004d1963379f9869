// error_internal.h - how library code reports an error.
//
// Every public function that fails returns a negative LBK_E* code and leaves
// a detailed, human-readable message for the calling thread, readable with
// lbk_error_last().  Library code does both in one step:
//
//   return lbk::set_error(LBK_EWEIGHT, "peer '%s': weight %u is out of range "
//                         "1..%u", name, weight, LBK_WEIGHT_MAX);
//
// The message is truncated to ERROR_MESSAGE_MAX - 1 bytes.
#pragma once

#include "lbkit.h"

namespace lbk {

constexpr unsigned ERROR_MESSAGE_MAX = 512;

// Stores a printf-formatted message as the thread's last error and returns
// @p code unchanged.
int set_error(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

// Clears the thread's last error message (lbk_error_last() returns "").
void clear_error();

}  // namespace lbk
