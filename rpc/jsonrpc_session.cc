#include "rpc/jsonrpc_session.h"

#include <exception>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "rpc/status_mapping.h"

namespace bdevkit {
namespace {

using json = nlohmann::json;

// Replies never throw on odd bytes: strings are valid UTF-8 after parsing, but
// handler results might not be, so invalid sequences are replaced rather than thrown.
template <typename Json>
std::string Compact(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

std::string JsonRpcResultText(const json& id, const RpcJson& result) {
  // Built by hand: nlohmann objects sort their keys, SPDK's order is fixed.
  return absl::StrCat("{\"jsonrpc\":\"2.0\",\"id\":", Compact(id), ",\"result\":", Compact(result),
                      "}");
}

std::string JsonRpcErrorText(const json& id, int code, std::string_view message) {
  return absl::StrCat("{\"jsonrpc\":\"2.0\",\"id\":", Compact(id), ",\"error\":{\"code\":", code,
                      ",\"message\":", Compact(json(std::string(message))), "}}");
}

void DispatchRpcRequest(const std::string& method, const json& params, RpcDone done) {
  // The state check (start-up vs runtime methods) is CallRpcMethod's, for every caller.
  CallRpcMethod(method, params, std::move(done));
}

// A batch answers once, when its last member has: the members' replies in request
// order (notifications leave no entry), or nothing when all were notifications.
struct RpcSession::Batch {
  std::vector<std::string> replies;
  size_t remaining = 0;
};

std::shared_ptr<RpcSession> RpcSession::Create(RpcSessionLimits limits, RpcDispatchFn dispatch) {
  return std::shared_ptr<RpcSession>(new RpcSession(limits, std::move(dispatch)));
}

void RpcSession::Feed(std::string_view data) {
  if (closing_ || eof_) return;
  in_.append(data.data(), data.size());
  Process();
}

void RpcSession::FeedEof() {
  if (eof_) return;
  eof_ = true;
  Process();
}

void RpcSession::Resume() { Process(); }

void RpcSession::Consume(size_t n) { out_.erase(0, n); }

bool RpcSession::WantsInput() const {
  return !closing_ && !eof_ && out_.size() < limits_.output_high_water;
}

void RpcSession::Emit(std::string text) {
  out_ += text;
  out_ += '\n';
}

void RpcSession::FailParse(std::string_view why) {
  Emit(JsonRpcErrorText(nullptr, kJsonRpcParseError,
                        absl::StrCat("Parse error: ", std::string(why))));
  closing_ = true;
  in_.clear();
  start_ = pos_ = 0;
}

void RpcSession::Process() {
  if (in_process_) return;  // a synchronous reply cannot re-enter the loop
  in_process_ = true;
  try {
    while (!closing_ && out_.size() < limits_.output_high_water) {
      const bool was_started = scanner_.started();
      size_t p = pos_;
      const JsonValueScanner::Result r = scanner_.Scan(in_, &p);
      pos_ = p;
      if (!was_started) start_ = scanner_.started() ? scanner_.value_start() : pos_;
      if (r == JsonValueScanner::Result::kError) {
        FailParse(scanner_.started() ? "JSON nested too deeply" : "invalid JSON");
        break;
      }
      if (r == JsonValueScanner::Result::kNeedMore) {
        if (scanner_.started() && (discarding_ || pos_ - start_ > limits_.max_request_size)) {
          // Over the limit: forget the bytes, keep the scanner's state to find the end.
          discarded_ += pos_ - start_;
          discarding_ = true;
          in_.clear();
          start_ = pos_ = 0;
        }
        if (eof_ && scanner_.started()) FailParse("incomplete JSON value at end of stream");
        break;
      }
      // A complete value: in_[start_, pos_).
      const size_t size = discarded_ + (pos_ - start_);
      if (discarding_ || size > limits_.max_request_size) {
        Emit(JsonRpcErrorText(nullptr, kJsonRpcInvalidRequest,
                              absl::StrCat("Invalid request: ", size, " bytes, more than the ",
                                           limits_.max_request_size, " bytes allowed")));
      } else {
        HandleValue(std::string_view(in_).substr(start_, pos_ - start_));
      }
      discarding_ = false;
      discarded_ = 0;
      scanner_.Reset();
      start_ = pos_;
    }
  } catch (const std::exception& e) {
    // Nothing above should throw; if it does, end this conversation, not the daemon.
    LOG_ERROR("rpc: closing a connection after an internal error: %s", e.what());
    Emit(JsonRpcErrorText(nullptr, kJsonRpcInternalError, "Internal error"));
    closing_ = true;
  }
  // Drop what was consumed, now and then, so the buffer does not grow without bound.
  if (!closing_ && start_ > 0 && (start_ == in_.size() || start_ >= 64 * 1024)) {
    in_.erase(0, start_);
    pos_ -= start_;
    start_ = 0;
  }
  in_process_ = false;
}

void RpcSession::HandleValue(std::string_view text) {
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    FailParse("invalid JSON");
    return;
  }
  ++outstanding_;
  std::weak_ptr<RpcSession> weak = weak_from_this();
  // Emits a top-level reply (empty = none) if the session still exists.
  auto finish = [weak](std::string reply) {
    std::shared_ptr<RpcSession> self = weak.lock();
    if (!self) return;
    --self->outstanding_;
    if (!reply.empty()) self->Emit(std::move(reply));
  };
  if (!value.is_array()) {
    HandleRequest(value, std::move(finish));
    return;
  }
  if (value.empty()) {
    finish(JsonRpcErrorText(nullptr, kJsonRpcInvalidRequest, "Invalid request: empty batch"));
    return;
  }
  auto batch = std::make_shared<Batch>();
  batch->replies.resize(value.size());
  batch->remaining = value.size();
  const size_t max_response = limits_.max_response_size;
  for (size_t i = 0; i < value.size(); ++i) {
    HandleRequest(value[i], [batch, i, finish, max_response](std::string reply) {
      batch->replies[i] = std::move(reply);
      if (--batch->remaining > 0) return;
      std::string joined;
      for (std::string& r : batch->replies) {
        if (r.empty()) continue;
        absl::StrAppend(&joined, joined.empty() ? "[" : ",", r);
      }
      if (!joined.empty()) joined += ']';
      if (joined.size() > max_response) {
        joined = JsonRpcErrorText(nullptr, kJsonRpcInternalError,
                                  absl::StrCat("Internal error: batch response of ", joined.size(),
                                               " bytes exceeds the limit of ", max_response));
      }
      finish(std::move(joined));
    });
  }
}

void RpcSession::HandleRequest(const json& request, std::function<void(std::string)> reply) {
  if (!request.is_object()) {
    reply(JsonRpcErrorText(nullptr, kJsonRpcInvalidRequest,
                           "Invalid request: a request must be a JSON object"));
    return;
  }
  auto id_it = request.find("id");
  const bool notification = id_it == request.end();
  json id = notification ? json(nullptr) : *id_it;
  auto invalid = [&](std::string_view why) {
    reply(JsonRpcErrorText(id, kJsonRpcInvalidRequest,
                           absl::StrCat("Invalid request: ", std::string(why))));
  };
  if (auto v = request.find("jsonrpc"); v != request.end() && *v != "2.0") {
    return invalid("\"jsonrpc\" must be \"2.0\"");
  }
  auto method = request.find("method");
  if (method == request.end()) return invalid("\"method\" is missing");
  if (!method->is_string()) return invalid("\"method\" must be a string");
  json params;
  if (auto p = request.find("params"); p != request.end()) {
    if (!p->is_object() && !p->is_array() && !p->is_null()) {
      return invalid("\"params\" must be an object or an array");
    }
    params = *p;
  }
  const size_t max_response = limits_.max_response_size;
  dispatch_(
      method->get<std::string>(), params,
      [id = std::move(id), notification, reply = std::move(reply), max_response](RpcResult result) {
        if (result.ok()) {
          // Notifications get no reply on success (errors are still reported).
          if (notification) return reply(std::string());
          std::string text = JsonRpcResultText(id, *result);
          if (text.size() > max_response) {
            text = JsonRpcErrorText(id, kJsonRpcInternalError,
                                    absl::StrCat("Internal error: response of ", text.size(),
                                                 " bytes exceeds the limit of ", max_response));
          }
          return reply(std::move(text));
        }
        JsonRpcError error = StatusToJsonRpcError(result.status());
        reply(JsonRpcErrorText(id, error.code, error.message));
      });
}

}  // namespace bdevkit
