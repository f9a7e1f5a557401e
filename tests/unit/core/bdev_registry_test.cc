// Registry, validation, UUIDs, claims, examine, module order and StopBdevLayer order.
#include <algorithm>

#include "absl/synchronization/mutex.h"
#include "bdevkit/bdev.h"
#include "bdevkit/module.h"
#include "gtest/gtest.h"
#include "tests/unit/core/test_bdev.h"

namespace bdevkit::test {
namespace {

TEST(UuidTest, GeneratedUuidsAreVersion4AndDistinct) {
  std::string a = GenerateUuid(), b = GenerateUuid();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_NE(std::string("89ab").find(a[19]), std::string::npos);
  EXPECT_TRUE(ParseUuid(a).ok());
}

TEST(UuidTest, ParseValidatesAndLowercases) {
  auto u = ParseUuid("0F8A5C3E-1234-4ABC-9DEF-0123456789AB");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(*u, "0f8a5c3e-1234-4abc-9def-0123456789ab");
  EXPECT_FALSE(ParseUuid("").ok());
  EXPECT_FALSE(ParseUuid("0f8a5c3e-1234-4abc-9def-0123456789a").ok());
  EXPECT_FALSE(ParseUuid("0f8a5c3e+1234-4abc-9def-0123456789ab").ok());
  EXPECT_FALSE(ParseUuid("0f8a5c3e-1234-4abc-9def-0123456789ag").ok());
}

TEST(IoStatsTest, MergeSumsMaxAndMinIgnoringZero) {
  IoStats a, b;
  a.num_read_ops = 2;
  a.bytes_read = 100;
  a.min_read_latency_ticks = 0;  // no sample
  a.max_read_latency_ticks = 5;
  b.num_read_ops = 3;
  b.bytes_read = 50;
  b.min_read_latency_ticks = 7;
  b.max_read_latency_ticks = 9;
  b.errors_by_type[static_cast<int>(IoType::kWrite)] = 4;
  a.Merge(b);
  EXPECT_EQ(a.num_read_ops, 5u);
  EXPECT_EQ(a.bytes_read, 150u);
  EXPECT_EQ(a.min_read_latency_ticks, 7u);
  EXPECT_EQ(a.max_read_latency_ticks, 9u);
  EXPECT_EQ(a.errors_by_type[static_cast<int>(IoType::kWrite)], 4u);
  IoStats c;
  c.min_read_latency_ticks = 3;
  a.Merge(c);
  EXPECT_EQ(a.min_read_latency_ticks, 3u);
}

TEST(IoTypeNameTest, SpdkNames) {
  EXPECT_EQ(IoTypeName(IoType::kRead), "read");
  EXPECT_EQ(IoTypeName(IoType::kWriteZeroes), "write_zeroes");
  EXPECT_EQ(IoTypeName(IoType::kUnmap), "unmap");
  EXPECT_EQ(IoTypeName(IoType::kReset), "reset");
}

class RegistryTest : public CoreTest {};

TEST_F(RegistryTest, InvalidPropertiesAreRejectedAndNothingRegistered) {
  EventLog().clear();
  std::vector<BdevProperties> bad;
  bad.push_back(Props(""));
  bad.push_back(Props("b1", 1024, 1000));  // not a multiple of 512
  bad.push_back(Props("b2", 1024, 0));
  bad.push_back(Props("b3", 0));
  auto p = Props("b4");
  p.required_alignment = 3000;
  bad.push_back(p);
  p = Props("b5");
  p.uuid = "not-a-uuid";
  bad.push_back(p);
  p = Props("b6");
  p.aliases = {"x", "x"};
  bad.push_back(p);
  p = Props("b7");
  p.write_unit_size = 0;
  bad.push_back(p);
  for (auto& props : bad) {
    absl::Status st;
    std::string name = props.name;
    EXPECT_EQ(Create(props, &st), nullptr) << name;
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << name << ": " << st;
  }
  EXPECT_TRUE(ListBdevs().empty());
  // Each rejected bdev was destroyed.
  EXPECT_EQ(std::count_if(EventLog().begin(), EventLog().end(),
                          [](const std::string& e) { return e.rfind("deleted:b", 0) == 0; }),
            7);
}

TEST_F(RegistryTest, DuplicatesAreRejectedAndNothingLeftBehind) {
  auto a = Props("A");
  a.aliases = {"a1"};
  a.uuid = "11111111-2222-4333-8444-555555555555";
  ASSERT_NE(Create(a), nullptr);

  auto same_name = Props("A");
  auto same_alias = Props("B");
  same_alias.aliases = {"a1"};
  auto same_uuid = Props("C");
  same_uuid.uuid = "11111111-2222-4333-8444-555555555555";
  auto upper_uuid = Props("D");
  upper_uuid.uuid = "11111111-2222-4333-8444-555555555555";
  std::transform(upper_uuid.uuid.begin(), upper_uuid.uuid.end(), upper_uuid.uuid.begin(),
                 ::toupper);
  auto name_is_alias = Props("a1");
  auto alias_is_name = Props("E");
  alias_is_name.aliases = {"A"};
  for (auto* props :
       {&same_name, &same_alias, &same_uuid, &upper_uuid, &name_is_alias, &alias_is_name}) {
    absl::Status st;
    EXPECT_EQ(Create(*props, &st), nullptr) << props->name;
    EXPECT_EQ(st.code(), absl::StatusCode::kAlreadyExists) << props->name << ": " << st;
  }
  EXPECT_EQ(ListBdevs(), std::vector<std::string>{"A"});
  // The failed ones left no alias behind: "B" etc. are free.
  EXPECT_EQ(FindBdev("B"), nullptr);
  EXPECT_EQ(FindBdev("E"), nullptr);
  ASSERT_NE(Create(Props("B")), nullptr);
}

TEST_F(RegistryTest, LookupByNameAliasAndUuid) {
  auto p = Props("L");
  p.aliases = {"l-alias"};
  TestBdev* b = Create(p);
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->uuid().size(), 36u);
  // The generated UUID is an alias.
  EXPECT_NE(std::find(b->aliases().begin(), b->aliases().end(), b->uuid()), b->aliases().end());
  EXPECT_EQ(FindBdev("L"), b);
  EXPECT_EQ(FindBdev("l-alias"), b);
  EXPECT_EQ(FindBdev(b->uuid()), b);
  std::string upper = b->uuid();
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  EXPECT_EQ(FindBdev(upper), b);
  EXPECT_EQ(FindBdev("nope"), nullptr);
}

TEST_F(RegistryTest, OpenUnknownIsNotFound) {
  RunOnApp(
      [] { EXPECT_EQ(OpenBdev("missing", false).status().code(), absl::StatusCode::kNotFound); });
}

TEST_F(RegistryTest, ClaimsBlockOtherWriters) {
  ASSERT_NE(Create(Props("C0")), nullptr);
  RunOnApp([] {
    auto w1 = OpenBdev("C0", true);
    auto w2 = OpenBdev("C0", true);
    ASSERT_TRUE(w1.ok() && w2.ok());
    // Another writer is open: the claim fails.
    EXPECT_EQ((*w1)->Claim(ClaimType::kExclusiveWrite, "raid").code(),
              absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(FindBdev("C0")->claim_type(), ClaimType::kNone);
    w2->reset();
    ASSERT_TRUE((*w1)->Claim(ClaimType::kExclusiveWrite, "raid").ok());
    EXPECT_EQ(FindBdev("C0")->claim_type(), ClaimType::kExclusiveWrite);
    EXPECT_EQ(FindBdev("C0")->claim_module(), "raid");
    EXPECT_EQ(OpenBdev("C0", true).status().code(), absl::StatusCode::kPermissionDenied);
    auto r = OpenBdev("C0", false);
    ASSERT_TRUE(r.ok());  // readers are fine
    EXPECT_FALSE((*r)->Claim(ClaimType::kExclusiveWrite, "split").ok());
    r->reset();
    // The claim ends with its descriptor.
    w1->reset();
    EXPECT_EQ(FindBdev("C0")->claim_type(), ClaimType::kNone);
    auto w3 = OpenBdev("C0", true);
    EXPECT_TRUE(w3.ok());
  });
}

TEST_F(RegistryTest, ExamineOffersEachNewBdevToEveryModule) {
  TestModule* other = GetTestModule("examiner");
  // Modules registered after start are initialized by the next start; examine still
  // offers new bdevs to every registered module.
  size_t before_test = module_->examined.size();
  size_t before_other = other->examined.size();
  ASSERT_NE(Create(Props("X0")), nullptr);
  ASSERT_NE(Create(Props("X1")), nullptr);
  RunOnApp([&] {
    ASSERT_EQ(module_->examined.size(), before_test + 2);
    EXPECT_EQ(module_->examined[before_test], "X0");
    EXPECT_EQ(module_->examined[before_test + 1], "X1");
    ASSERT_EQ(other->examined.size(), before_other + 2);
    EXPECT_EQ(other->examined.back(), "X1");
  });
  bool waited = false;
  RunOnApp([&] { WaitForExamine([&] { waited = true; }); });
  EXPECT_TRUE(WaitFor([&] { return waited; }));

  // A bdev registered before the layer starts is examined when it starts.
  StopLayer();
  ASSERT_NE(Create(Props("X2")), nullptr);
  RunOnApp([&] { EXPECT_NE(module_->examined.back(), "X2"); });
  StartLayer();
  RunOnApp([&] {
    EXPECT_EQ(module_->examined.back(), "X2");
    EXPECT_EQ(other->examined.back(), "X2");
  });
}

TEST_F(RegistryTest, ModulesInitInOrderAndFiniInReverse) {
  GetTestModule("second");  // registered after "test"
  EventLog().clear();
  StopLayer();
  StartLayer();
  auto pos = [](const std::string& e) {
    return std::find(EventLog().begin(), EventLog().end(), e) - EventLog().begin();
  };
  const auto n = static_cast<long>(EventLog().size());
  ASSERT_LT(pos("fini:test"), n);
  ASSERT_LT(pos("init:second"), n);
  EXPECT_LT(pos("fini:second"), pos("fini:test"));
  EXPECT_LT(pos("fini:test"), pos("init:test"));
  EXPECT_LT(pos("init:test"), pos("init:second"));
}

TEST_F(RegistryTest, StopUnregistersVirtualBdevsBeforeTheirBases) {
  ASSERT_NE(Create(Props("Base")), nullptr);
  TestBdev* top = Create(Props("Top"));
  ASSERT_NE(top, nullptr);
  // "Top" is a virtual bdev over "Base": it holds a claim until it is destructed.
  std::unique_ptr<BdevDesc>* base_desc = new std::unique_ptr<BdevDesc>();
  RunOnApp([&] {
    auto d = OpenBdev("Base", true);
    ASSERT_TRUE(d.ok());
    ASSERT_TRUE((*d)->Claim(ClaimType::kExclusiveWrite, "test").ok());
    *base_desc = std::move(*d);
    top->on_destruct = [base_desc] {
      base_desc->reset();
      delete base_desc;
    };
  });
  EventLog().clear();
  StopLayer();
  std::vector<std::string> order;
  for (const auto& e : EventLog()) {
    if (e.rfind("destruct:", 0) == 0) order.push_back(e);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"destruct:Top", "destruct:Base"}));
  EXPECT_TRUE(ListBdevs().empty());
  StartLayer();
}

