// The protocol layer without a socket: framing, replies, batches, notifications,
// limits, async completion, parse errors.
#include "rpc/jsonrpc_session.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bdevkit {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

// A dispatcher with a few fake methods: echo (params back), fail (invalid params),
// later (completes when the test says so); anything else is unknown.
struct Fake {
  std::vector<RpcDone> later;
  int calls = 0;
  RpcDispatchFn Fn() {
    return [this](const std::string& method, const json& params, RpcDone done) {
      ++calls;
      if (method == "echo") return done(params);
      if (method == "fail") return done(absl::InvalidArgumentError("\"x\": bad"));
      if (method == "later") return later.push_back(std::move(done));
      done(absl::UnimplementedError("Method not found: " + method));
    };
  }
};

// Splits the output into lines (each reply ends with "\n").
std::vector<std::string> Lines(const std::string& out) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(out.substr(start, nl - start));
  }
  EXPECT_EQ(start, out.size()) << "output does not end with a newline: " << out;
  return lines;
}

class SessionTest : public ::testing::Test {
 protected:
  std::shared_ptr<RpcSession> Make(RpcSessionLimits limits = {}) {
    return RpcSession::Create(limits, fake_.Fn());
  }
  Fake fake_;
};

TEST_F(SessionTest, ReplyIsCompactWithSpdkKeyOrder) {
  auto s = Make();
  s->Feed(R"({"jsonrpc":"2.0","method":"echo","id":1,"params":{"b":[1, 2],"a":"x"}})");
  EXPECT_EQ(s->output(), "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"a\":\"x\",\"b\":[1,2]}}\n");
  s->Consume(s->output().size());
  s->Feed(R"({"method":"fail","id":"q"})");
  EXPECT_EQ(s->output(),
            "{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"error\":{\"code\":-32602,\"message\":\"\\\"x\\\": "
            "bad\"}}\n");
  EXPECT_FALSE(s->closing());
}

TEST_F(SessionTest, IdsOfAnyTypeAreEchoed) {
  auto s = Make();
  for (const char* id : {"7", "-1.5", "\"abc\"", "null", "{\"k\":[1]}", "[1,\"2\"]", "true"}) {
    s->Feed(std::string(R"({"method":"echo","params":{},"id":)") + id + "}");
    std::vector<std::string> lines = Lines(s->output());
    ASSERT_EQ(lines.size(), 1u) << id;
    json reply = json::parse(lines[0]);
    EXPECT_EQ(reply["id"], json::parse(id));
    EXPECT_EQ(reply["result"], json::object());
    s->Consume(s->output().size());
  }
}

TEST_F(SessionTest, SplitAtEveryByteAndBackToBack) {
  const std::string stream =
      R"({"method":"echo","id":1,"params":{"s":"}{\"]"}} {"method":"echo","id":2}[{"method":"echo","id":3}])";
  for (size_t chunk = 1; chunk <= 7; ++chunk) {
    auto s = Make();
    for (size_t i = 0; i < stream.size(); i += chunk) s->Feed(stream.substr(i, chunk));
    std::vector<std::string> lines = Lines(s->output());
    ASSERT_EQ(lines.size(), 3u) << "chunk " << chunk;
    EXPECT_EQ(json::parse(lines[0])["result"]["s"], "}{\"]");
    EXPECT_EQ(json::parse(lines[1])["id"], 2);
    EXPECT_EQ(json::parse(lines[1])["result"], nullptr);
    EXPECT_EQ(json::parse(lines[2])[0]["id"], 3);
  }
}

TEST_F(SessionTest, NotificationsGetNoSuccessReplyButErrorsAreReported) {
  auto s = Make();
  s->Feed(R"({"method":"echo","params":{"a":1}})");
  EXPECT_EQ(s->output(), "");
  EXPECT_EQ(fake_.calls, 1);
  s->Feed(R"({"method":"nope"})");
  std::vector<std::string> lines = Lines(s->output());
  ASSERT_EQ(lines.size(), 1u);
  json reply = json::parse(lines[0]);
  EXPECT_EQ(reply["id"], nullptr);
  EXPECT_EQ(reply["error"]["code"], -32601);
}

