// The control protocol's table: every op has one row with the access it
// needs, each row reaches its own handler, and authorisation is read from
// the row (a member of the nodeagent group is refused every op that changes
// the node, a stranger every op).
#include "daemon/control_operations.h"

#include <catch2/catch.hpp>

#include <map>
#include <stdexcept>

using namespace nodeagent;
using json = nlohmann::json;

namespace {

constexpr long kGroup = 4242;
const PeerCredentials kRoot{1, 0, 0, {}};
const PeerCredentials kMember{2, 1000, 1000, {kGroup}};
const PeerCredentials kStranger{3, 1001, 1001, {}};

/// Every op of the protocol and what it needs. The table must say the same.
const std::map<std::string, Access> kProtocol = {
    {"ping", Access::kRead},     {"status", Access::kRead},      {"list", Access::kRead},
    {"describe", Access::kRead}, {"history", Access::kRead},     {"logs", Access::kRead},
    {"get", Access::kChange},    {"config-show", Access::kRead}, {"reload", Access::kChange},
    {"cancel", Access::kChange}, {"run", Access::kChange},       {"audit", Access::kRead},
};

/// Which method each op is answered by.
const std::map<std::string, std::string> kHandlerOf = {
    {"ping", "OnPing"},       {"status", "OnStatus"}, {"list", "OnList"},           {"describe", "OnDescribe"},
    {"history", "OnHistory"}, {"logs", "OnLogs"},     {"get", "OnLogs"},            {"config-show", "OnConfigShow"},
    {"reload", "OnReload"},   {"cancel", "OnCancel"}, {"run", "OnRun"},             {"audit", "OnAudit"},
};

struct FakeReplyStream : ReplyStream {
  std::vector<json> lines;
  bool closed = false;
  void Send(const json& line, bool last) override {
    lines.push_back(line);
    closed = closed || last;
  }
};

/// Records which method answered, and answers {"type":"ok"}.
struct FakeControlHandlers : ControlHandlers {
  std::vector<std::string> calls;
  void Answer(const char* name, const Out& out) {
    calls.push_back(name);
    out->Send({{"type", "ok"}}, true);
  }
  void OnPing(const ControlRequest&, const Out& out) override { Answer("OnPing", out); }
  void OnStatus(const ControlRequest&, const Out& out) override { Answer("OnStatus", out); }
  void OnList(const ControlRequest&, const Out& out) override { Answer("OnList", out); }
  void OnDescribe(const ControlRequest&, const Out& out) override { Answer("OnDescribe", out); }
  void OnHistory(const ControlRequest&, const Out& out) override { Answer("OnHistory", out); }
  void OnLogs(const ControlRequest&, const Out& out) override { Answer("OnLogs", out); }
  void OnAudit(const ControlRequest&, const Out& out) override { Answer("OnAudit", out); }
  void OnConfigShow(const ControlRequest&, const Out& out) override { Answer("OnConfigShow", out); }
  void OnReload(const ControlRequest&, const Out& out) override { Answer("OnReload", out); }
  void OnCancel(const ControlRequest&, const Out& out) override { Answer("OnCancel", out); }
  void OnRun(const ControlRequest&, const Out& out) override { Answer("OnRun", out); }
};

ControlDispatcher MakeDispatcher(std::vector<ControlOperation> table) {
  auto d = ControlDispatcher::Make(std::move(table));
  REQUIRE(d.ok());
  d->set_reader_group(kGroup);
  return std::move(*d);
}

std::shared_ptr<FakeReplyStream> Ask(const ControlDispatcher& d, const PeerCredentials& peer, const std::string& line) {
  auto out = std::make_shared<FakeReplyStream>();
  d.Handle(peer, line, out);
  return out;
}

std::string Op(const std::string& op) { return json{{"op", op}}.dump(); }

}  // namespace

TEST_CASE("control ops: every op of the protocol has exactly one row, with the access it needs") {
  FakeControlHandlers handlers;
  auto table = ControlOperations(handlers);
  std::map<std::string, int> rows;
  for (const ControlOperation& row : table) {
    ++rows[row.op];
    INFO(row.op);
    REQUIRE(kProtocol.count(row.op) == 1);
    CHECK(row.access == kProtocol.at(row.op));
    CHECK(row.handler);
  }
  for (const auto& [op, access] : kProtocol) {
    INFO(op);
    CHECK(rows[op] == 1);
  }
  CHECK(table.size() == kProtocol.size());
  CHECK(ControlDispatcher::Make(std::move(table)).ok());
}

