#include "tools/bdevperf/compare_svg.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace bdevkit::perf {
namespace {

CompareRow Row(std::string name, double iops, uint64_t base) {
  CompareRow r;
  r.bdev = std::move(name);
  r.ran = true;
  r.iops = iops;
  r.ticks_per_second = 1000000;  // 1 tick = 1 us
  for (uint64_t v = base; v < base * 10; v += base / 10 + 1) r.histogram.Record(v);
  r.p99_us = static_cast<double>(r.histogram.Percentile(0.99));
  return r;
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + 1)) ++n;
  return n;
}

TEST(CompareSvg, OneCurveAndOneBarPerBdev) {
  std::vector<CompareRow> rows = {Row("Null0", 2e6, 2), Row("Malloc<0>", 5e5, 20),
                                  Row("Aio&0", 3e4, 300)};
  CompareRow failed;
  failed.bdev = "Gone0";
  rows.push_back(failed);  // did not run: left out
  const std::string svg = CompareSvg(rows, "randread 4096 B");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_EQ(Count(svg, "<polyline"), 3u);
  EXPECT_EQ(Count(svg, "<rect"), 4u);  // the background and three bars
  EXPECT_NE(svg.find("Malloc&lt;0&gt;"), std::string::npos);
  EXPECT_NE(svg.find("Aio&amp;0"), std::string::npos);
  EXPECT_EQ(svg.find("Gone0"), std::string::npos);
  EXPECT_NE(svg.find("2.00M"), std::string::npos);  // bar label
  // 2M vs 30k IOPS: bars on a log scale, or the slow bdev would be a sliver.
  EXPECT_NE(svg.find("IOPS (log scale)"), std::string::npos);
  EXPECT_EQ(svg.find("http://", svg.find("<svg") + 20), std::string::npos)
      << "no external references";
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
}

TEST(CompareSvg, CloseRatesStayLinear) {
  const std::string svg = CompareSvg({Row("A", 1e5, 20), Row("B", 2e5, 20)}, "t");
  EXPECT_NE(svg.find(">IOPS</text>"), std::string::npos);
  EXPECT_EQ(svg.find("log scale)</text>", svg.find("Latency CDF") + 30), std::string::npos);
}

TEST(CompareSvg, Escape) { EXPECT_EQ(XmlEscape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;"); }

}  // namespace
}  // namespace bdevkit::perf
