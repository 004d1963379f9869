// Unit tests of lbctl's output helpers (cli/output.h).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "exit_codes.h"
#include "output.h"
#include "samples.h"

namespace {

TEST(LbctlOutput, TableAlignsAndColours) {
  lbctl::Table t({"NODE", "MS"}, {false, true});
  t.add_row({"a", "1.0"}, {lbctl::Color::kGreen, lbctl::Color::kNone});
  t.add_row({"longer", "12.5"});
  EXPECT_EQ(t.render(false), "NODE      MS\na        1.0\nlonger  12.5\n");
  const std::string coloured = t.render(true);
  EXPECT_NE(coloured.find("\033[32ma\033[0m"), std::string::npos);
  EXPECT_NE(coloured.find("\033[1mNODE\033[0m"), std::string::npos);
}

TEST(LbctlOutput, NoColorAndFormats) {
  setenv("NO_COLOR", "1", 1);
  EXPECT_FALSE(lbctl::color_enabled(stdout));
  unsetenv("NO_COLOR");
  lbctl::Format f;
  EXPECT_TRUE(lbctl::parse_format("json", f));
  EXPECT_EQ(f, lbctl::Format::kJson);
  EXPECT_TRUE(lbctl::parse_format("prometheus", f));
  EXPECT_EQ(f, lbctl::Format::kPrometheus);
  EXPECT_FALSE(lbctl::parse_format("xml", f));
  EXPECT_EQ(lbctl::paint("x", lbctl::Color::kRed, false), "x");
}

TEST(LbctlOutput, Numbers) {
  EXPECT_EQ(lbctl::format_ms(-1), "-");
  EXPECT_EQ(lbctl::format_ms(1.25, 2), "1.25");
  EXPECT_EQ(lbctl::prom_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

// The streaming JSON writer prints what nlohmann::json's dump() printed
// before it (lbctl probe -o json is a stable interface).
TEST(LbctlJson, DoublesAsNlohmannDumps) {
  std::vector<double> values = {0.0, -0.0, 1.0, 2.0, -3.5, 0.1, 0.1214, 1e-4, 1.5e-4, 1e-5,
                                1.25e-7, 12.0, 123456789012345.0, 1e15, 1e16, 1.5e16, 1e21,
                                0.001, 99.99, 1234.5678, std::numeric_limits<double>::max(),
                                std::numeric_limits<double>::min(), 5e-324};
  for (double v : values) {
    std::string ours;
    lbctl::json_append_double(ours, v);
    EXPECT_EQ(ours, nlohmann::json(v).dump()) << v;
  }
  // dump()'s Grisu2 digits are not always the shortest (~1 in 1000): ours
  // then has fewer digits, in the same notation, and reads back the same.
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> ms(0.0, 2000.0);
  for (int i = 0; i < 5000; ++i) {
    const double v = i < 4000 ? ms(rng) : std::ldexp(ms(rng), static_cast<int>(rng() % 200) - 100);
    std::string ours;
    lbctl::json_append_double(ours, v);
    const std::string theirs = nlohmann::json(v).dump();
    EXPECT_EQ(std::strtod(ours.c_str(), nullptr), v) << ours;
    EXPECT_LE(ours.size(), theirs.size()) << ours << " vs " << theirs;
    EXPECT_EQ(ours.find('e') == std::string::npos, theirs.find('e') == std::string::npos) << ours;
  }
  std::string special;
  lbctl::json_append_double(special, std::nan(""));
  lbctl::json_append_double(special, std::numeric_limits<double>::infinity());
  EXPECT_EQ(special, "nullnull");
  std::string ints;
  lbctl::json_append_int(ints, 0);
  ints += ',';
  lbctl::json_append_int(ints, -9223372036854775807LL - 1);
  EXPECT_EQ(ints, "0,-9223372036854775808");
}

TEST(LbctlJson, StringsAsNlohmannDumps) {
  const std::vector<std::string> texts = {"", "plain", "quote \" backslash \\ slash /",
                                          "\b\f\n\r\t", std::string("nul \0 x", 7), "\x01\x1f\x7f",
                                          "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"};
  for (const std::string &t : texts) {
    std::string ours;
    lbctl::json_append_string(ours, t);
    EXPECT_EQ(ours, nlohmann::json(t).dump()) << t;
  }
  // Bytes that are not UTF-8 (where dump() throws) become U+FFFD, so the
  // document stays valid.
  const std::vector<std::pair<std::string, std::string>> invalid = {
      {"a\xff" "b", "\"a\xef\xbf\xbd" "b\""},
      {"\xc3", "\"\xef\xbf\xbd\""},                              // truncated
      {"\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\""},              // overlong
      {"\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}};  // surrogate
  for (const auto &c : invalid) {
    std::string ours;
    lbctl::json_append_string(ours, c.first);
    EXPECT_EQ(ours, c.second);
    EXPECT_NO_THROW(nlohmann::json::parse(ours));
  }
}

TEST(LbctlSamples, NearestRankPercentiles) {
  lbctl::Samples s;
  EXPECT_EQ(s.percentile(50), -1);
  for (int v = 20; v >= 1; --v) s.add(v);
  s.add(-1);  // absent phases are not samples
  EXPECT_EQ(s.values.size(), 20u);
  EXPECT_EQ(s.min(), 1);
  EXPECT_EQ(s.percentile(50), 10);
  EXPECT_EQ(s.percentile(95), 19);
  EXPECT_EQ(s.max(), 20);
}

TEST(LbctlExitCodes, Health) {
  EXPECT_EQ(lbctl::health_exit_code(3, 3), 0);
  EXPECT_EQ(lbctl::health_exit_code(1, 3), 1);
  EXPECT_EQ(lbctl::health_exit_code(0, 3), 3);
  EXPECT_EQ(lbctl::health_exit_code(0, 0), 3);
}

}  // namespace