TEST_CASE("control ops: each op reaches its own handler") {
  FakeControlHandlers handlers;
  ControlDispatcher d = MakeDispatcher(ControlOperations(handlers));
  for (const auto& [op, method] : kHandlerOf) {
    INFO(op);
    handlers.calls.clear();
    auto out = Ask(d, kRoot, Op(op));
    REQUIRE(handlers.calls.size() == 1);
    CHECK(handlers.calls[0] == method);
    REQUIRE(out->lines.size() == 1);
    CHECK(out->lines[0]["type"] == "ok");
    CHECK(out->closed);
  }
}

TEST_CASE("control ops: a nodeagent group member is refused each privileged op, a stranger every op") {
  FakeControlHandlers handlers;
  auto table = ControlOperations(handlers);
  ControlDispatcher d = MakeDispatcher(table);
  for (const ControlOperation& row : table) {
    INFO(row.op);
    handlers.calls.clear();
    auto member = Ask(d, kMember, Op(row.op));
    REQUIRE(member->lines.size() == 1);
    if (row.access == Access::kChange) {
      CHECK(member->lines[0]["code"] == "permission_denied");
      CHECK(handlers.calls.empty());
    } else {
      CHECK(member->lines[0]["type"] == "ok");
      CHECK(handlers.calls.size() == 1);
    }
    handlers.calls.clear();
    auto stranger = Ask(d, kStranger, Op(row.op));
    REQUIRE(stranger->lines.size() == 1);
    CHECK(stranger->lines[0]["code"] == "permission_denied");
    CHECK(stranger->closed);
    CHECK(handlers.calls.empty());
  }
}

TEST_CASE("control dispatcher: the access checked is the row's") {
  int called = 0;
  auto handler = [&called](const ControlRequest&, const std::shared_ptr<ReplyStream>& out) {
    ++called;
    out->Send({{"type", "ok"}}, true);
  };
  ControlDispatcher d = MakeDispatcher({{"status", Access::kChange, handler}, {"run", Access::kRead, handler}});
  CHECK(Ask(d, kMember, Op("status"))->lines[0]["code"] == "permission_denied");
  CHECK(called == 0);
  CHECK(Ask(d, kMember, Op("run"))->lines[0]["type"] == "ok");
  CHECK(called == 1);
}

TEST_CASE("control dispatcher: unknown ops, malformed lines, failing handlers, bad tables") {
  auto throwing = [](const ControlRequest&, const std::shared_ptr<ReplyStream>&) {
    throw std::runtime_error("boom");
  };
  ControlDispatcher d = MakeDispatcher({{"status", Access::kRead, throwing}});
  // Only root learns that an op does not exist.
  CHECK(Ask(d, kMember, Op("frobnicate"))->lines[0]["code"] == "permission_denied");
  auto unknown = Ask(d, kRoot, Op("frobnicate"));
  CHECK(unknown->lines[0]["code"] == "bad_request");
  CHECK(unknown->lines[0]["error"] == "unknown op 'frobnicate'");
  for (const char* line : {"not json", "[1]", "{\"op\": 3}", "{\"target\": \"x\"}"}) {
    INFO(line);
    auto out = Ask(d, kRoot, line);
    CHECK(out->lines[0]["code"] == "bad_request");
    CHECK(out->closed);
  }
  auto failed = Ask(d, kRoot, Op("status"));
  CHECK(failed->lines[0]["code"] == "error");
  CHECK(failed->lines[0]["error"] == "internal error: boom");

  auto noop = [](const ControlRequest&, const std::shared_ptr<ReplyStream>&) {};
  auto twice = ControlDispatcher::Make({{"status", Access::kRead, noop}, {"status", Access::kChange, noop}});
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().message() == "control operation 'status' has two rows");
  CHECK_FALSE(ControlDispatcher::Make({{"status", Access::kRead, nullptr}}).ok());
}
