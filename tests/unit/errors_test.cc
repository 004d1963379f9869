// lbk_error_last() and the ABI boundary (errors.cc, api.h): a call that
// returns a status clears the message on success and sets it on failure;
// calls without a status leave it; exceptions become LBK_ENOMEM or
// LBK_EINTERNAL instead of crossing the C ABI.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "api.h"
#include "lbkit.h"

// While armed, every operator new of this thread throws std::bad_alloc, and
// the nothrow forms return NULL (this test binary replaces the global
// allocation functions, so the library's allocations go through them too).
namespace {
thread_local bool fail_allocations = false;
struct FailAllocations {
  FailAllocations() { fail_allocations = true; }
  ~FailAllocations() { fail_allocations = false; }
};
}  // namespace

void *operator new(size_t size) {
  if (fail_allocations) throw std::bad_alloc();
  if (void *p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void *operator new[](size_t size) { return ::operator new(size); }
void *operator new(size_t size, const std::nothrow_t &) noexcept {
  return fail_allocations ? nullptr : std::malloc(size ? size : 1);
}
void *operator new[](size_t size, const std::nothrow_t &tag) noexcept {
  return ::operator new(size, tag);
}
void operator delete(void *p, const std::nothrow_t &) noexcept { std::free(p); }
void operator delete[](void *p, const std::nothrow_t &) noexcept { std::free(p); }
void operator delete(void *p) noexcept { std::free(p); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, size_t) noexcept { std::free(p); }
void operator delete[](void *p, size_t) noexcept { std::free(p); }

namespace {

int throws_bad_alloc() try {
  throw std::bad_alloc();
} LBK_API_CATCH

int throws_logic_error() try {
  throw std::logic_error("broken invariant");
} LBK_API_CATCH

int throws_int() try {
  throw 7;
} LBK_API_CATCH

TEST(Boundary, ExceptionsBecomeCodes) {
  EXPECT_EQ(LBK_ENOMEM, throws_bad_alloc());
  EXPECT_STREQ("throws_bad_alloc: out of memory", lbk_error_last());
  EXPECT_EQ(LBK_EINTERNAL, throws_logic_error());
  EXPECT_STREQ("throws_logic_error: internal error: broken invariant",
               lbk_error_last());
  EXPECT_EQ(LBK_EINTERNAL, throws_int());
  EXPECT_STREQ("throws_int: internal error", lbk_error_last());
  EXPECT_STREQ("internal error", lbk_strerror(LBK_EINTERNAL));
}

TEST(Boundary, OutOfMemoryInEntryPoints) {
  lbk_check_options co = LBK_CHECK_OPTIONS_INIT;
  co.path = "/health";
  lbk_check *check = nullptr;
  {
    FailAllocations failing;
    EXPECT_EQ(LBK_ENOMEM, lbk_check_create(&check, &co));
  }
  EXPECT_EQ(nullptr, check);
  EXPECT_STREQ("lbk_check_create: out of memory", lbk_error_last());
  ASSERT_EQ(0, lbk_check_create(&check, &co));
  lbk_check_reply *reply = nullptr;
  {
    FailAllocations failing;
    EXPECT_EQ(LBK_ENOMEM, lbk_check_reply_create(&reply, check));
  }
  EXPECT_EQ(nullptr, reply);

  lbk_pool *pool = nullptr;
  lbk_pool_options po = LBK_POOL_OPTIONS_INIT;
  {
    FailAllocations failing;  // the handle is allocated with new (nothrow)
    EXPECT_EQ(LBK_ENOMEM, lbk_pool_create(&pool, &po));
  }
  EXPECT_EQ(nullptr, pool);
  ASSERT_EQ(0, lbk_pool_create(&pool, &po));
  lbk_peer_config pc = LBK_PEER_CONFIG_INIT;
  pc.name = "a";
  uint32_t id = LBK_PEER_NONE;
  {
    FailAllocations failing;
    EXPECT_EQ(LBK_ENOMEM, lbk_pool_add(&id, pool, &pc));
  }
  EXPECT_STREQ("lbk_pool_add: out of memory", lbk_error_last());
  // A failed add left nothing behind: the name is free, the pool empty.
  EXPECT_EQ(0u, lbk_pool_count(pool));
  ASSERT_EQ(0, lbk_pool_add(&id, pool, &pc)) << lbk_error_last();
  EXPECT_EQ(LBK_EDUPNAME, lbk_pool_add(nullptr, pool, &pc));
  uint32_t picked = LBK_PEER_NONE;
  {
    FailAllocations failing;  // the first pick builds the process's cache
    EXPECT_EQ(LBK_ENOMEM, lbk_pool_pick(&picked, pool, nullptr, 0, nullptr, 0));
  }
  ASSERT_EQ(0, lbk_pool_pick(&picked, pool, nullptr, 0, nullptr, 0));
  EXPECT_EQ(id, picked);
  lbk_pool_free(pool);
  lbk_check_free(check);
}

TEST(ErrorLast, ClearedBySuccessSetByFailure) {
  lbk_pool *pool = nullptr;
  lbk_pool_options po = LBK_POOL_OPTIONS_INIT;
  po.method = "nonsense";
  EXPECT_EQ(LBK_EMETHOD, lbk_pool_create(&pool, &po));
  EXPECT_NE(nullptr, std::strstr(lbk_error_last(), "nonsense"));
  // Functions without a status leave the message.
  EXPECT_EQ(0u, lbk_pool_count(nullptr));
  lbk_crc32("x", 1);
  EXPECT_NE(nullptr, std::strstr(lbk_error_last(), "nonsense"));

  po.method = "least_conn";
  ASSERT_EQ(0, lbk_pool_create(&pool, &po));
  EXPECT_STREQ("", lbk_error_last());

  lbk_peer_config pc = LBK_PEER_CONFIG_INIT;
  pc.name = "a";
  pc.weight = 0;
  EXPECT_EQ(LBK_EWEIGHT, lbk_pool_add(nullptr, pool, &pc));
  EXPECT_STRNE("", lbk_error_last());
  pc.weight = 1;
  uint32_t id = LBK_PEER_NONE;
  ASSERT_EQ(0, lbk_pool_add(&id, pool, &pc));
  EXPECT_STREQ("", lbk_error_last());

  // Each status call on success, after a failure.
  auto fail = [&] { EXPECT_EQ(LBK_ENOTFOUND, lbk_pool_remove(pool, 999)); };
  uint32_t picked = LBK_PEER_NONE;
  fail();
  ASSERT_EQ(0, lbk_pool_pick(&picked, pool, nullptr, 0, nullptr, 0));
  EXPECT_STREQ("", lbk_error_last());
  fail();
  lbk_outcome o = LBK_OUTCOME_INIT;
  ASSERT_EQ(0, lbk_pool_release(pool, picked, &o));
  EXPECT_STREQ("", lbk_error_last());
  fail();
  ASSERT_EQ(0, lbk_pool_set_weight(pool, id, 3));
  EXPECT_STREQ("", lbk_error_last());
  fail();
  lbk_peer_info info;
  ASSERT_EQ(0, lbk_peer_info_init(&info, LBK_PEER_INFO_VERSION));
  ASSERT_EQ(0, lbk_pool_peer_info(&info, pool, id));
  EXPECT_STREQ("", lbk_error_last());
  fail();
  lbk_check_options co = LBK_CHECK_OPTIONS_INIT;
  lbk_check *check = nullptr;
  ASSERT_EQ(0, lbk_check_create(&check, &co));
  EXPECT_STREQ("", lbk_error_last());
  fail();
  lbk_check_result r;
  ASSERT_EQ(0, lbk_check_result_init(&r, LBK_CHECK_RESULT_VERSION));
  ASSERT_EQ(0, lbk_pool_report_check(nullptr, pool, id, check, &r));
  EXPECT_STREQ("", lbk_error_last());
  fail();
  lbk_agent_reply ar;
  ASSERT_EQ(0, lbk_agent_parse(&ar, "up\n", 3));
  EXPECT_STREQ("", lbk_error_last());
  fail();
  ASSERT_EQ(0, lbk_pool_remove(pool, id));
  EXPECT_STREQ("", lbk_error_last());
  lbk_check_free(check);
  lbk_pool_free(pool);
}

}  // namespace