TEST_F(RegistryTest, ResizeNotifiesDescriptorsAndWidensRange) {
  TestBdev* b = Create(Props("R", 16));
  ASSERT_NE(b, nullptr);
  std::unique_ptr<BdevDesc> desc;
  IoChannel* ch = nullptr;
  std::vector<BdevEvent> events;
  char buf[512];
  RunOnApp([&] {
    auto d = OpenBdev("R", false, [&](BdevEvent e) { events.push_back(e); });
    ASSERT_TRUE(d.ok());
    desc = std::move(*d);
    ch = desc->GetIoChannel();
    ASSERT_NE(ch, nullptr);
    EXPECT_EQ(desc->Read(ch, buf, 20, 1, OnIoDone, nullptr), -EINVAL);
    b->Resize(32);
  });
  ASSERT_TRUE(WaitFor([&] { return !events.empty(); }));
  IoResult r;
  RunOnApp([&] {
    EXPECT_EQ(events[0], BdevEvent::kResize);
    EXPECT_EQ(b->num_blocks(), 32u);
    EXPECT_EQ(desc->Read(ch, buf, 20, 1, OnIoDone, &r), 0);
  });
  ASSERT_TRUE(WaitFor([&] { return r.calls == 1; }));
  RunOnApp([&] {
    ch->Put();
    desc.reset();
  });
}

}  // namespace
}  // namespace bdevkit::test
