#include "swap/proc_swaps.h"

#include <catch2/catch.hpp>

namespace nodeagent::join_prep {
namespace {

constexpr const char* kHeader = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";

TEST_CASE("proc/swaps: header only means no swap", "[swap]") {
  auto swaps = ParseProcSwaps(kHeader);
  REQUIRE(swaps);
  CHECK(swaps->empty());
}

TEST_CASE("proc/swaps: partitions, files, escapes and deleted files", "[swap]") {
  std::string text = std::string(kHeader) +
                     "/dev/sda2                               partition\t2097148\t\t0\t\t-2\n"
                     "/swap\\040file                          file\t\t1048572\t\t512\t\t-3\n"
                     "/old\\040swap\\040(deleted)            file\t\t4096\t\t0\t\t-4\n"
                     "/var/tmp/gone\\040(deleted)             file\t\t4096\t\t0\t\t-5\n"
                     "/dev/zram0                              partition\t8388604\t\t0\t\t100";  // no newline
  auto swaps = ParseProcSwaps(text);
  REQUIRE(swaps);
  REQUIRE(swaps->size() == 5);
  CHECK((*swaps)[0].path == "/dev/sda2");
  CHECK((*swaps)[0].type == "partition");
  CHECK((*swaps)[0].size_kib == "2097148");
  CHECK((*swaps)[1].path == "/swap file");
  CHECK_FALSE((*swaps)[1].deleted);
  CHECK((*swaps)[2].path == "/old swap");
  CHECK((*swaps)[2].deleted);
  CHECK((*swaps)[3].path == "/var/tmp/gone");
  CHECK((*swaps)[3].deleted);
  CHECK((*swaps)[4].priority == "100");
}

TEST_CASE("proc/swaps: bad input names the line", "[swap]") {
  auto no_header = ParseProcSwaps("/dev/sda2 partition 1 0 -2\n");
  REQUIRE_FALSE(no_header);
  CHECK(no_header.error().message().find("/proc/swaps:1") != std::string::npos);

  auto short_line = ParseProcSwaps(std::string(kHeader) + "/dev/sda2 partition 1\n");
  REQUIRE_FALSE(short_line);
  CHECK(short_line.error().message().find("/proc/swaps:2: expected 5 fields") != std::string::npos);

  std::string many = kHeader;
  for (size_t i = 0; i <= kMaxProcSwapsEntries; ++i) many += "/dev/x partition 1 0 -1\n";
  auto too_many = ParseProcSwaps(many);
  REQUIRE_FALSE(too_many);
  CHECK(too_many.error().message().find("more than 256 swap areas") != std::string::npos);

  REQUIRE_FALSE(ParseProcSwaps(""));
}

TEST_CASE("octal unescape keeps what is not an escape", "[swap]") {
  CHECK(UnescapeOctal("a\\040b") == "a b");
  CHECK(UnescapeOctal("a\\134b") == "a\\b");
  CHECK(UnescapeOctal("a\\09b") == "a\\09b");
  CHECK(UnescapeOctal("end\\04") == "end\\04");
  CHECK(UnescapeOctal("\\") == "\\");
}

}  // namespace
}  // namespace nodeagent::join_prep
