// LoadModulePlugin's refusals, from a program linked with the static library (as every
// unit test is): a real plugin would get a second copy of bdevkit, which must be
// refused rather than registered where nobody looks.
#include "bdevkit/plugin.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bdevkit {
namespace {

using ::testing::HasSubstr;

TEST(PluginLoaderTest, APluginIntoAStaticallyLinkedProgramIsRefusedSayingWhy) {
  absl::Status s = LoadModulePlugin(BDEVKIT_TEST_XOR_PLUGIN);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr(BDEVKIT_TEST_XOR_PLUGIN));
  EXPECT_THAT(s.message(), HasSubstr("libbdevkit.so"));
}

TEST(PluginLoaderTest, ASharedObjectWithoutAnEntryPointIsNotAPlugin) {
  absl::Status s = LoadModulePlugin(BDEVKIT_TEST_SHARED_LIB);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("not a bdevkit module plugin"));
}

TEST(PluginLoaderTest, AnotherAbiVersionIsRefusedBeforeItsEntryPointRuns) {
  absl::Status s = LoadModulePlugin(BDEVKIT_TEST_BAD_ABI_PLUGIN);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("built for plugin ABI 999"));
}

TEST(PluginLoaderTest, MissingFileAndNonLibrary) {
  EXPECT_EQ(LoadModulePlugin("/nonexistent/x.so").code(), absl::StatusCode::kNotFound);
  absl::Status s = LoadModulePlugin("/etc/hostname");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("/etc/hostname"));
}

}  // namespace
}  // namespace bdevkit
