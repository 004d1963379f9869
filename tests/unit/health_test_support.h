// health_test_support.h - helpers shared by the health unit tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "lbkit.h"

namespace lbk_test {

// Feeds a whole reply to a fresh reader of @p check (then eof when
// @p close) and returns its verdict.
inline lbk_check_result verdict_of(const lbk_check *check, const std::string &bytes,
                                   bool close) {
  lbk_check_reply *reply = nullptr;
  EXPECT_EQ(0, lbk_check_reply_create(&reply, check));
  lbk_check_reply_feed(reply, bytes.data(), bytes.size());
  if (close) {
    EXPECT_EQ(0, lbk_check_reply_eof(reply));
  }
  lbk_check_result r;
  EXPECT_EQ(0, lbk_check_reply_result(&r, reply));
  lbk_check_reply_free(reply);
  return r;
}

// "HTTP/1.1 200 OK" with a Content-Length body.
inline std::string http_ok(const std::string &body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         body;
}

}  // namespace lbk_test