TEST_F(SessionTest, BatchRepliesInRequestOrderWithoutNotifications) {
  auto s = Make();
  s->Feed(R"([{"method":"later","id":"a"},{"method":"echo","id":"b","params":{}},
              {"method":"echo"},5,{"method":"fail","id":"c"}])");
  EXPECT_EQ(s->output(), "") << "a batch answers once, when every member has";
  ASSERT_EQ(fake_.later.size(), 1u);
  fake_.later[0](json("done"));
  std::vector<std::string> lines = Lines(s->output());
  ASSERT_EQ(lines.size(), 1u);
  json reply = json::parse(lines[0]);
  ASSERT_TRUE(reply.is_array());
  ASSERT_EQ(reply.size(), 4u);
  EXPECT_EQ(reply[0]["id"], "a");
  EXPECT_EQ(reply[0]["result"], "done");
  EXPECT_EQ(reply[1]["id"], "b");
  EXPECT_EQ(reply[2]["error"]["code"], -32600);  // 5 is not a request object
  EXPECT_EQ(reply[3]["error"]["code"], -32602);

  s->Consume(s->output().size());
  s->Feed(R"([{"method":"echo"},{"method":"echo"}])");
  EXPECT_EQ(s->output(), "") << "a batch of notifications gets no reply at all";
  s->Feed("[]");
  lines = Lines(s->output());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(json::parse(lines[0])["error"]["code"], -32600);
  EXPECT_FALSE(json::parse(lines[0]).is_array());
}

TEST_F(SessionTest, InvalidRequestsKeepTheSessionOpen) {
  auto s = Make();
  const std::vector<std::string> bad = {
      R"({"jsonrpc":"1.0","method":"echo","id":1})", R"({"id":2})",        R"({"method":3,"id":3})",
      R"({"method":"echo","params":"x","id":4})",    R"("just a string")", "42 "};
  for (const std::string& b : bad) s->Feed(b);
  std::vector<std::string> lines = Lines(s->output());
  ASSERT_EQ(lines.size(), bad.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(json::parse(lines[i])["error"]["code"], -32600) << bad[i];
  }
  EXPECT_EQ(json::parse(lines[0])["id"], 1);
  EXPECT_THAT(lines[0], HasSubstr("jsonrpc"));
  EXPECT_FALSE(s->closing());
  EXPECT_EQ(fake_.calls, 0);
}

TEST_F(SessionTest, MalformedJsonRepliesParseErrorThenCloses) {
  auto s = Make();
  s->Feed(R"({"method":"echo","id":1}{"method":,"id":2}{"method":"echo","id":3})");
  std::vector<std::string> lines = Lines(s->output());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(json::parse(lines[0])["id"], 1);
  EXPECT_EQ(json::parse(lines[1])["error"]["code"], -32700);
  EXPECT_TRUE(s->closing());
  EXPECT_FALSE(s->WantsInput());
  s->Feed(R"({"method":"echo","id":4})");
  EXPECT_EQ(Lines(s->output()).size(), 2u) << "nothing is processed after a parse error";

  auto garbage = Make();
  garbage->Feed("hello");
  EXPECT_EQ(json::parse(Lines(garbage->output())[0])["error"]["code"], -32700);
  EXPECT_TRUE(garbage->closing());
}

TEST_F(SessionTest, TruncatedRequestAtEofIsAParseError) {
  auto s = Make();
  s->Feed(R"({"method":"echo","id":1} {"method":"ec)");
  s->FeedEof();
  std::vector<std::string> lines = Lines(s->output());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(json::parse(lines[1])["error"]["code"], -32700);
  EXPECT_THAT(lines[1], HasSubstr("incomplete"));
  EXPECT_TRUE(s->closing());
}

TEST_F(SessionTest, OversizedRequestIsSkippedAndAnswered) {
  RpcSessionLimits limits;
  limits.max_request_size = 100;
  auto s = Make(limits);
  std::string big =
      R"({"method":"echo","id":1,"params":{"s":")" + std::string(5000, 'x') + R"(\"}"}})";
  // Fed in pieces, so the scanner must find the end without keeping the bytes.
  for (size_t i = 0; i < big.size(); i += 333) s->Feed(big.substr(i, 333));
  s->Feed(R"({"method":"echo","id":2,"params":{}})");
  std::vector<std::string> lines = Lines(s->output());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(json::parse(lines[0])["error"]["code"], -32600);
  EXPECT_THAT(lines[0], HasSubstr("100 bytes"));
  EXPECT_EQ(json::parse(lines[1])["id"], 2);
  EXPECT_EQ(fake_.calls, 1);
  EXPECT_FALSE(s->closing());
}

