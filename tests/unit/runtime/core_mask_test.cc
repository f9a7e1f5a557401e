#include <vector>

#include "bdevkit/runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bdevkit {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CoreMaskTest, HexForms) {
  EXPECT_THAT(*ParseCoreMask("0x1"), ElementsAre(0));
  EXPECT_THAT(*ParseCoreMask("0x3"), ElementsAre(0, 1));
  EXPECT_THAT(*ParseCoreMask("3"), ElementsAre(0, 1));  // SPDK reads bare masks as hex
  EXPECT_THAT(*ParseCoreMask("0X2"), ElementsAre(1));
}

TEST(CoreMaskTest, ListForms) {
  EXPECT_THAT(*ParseCoreMask("[0,1]"), ElementsAre(0, 1));
  EXPECT_THAT(*ParseCoreMask("[1,0,1]"), ElementsAre(0, 1));
  EXPECT_THAT(*ParseCoreMask("0-1"), ElementsAre(0, 1));
  EXPECT_THAT(*ParseCoreMask("[0]"), ElementsAre(0));
}

TEST(CoreMaskTest, ErrorsNameTheProblem) {
  EXPECT_THAT(ParseCoreMask("0x0").status().message(), HasSubstr("selects no core"));
  EXPECT_THAT(ParseCoreMask("0xg").status().message(), HasSubstr("'g' is not a hex digit"));
  EXPECT_THAT(ParseCoreMask("[0,1").status().message(), HasSubstr("missing ']'"));
  EXPECT_THAT(ParseCoreMask("[a]").status().message(), HasSubstr("'a' is not a core number"));
  EXPECT_THAT(ParseCoreMask("[3-1]").status().message(), HasSubstr("bad range"));
  EXPECT_THAT(ParseCoreMask("").status().message(), HasSubstr("empty"));
  // Core 1000 does not exist on any machine this runs on.
  EXPECT_THAT(ParseCoreMask("[1000]").status().message(), HasSubstr("core 1000 is not available"));
}

TEST(CoreMaskTest, FormatIsHex) {
  EXPECT_EQ(FormatCoreMask({0}), "0x1");
  EXPECT_EQ(FormatCoreMask({0, 1}), "0x3");
  EXPECT_EQ(FormatCoreMask({4}), "0x10");
  EXPECT_EQ(FormatCoreMask({1, 5}), "0x22");
}

}  // namespace
}  // namespace bdevkit
