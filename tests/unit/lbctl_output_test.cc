// Unit tests of lbctl's output helpers (cli/output.h).
#include <gtest/gtest.h>

#include <cstdlib>

#include "output.h"
#include "probe_session.h"

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
