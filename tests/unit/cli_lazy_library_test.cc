// cli/lazy/lazy_library.h: libraries lbctl opens on first use.
#include <gtest/gtest.h>

#include <gnu/libc-version.h>

#include <string>

#include "exit_codes.h"
#include "lazy/lazy_library.h"

namespace {

TEST(LazyLibrary, OpensALibraryByItsSoname) {
  std::string error = "untouched";
  EXPECT_NE(lbctl::lazy_library("libc.so.6", &error), nullptr);
  EXPECT_EQ(error, "untouched");
}

TEST(LazyLibrary, AMissingLibraryIsReportedWithItsName) {
  std::string error;
  EXPECT_EQ(lbctl::lazy_library("liblbk-no-such-library.so.9", &error), nullptr);
  EXPECT_NE(error.find("liblbk-no-such-library.so.9"), std::string::npos) << error;
}

TEST(LazyLibrary, SymbolsResolveToTheLibrarysOwn) {
  // A function no sanitizer intercepts (under ASan, &strlen is ASan's).
  EXPECT_EQ(lbctl::lazy_symbol("libc.so.6", "gnu_get_libc_version"),
            reinterpret_cast<void *>(&gnu_get_libc_version));
}

TEST(LazyLibrary, LibeventLoads) {
  std::string error;
  EXPECT_TRUE(lbctl::libevent_loadable(&error)) << error;
}

using LazyLibraryDeathTest = ::testing::Test;

TEST_F(LazyLibraryDeathTest, AMissingSymbolExitsWithTheRuntimeFailureCode) {
  EXPECT_EXIT(lbctl::lazy_symbol("libc.so.6", "lbk_no_such_symbol"),
              ::testing::ExitedWithCode(lbctl::kExitRuntime),
              "cannot load libc.so.6 \\(needed for lbk_no_such_symbol\\): no symbol lbk_no_such_symbol");
}

TEST_F(LazyLibraryDeathTest, AMissingLibraryExitsNamingIt) {
  EXPECT_EXIT(lbctl::lazy_symbol("liblbk-no-such-library.so.9", "f"),
              ::testing::ExitedWithCode(lbctl::kExitRuntime),
              "cannot load liblbk-no-such-library.so.9 \\(needed for f\\)");
}

}  // namespace
