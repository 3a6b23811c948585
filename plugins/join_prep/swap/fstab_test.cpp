#include "swap/fstab.h"

#include <catch2/catch.hpp>

namespace nodeagent::join_prep {
namespace {

enum class Want { kSwapAtBoot, kSwapNoauto, kOther, kComment, kBlank, kMalformed };

struct Shape {
  const char* name;
  const char* line;
  Want want;
  const char* device = "";  // for swap lines: the device after unescaping
};

const Shape kShapes[] = {
    {"UUID=", "UUID=0a3407de-014b-458b-b5c1-848e92a327a3 none swap sw 0 0", Want::kSwapAtBoot,
     "UUID=0a3407de-014b-458b-b5c1-848e92a327a3"},
    {"LABEL=", "LABEL=SWAP none swap defaults 0 0", Want::kSwapAtBoot, "LABEL=SWAP"},
    {"PARTUUID=", "PARTUUID=6d4a3c2b-02 none swap sw 0 0", Want::kSwapAtBoot, "PARTUUID=6d4a3c2b-02"},
    {"PARTLABEL=", "PARTLABEL=linux-swap none swap sw 0 0", Want::kSwapAtBoot, "PARTLABEL=linux-swap"},
    {"/dev/sdX", "/dev/sda2 none swap sw 0 0", Want::kSwapAtBoot, "/dev/sda2"},
    {"/dev/mapper", "/dev/mapper/vg0-swap_1 none swap sw 0 0", Want::kSwapAtBoot, "/dev/mapper/vg0-swap_1"},
    {"swap file", "/swapfile none swap sw 0 0", Want::kSwapAtBoot, "/swapfile"},
    {"/dev/disk/by-uuid", "/dev/disk/by-uuid/0a3407de none swap sw 0 0", Want::kSwapAtBoot,
     "/dev/disk/by-uuid/0a3407de"},
    {"noauto", "/dev/sdb1 none swap noauto 0 0", Want::kSwapNoauto, "/dev/sdb1"},
    {"noauto in a list", "/dev/sdb2 none swap sw,noauto,pri=1 0 0", Want::kSwapNoauto, "/dev/sdb2"},
    {"noauto only as a substring", "/dev/sdb3 none swap x-noautofoo 0 0", Want::kSwapAtBoot, "/dev/sdb3"},
    {"sw,pri=5", "/dev/sdc1 none swap sw,pri=5 0 0", Want::kSwapAtBoot, "/dev/sdc1"},
    {"defaults", "/dev/sdc2 none swap defaults 0 0", Want::kSwapAtBoot, "/dev/sdc2"},
    {"mount point swap", "/dev/sdd1 swap swap defaults 0 0", Want::kSwapAtBoot, "/dev/sdd1"},
    {"commented swap", "# /dev/sde1 none swap sw 0 0", Want::kComment},
    {"indented commented swap", "   #UUID=1234 none swap sw 0 0", Want::kComment},
    {"comment", "# <file system> <mount point> <type> <options> <dump> <pass>", Want::kComment},
    {"tabs", "/dev/sdf1\tnone\tswap\tsw\t0\t0", Want::kSwapAtBoot, "/dev/sdf1"},
    {"tabs and spaces mixed", "  /dev/sdf2 \t none\t  swap  sw", Want::kSwapAtBoot, "/dev/sdf2"},
    {"trailing whitespace", "/dev/sdg1 none swap sw 0 0   \t", Want::kSwapAtBoot, "/dev/sdg1"},
    {"CRLF", "/dev/sdh1 none swap sw 0 0\r", Want::kSwapAtBoot, "/dev/sdh1"},
    {"blank", "", Want::kBlank},
    {"whitespace only", " \t ", Want::kBlank},
    {"three fields", "/dev/sdi1 none swap", Want::kSwapAtBoot, "/dev/sdi1"},
    {"two fields", "/dev/sdj1 swap", Want::kMalformed},
    {"one field", "swap", Want::kMalformed},
    {"pass not a number", "/dev/sdk1 none swap sw 0 x", Want::kMalformed},
    {"seven fields", "/dev/sdk2 none swap sw 0 0 extra", Want::kMalformed},
    {"octal escapes", "/srv/my\\040swap\\011file none swap sw 0 0", Want::kSwapAtBoot, "/srv/my swap\tfile"},
    {"root file system", "UUID=abcd / ext4 errors=remount-ro 0 1", Want::kOther},
    {"tmpfs noauto", "tmpfs /tmp tmpfs defaults,noauto 0 0", Want::kOther},
    {"type swap only in the mount point", "/dev/sdl1 /swap ext4 defaults 0 2", Want::kOther},
};

Want Classify(const FstabLine& l) {
  switch (l.kind) {
    case FstabLine::Kind::kBlank:
      return Want::kBlank;
    case FstabLine::Kind::kComment:
      return Want::kComment;
    case FstabLine::Kind::kMalformed:
      return Want::kMalformed;
    case FstabLine::Kind::kEntry:
      if (!l.IsSwapEntry()) return Want::kOther;
      return l.HasOption("noauto") ? Want::kSwapNoauto : Want::kSwapAtBoot;
  }
  return Want::kOther;
}

TEST_CASE("fstab: every real-world shape is classified", "[swap]") {
  for (const auto& shape : kShapes) {
    for (const char* ending : {"\n", ""}) {  // with and without a final newline
      INFO(shape.name << (*ending ? "" : " (no final newline)"));
      std::string text = std::string(shape.line) + ending;
      auto lines = ParseFstab(text);
      REQUIRE(lines);
      if (text.empty()) {
        CHECK(lines->empty());
        continue;
      }
      REQUIRE(lines->size() == 1);
      const auto& l = lines->front();
      CHECK(Classify(l) == shape.want);
      CHECK(l.number == 1);
      if (shape.want == Want::kSwapAtBoot || shape.want == Want::kSwapNoauto) CHECK(l.fields[0] == shape.device);
      if (shape.want == Want::kMalformed) CHECK_FALSE(l.problem.empty());
    }
  }
  STATIC_REQUIRE(sizeof(kShapes) / sizeof(kShapes[0]) >= 15);
}

TEST_CASE("fstab: three fields take defaults as options", "[swap]") {
  auto lines = ParseFstab("/dev/sdi1 none swap\n");
  REQUIRE(lines);
  REQUIRE(lines->front().fields.size() == 4);
  CHECK(lines->front().fields[3] == "defaults");
}

TEST_CASE("fstab: a malformed line that says swap is marked maybe-swap", "[swap]") {
  auto lines = ParseFstab("/dev/sdk1 none swap sw 0 x\n/dev/x swap\n");
  REQUIRE(lines);
  CHECK((*lines)[0].MaybeSwap());
  CHECK_FALSE((*lines)[1].MaybeSwap());  // two fields: the type is unknown
  CHECK((*lines)[1].problem == "2 fields, expected at least 3 (device, mount point, type)");
}

TEST_CASE("fstab: line numbers and offsets follow the bytes, CRLF included", "[swap]") {
  std::string text = "# c\r\n\r\nUUID=1 none swap sw 0 0\r\n/dev/sda1 / ext4 defaults 0 1";
  auto lines = ParseFstab(text);
  REQUIRE(lines);
  REQUIRE(lines->size() == 4);
  CHECK((*lines)[2].number == 3);
  CHECK((*lines)[2].offset == text.find("UUID="));
  CHECK((*lines)[2].text == "UUID=1 none swap sw 0 0");
  CHECK((*lines)[3].kind == FstabLine::Kind::kEntry);
}

TEST_CASE("fstab: commenting out keeps every other byte", "[swap]") {
  std::string text =
      "# /etc/fstab\r\n"
      "UUID=aa / ext4 errors=remount-ro 0 1\r\n"
      "/swapfile\tnone\tswap\tsw\t0\t0   \r\n"
      "\r\n"
      "/dev/sdb1 none swap noauto 0 0\r\n"
      "/dev/x swap\r\n"
      "LABEL=SWAP none swap sw,pri=5 0 0";  // no final newline
  auto lines = ParseFstab(text);
  REQUIRE(lines);
  std::vector<const FstabLine*> off;
  for (const auto& l : *lines)
    if (l.IsSwapEntry() && !l.HasOption("noauto")) off.push_back(&l);
  REQUIRE(off.size() == 2);
  std::string after = CommentOutLines(text, off);
  std::string marker(kFstabSwapOffMarker);
  CHECK(after ==
        "# /etc/fstab\r\n"
        "UUID=aa / ext4 errors=remount-ro 0 1\r\n" +
            marker +
            "/swapfile\tnone\tswap\tsw\t0\t0   \r\n"
            "\r\n"
            "/dev/sdb1 none swap noauto 0 0\r\n"
            "/dev/x swap\r\n" +
            marker + "LABEL=SWAP none swap sw,pri=5 0 0");
  // A second pass finds nothing more to turn off.
  auto again = ParseFstab(after);
  REQUIRE(again);
  for (const auto& l : *again) CHECK_FALSE((l.IsSwapEntry() && !l.HasOption("noauto")));
}

TEST_CASE("fstab: more than the line cap is refused", "[swap]") {
  std::string text;
  for (size_t i = 0; i <= kMaxFstabLines; ++i) text += "#\n";
  auto lines = ParseFstab(text);
  REQUIRE_FALSE(lines);
  CHECK(lines.error().message().find("more than 10000 lines") != std::string::npos);
}

}  // namespace
}  // namespace nodeagent::join_prep
