// The boundary scanner: values split anywhere, back to back, strings with escapes.
#include "rpc/json_scanner.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace bdevkit {
namespace {

using Result = JsonValueScanner::Result;

// Scans `stream` fed in pieces of `chunk` bytes; returns the complete values found.
std::vector<std::string> ScanAll(const std::string& stream, size_t chunk) {
  std::vector<std::string> values;
  JsonValueScanner scanner;
  std::string buf;
  size_t pos = 0;
  for (size_t fed = 0; fed < stream.size();) {
    size_t n = std::min(chunk, stream.size() - fed);
    buf.append(stream, fed, n);
    fed += n;
    for (;;) {
      Result r = scanner.Scan(buf, &pos);
      EXPECT_NE(r, Result::kError) << buf;
      if (r != Result::kComplete) break;
      values.push_back(buf.substr(scanner.value_start(), pos - scanner.value_start()));
      scanner.Reset();
    }
  }
  return values;
}

TEST(JsonScannerTest, TrickyValueSplitAtEveryByte) {
  // Braces and quotes inside strings, escaped quotes and an escaped backslash right
  // before a closing quote.
  const std::string value = R"({"a":"x}\"]{[","b":[1,{"c":"\\"},"\\\""],"d":{}})";
  ASSERT_FALSE(nlohmann::json::parse(value).is_discarded());
  for (size_t chunk = 1; chunk <= value.size(); ++chunk) {
    std::vector<std::string> got = ScanAll(value + "\n", chunk);
    ASSERT_EQ(got.size(), 1u) << "chunk " << chunk;
    EXPECT_EQ(got[0], value);
  }
}

TEST(JsonScannerTest, BackToBackValuesWithAndWithoutWhitespace) {
  std::vector<std::string> got = ScanAll("{\"a\":1}{\"b\":2}  \n[3,[4]]\"s\\\"t\" 12 true ", 3);
  EXPECT_EQ(got, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "[3,[4]]", "\"s\\\"t\"", "12",
                                           "true"}));
}

TEST(JsonScannerTest, IncompleteValueNeedsMore) {
  JsonValueScanner scanner;
  size_t pos = 0;
  EXPECT_EQ(scanner.Scan("  {\"a\":[1,2", &pos), Result::kNeedMore);
  EXPECT_TRUE(scanner.started());
  EXPECT_EQ(scanner.value_start(), 2u);
  EXPECT_EQ(pos, 11u);
  JsonValueScanner bare;
  pos = 0;
  EXPECT_EQ(bare.Scan("123", &pos), Result::kNeedMore);  // more digits may follow
  pos = 0;
  JsonValueScanner blank;
  EXPECT_EQ(blank.Scan(" \n\t", &pos), Result::kNeedMore);
  EXPECT_FALSE(blank.started());
}

TEST(JsonScannerTest, GarbageAndDeepNestingAreErrors) {
  JsonValueScanner scanner;
  size_t pos = 0;
  EXPECT_EQ(scanner.Scan("  hello", &pos), Result::kError);
  EXPECT_EQ(pos, 2u);
  JsonValueScanner shallow(/*max_depth=*/4);
  pos = 0;
  EXPECT_EQ(shallow.Scan("[[[[", &pos), Result::kNeedMore);
  EXPECT_EQ(shallow.Scan("[[[[[", &pos), Result::kError);
}

}  // namespace
}  // namespace bdevkit