TEST_F(SessionTest, OversizedResponseBecomesAnError) {
  RpcSessionLimits limits;
  limits.max_response_size = 200;
  auto s = Make(limits);
  s->Feed(R"({"method":"echo","id":1,"params":{"s":")" + std::string(300, 'y') + "\"}}");
  std::vector<std::string> lines = Lines(s->output());
  ASSERT_EQ(lines.size(), 1u);
  json reply = json::parse(lines[0]);
  EXPECT_EQ(reply["id"], 1);
  EXPECT_EQ(reply["error"]["code"], -32603);
  EXPECT_THAT(lines[0], HasSubstr("exceeds"));
}

TEST_F(SessionTest, AsyncRepliesGoOutInCompletionOrderAndSurviveTheSession) {
  auto s = Make();
  s->Feed(R"({"method":"later","id":1}{"method":"echo","id":2})");
  EXPECT_EQ(s->outstanding(), 1u);
  fake_.later[0](json(true));
  std::vector<std::string> lines = Lines(s->output());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(json::parse(lines[0])["id"], 2);
  EXPECT_EQ(json::parse(lines[1])["id"], 1);

  // The connection goes away while a request is still running: completing it later
  // must be harmless (ASan would catch a use-after-free).
  auto gone = Make();
  gone->Feed(R"({"method":"later","id":3})");
  gone.reset();
  fake_.later[1](json(true));
}

TEST_F(SessionTest, EofClosesOnlyAfterOutstandingRequestsAnswer) {
  auto s = Make();
  s->Feed(R"({"method":"later","id":1})");
  s->FeedEof();
  EXPECT_FALSE(s->closing());
  fake_.later[0](json(1));
  EXPECT_TRUE(s->closing());
  EXPECT_EQ(Lines(s->output()).size(), 1u);
}

TEST_F(SessionTest, StopsReadingAboveHighWaterAndResumes) {
  RpcSessionLimits limits;
  limits.output_high_water = 100;
  auto s = Make(limits);
  std::string many;
  for (int i = 0; i < 20; ++i) many += R"({"method":"echo","id":)" + std::to_string(i) + "}";
  s->Feed(many);
  EXPECT_FALSE(s->WantsInput());
  size_t first = Lines(s->output()).size();
  EXPECT_LT(first, 20u) << "kept processing past the high-water mark";
  size_t total = first;
  while (total < 20) {
    s->Consume(s->output().size());
    s->Resume();
    size_t n = Lines(s->output()).size();
    ASSERT_GT(n, 0u);
    total += n;
  }
  EXPECT_EQ(total, 20u);
  s->Consume(s->output().size());
  EXPECT_TRUE(s->WantsInput());
}

TEST(SessionDispatchTest, RealRegistryAnswersUnknownMethodAndBadParams) {
  auto s = RpcSession::Create({});
  s->Feed(R"({"jsonrpc":"2.0","method":"no_such_method","id":1})");
  s->Feed(R"({"jsonrpc":"2.0","method":"spdk_get_version","id":2,"params":{"x":1}})");
  s->Feed(R"({"jsonrpc":"2.0","method":"spdk_get_version","id":3})");
  std::vector<std::string> lines = Lines(s->output());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(json::parse(lines[0])["error"]["code"], -32601);
  EXPECT_EQ(json::parse(lines[1])["error"]["code"], -32602);
  EXPECT_THAT(lines[1], HasSubstr("\\\"x\\\""));
  json version = json::parse(lines[2])["result"];
  EXPECT_THAT(version["version"].get<std::string>(), HasSubstr("bdevkit"));
  EXPECT_TRUE(version["fields"]["major"].is_number());
  EXPECT_EQ(version["fields"]["suffix"], "");
  // Keys in SPDK's order on the wire (results keep their insertion order).
  EXPECT_THAT(lines[2], HasSubstr(R"("result":{"version":"bdevkit)"));
}

}  // namespace
}  // namespace bdevkit
