// WatchStreamParser on chunks cut anywhere, ERROR events and the event cap.
#include "kube/watch_stream.h"

#include <catch2/catch.hpp>

using namespace nodeagent;
using namespace nodeagent::kube;

TEST_CASE("watch stream: events split across chunks arrive whole and move the resourceVersion") {
  std::vector<WatchEvent> seen;
  WatchCallback cb = [&](const WatchEvent& e) {
    seen.push_back(e);
    return true;
  };
  std::string rv = "1";
  WatchStreamParser p(cb, rv, 1 << 20);
  std::string stream =
      R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"5"}}})" "\n"
      "\n"
      R"({"type":"SOMETHING_NEW","object":{}})" "\n"
      R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"7"}}})" "\n"
      R"({"type":"DELETED","object":{"metadata":{"name":"a","resourceVersion":"8"}}})" "\n";
  for (size_t i = 0; i < stream.size(); i += 7) REQUIRE(p.OnData(std::string_view(stream).substr(i, 7)));
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].type == WatchEventType::kAdded);
  CHECK(seen[0].object["metadata"]["name"] == "a");
  CHECK(seen[1].type == WatchEventType::kBookmark);
  CHECK(seen[2].type == WatchEventType::kDeleted);
  CHECK(rv == "8");
  CHECK(p.events() == 3);
  CHECK_FALSE(p.stream_error());
}

TEST_CASE("watch stream: what ends a stream") {
  std::string rv;
  WatchCallback yes = [](const WatchEvent&) { return true; };
  SECTION("410 Gone") {
    WatchStreamParser p(yes, rv, 1 << 20);
    CHECK_FALSE(p.OnData(R"({"type":"ERROR","object":{"kind":"Status","code":410,"message":"too old"}})" "\n"));
    CHECK(p.gone());
    CHECK_FALSE(p.stream_error());
  }
  SECTION("another ERROR") {
    WatchStreamParser p(yes, rv, 1 << 20);
    CHECK_FALSE(p.OnData(R"({"type":"ERROR","object":{"code":500,"message":"etcd down"}})" "\n"));
    CHECK(p.stream_error());
    CHECK(p.stream_error_message() == "watch error: etcd down");
  }
  SECTION("a malformed line") {
    WatchStreamParser p(yes, rv, 1 << 20);
    CHECK_FALSE(p.OnData("<html>proxy error</html>\n"));
    CHECK(p.stream_error_message() == "malformed watch event");
  }
  SECTION("a line over the cap, before it ends") {
    WatchStreamParser p(yes, rv, 1 << 20);
    CHECK(p.OnData(std::string(1 << 20, 'x')));
    CHECK_FALSE(p.OnData("x"));
    CHECK(p.stream_error_message() == "watch event larger than 1 MiB (the client's limit)");
  }
  SECTION("the callback says stop") {
    WatchCallback no = [](const WatchEvent&) { return false; };
    WatchStreamParser p(no, rv, 1 << 20);
    CHECK_FALSE(p.OnData(R"({"type":"ADDED","object":{}})" "\n" R"({"type":"ADDED","object":{}})" "\n"));
    CHECK(p.callback_stopped());
    CHECK(p.events() == 1);
  }
}
