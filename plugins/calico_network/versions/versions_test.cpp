// The Calico/Kubernetes version table: parsing (and its file:line:col
// errors), image tags, Kubernetes version strings, the verdicts, the loader's
// fallback, and that the shipped file parses and is the built-in one.
#include "versions/versions.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "host/fake_host.h"
#include "host/local_file_system.h"

using namespace nodeagent;
using namespace nodeagent::calico;

namespace {

const char* kSmall = R"([calico."3.27"]
kubernetes = ["1.27", "1.28", "1.29"]
source = "https://docs.tigera.io/calico/3.27/getting-started/kubernetes/requirements"

[calico."3.9"]
kubernetes = ["1.16"]
)";

VersionTable Small() {
  auto t = ParseVersionTable(kSmall, "small.toml");
  REQUIRE(t);
  return *t;
}

std::string ShippedFile() {
  std::ifstream in(std::string(CALICO_NETWORK_SOURCE_DIR) + "/versions/calico-versions.toml");
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("the version table parses and sorts numerically") {
  VersionTable t = Small();
  CHECK(t.origin == "small.toml");
  REQUIRE(t.entries.size() == 2);
  CHECK(t.entries[0].calico == "3.9");
  CHECK(t.entries[1].calico == "3.27");
  CHECK(t.entries[1].kubernetes == std::vector<std::string>{"1.27", "1.28", "1.29"});
  CHECK(t.entries[1].source.find("docs.tigera.io") != std::string::npos);
  REQUIRE(t.Find("3.27") != nullptr);
  CHECK(t.Find("3.28") == nullptr);
  CHECK(t.Find("nonsense") == nullptr);
}

TEST_CASE("malformed version tables name file:line:col") {
  struct Case {
    const char* text;
    const char* where;
    const char* says;
  };
  Case cases[] = {
      {"[calico.\"3.27\"]\nkubernetes = [\"1.27\"\n", "v.toml:2:", ""},                    // TOML syntax
      {"[calico.\"3.27\"]\nkubernetes = [\"1.27\", 1]\n", "v.toml:2:23", "MAJOR.MINOR"},   // not a string
      {"[calico.\"3.27\"]\nkubernetes = [\"1.x\"]\n", "v.toml:2:15", "MAJOR.MINOR"},       // not a version
      {"[calico.\"3.27\"]\nkubernetes = \"1.27\"\n", "v.toml:2:14", "must be an array"},
      {"[calico.\"3.27\"]\nkubernetes = [\"1.27\"]\nsorce = \"x\"\n", "v.toml:3:1", "unknown key \"sorce\""},
      {"[calico.\"three\"]\nkubernetes = []\n", "v.toml:1:9", "MAJOR.MINOR"},
      {"[calico.\"3.27\"]\nsource = \"x\"\n", "v.toml:1:1", "no kubernetes list"},
      {"[calicoo.\"3.27\"]\nkubernetes = []\n", "v.toml:1:2", "unknown key \"calicoo\""},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto t = ParseVersionTable(c.text, "v.toml");
    REQUIRE_FALSE(t);
    CHECK(t.error().code() == ErrorCode::kInvalidArgument);
    CHECK(t.error().message().rfind(c.where, 0) == 0);
    CHECK(t.error().message().find(c.says) != std::string::npos);
  }
  auto empty = ParseVersionTable("", "v.toml");
  REQUIRE_FALSE(empty);
  CHECK(empty.error().message().find("no [calico") != std::string::npos);
  auto huge = ParseVersionTable(std::string(300 * 1024, '#'), "v.toml");
  REQUIRE_FALSE(huge);
  CHECK(huge.error().code() == ErrorCode::kTooLarge);
}

TEST_CASE("the shipped table parses and is the built-in one") {
  std::string shipped = ShippedFile();
  CHECK(shipped == std::string(BuiltinVersionTable()));
  auto t = ParseVersionTable(shipped, "calico-versions.toml");
  REQUIRE(t);
  REQUIRE(t->Find("3.27") != nullptr);
  CHECK(t->Find("3.27")->kubernetes == std::vector<std::string>{"1.27", "1.28", "1.29"});
  for (const char* minor : {"3.24", "3.25", "3.26", "3.28", "3.29", "3.30", "3.31", "3.32"}) {
    INFO(minor);
    REQUIRE(t->Find(minor) != nullptr);
    CHECK_FALSE(t->Find(minor)->kubernetes.empty());
    CHECK(t->Find(minor)->source.rfind("https://docs.tigera.io/", 0) == 0);
  }
}

TEST_CASE("LoadVersionTable reads the installed file, else falls back to the built-in table") {
  TempRoot root;
  LocalFileSystem fs(root.path());

  auto missing = LoadVersionTable(fs);
  REQUIRE(missing);
  CHECK(missing->table.origin == "built-in");
  CHECK_FALSE(missing->file_broken);
  CHECK(missing->note == "/usr/share/nodeagent/calico-network/versions.toml is missing; using the built-in table");

  root.Write(kInstalledVersionTablePath, kSmall);
  auto read = LoadVersionTable(fs);
  REQUIRE(read);
  CHECK(read->note.empty());
  CHECK(read->table.origin == kInstalledVersionTablePath);
  CHECK(read->table.entries.size() == 2);

  root.Write(kInstalledVersionTablePath, "[calico.\"3.27\"]\nkubernetes = [\n");
  auto broken = LoadVersionTable(fs);
  REQUIRE(broken);
  CHECK(broken->file_broken);
  CHECK(broken->table.origin == "built-in");
  CHECK(broken->note.rfind("/usr/share/nodeagent/calico-network/versions.toml:", 0) == 0);
  CHECK(broken->note.find("; using the built-in table") != std::string::npos);
}

TEST_CASE("the Calico version comes from calico-node's image tag") {
  struct Case {
    const char* image;
    const char* version;  // nullptr: an error containing `says`
    const char* says;
  };
  Case cases[] = {
      {"docker.io/calico/node:v3.27.2", "3.27.2", ""},
      {"quay.io/calico/node:v3.27.2@sha256:0123456789abcdef", "3.27.2", ""},
      {"calico/node:v3.27.2", "3.27.2", ""},
      {"registry:5000/calico/node:v3.26.1", "3.26.1", ""},
      {"calico/node:3.28.0", "3.28.0", ""},
      {"calico/node:v3.29", "3.29", ""},
      {"calico/node:v3.28.0-0.dev-12-gabc", "3.28.0-0.dev-12-gabc", ""},
      {"quay.io/calico/node@sha256:0123456789abcdef", nullptr, "digest only"},
      {"registry:5000/calico/node", nullptr, "no tag"},
      {"calico/node", nullptr, "no tag"},
      {"calico/node:latest", nullptr, "latest"},
      {"calico/node:master", nullptr, "not a Calico version"},
      {"calico/node:v3", nullptr, "not a Calico version"},
      {"calico/node:v3.27.2.1", nullptr, "not a Calico version"},
      {"calico/node:v3..2", nullptr, "not a Calico version"},
      {"", nullptr, "no calico-node image"},
  };
  for (const Case& c : cases) {
    INFO(c.image);
    auto v = CalicoVersionFromImage(c.image);
    if (c.version) {
      REQUIRE(v);
      CHECK(*v == c.version);
    } else {
      REQUIRE_FALSE(v);
      CHECK(v.error().message().find(c.says) != std::string::npos);
    }
  }
}

TEST_CASE("Kubernetes versions as the API server and kubelet report them") {
  struct Case {
    const char* text;
    int major, minor, patch;  // major -1: nullopt
  };
  Case cases[] = {
      {"v1.29.3", 1, 29, 3},       {"1.29.3", 1, 29, 3},   {"v1.29", 1, 29, 0},
      {"v1.29.3+k3s1", 1, 29, 3},  {"v1.30.0-rc.1", 1, 30, 0}, {"v1.28.5-eks-5e0fdde", 1, 28, 5},
      {"", -1, 0, 0},              {"1", -1, 0, 0},        {"v1.x", -1, 0, 0},
      {"v1.29.x", -1, 0, 0},       {"version", -1, 0, 0},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto k = ParseKubeVersion(c.text);
    if (c.major < 0) {
      CHECK_FALSE(k);
      continue;
    }
    REQUIRE(k);
    CHECK(k->major == c.major);
    CHECK(k->minor == c.minor);
    CHECK(k->patch == c.patch);
    CHECK(k->text == c.text);
  }
  CHECK(ParseKubeVersion("v1.29.3+k3s1")->Minor() == "1.29");
}

TEST_CASE("verdicts: yes, no for either side, unknown for what cannot be read") {
  VersionTable t = Small();
  struct Case {
    const char* image;
    const char* server;
    const char* kubelet;
    Support want;
    const char* says;
  };
  Case cases[] = {
      {"calico/node:v3.27.2", "v1.29.3", "v1.28.9+k3s1", Support::kYes, "Calico 3.27.2 is tested with Kubernetes 1.27, 1.28, 1.29"},
      {"calico/node:v3.27.2", "v1.30.1", "v1.29.3", Support::kNo,
       "Calico 3.27 is not tested with Kubernetes 1.30 (API server v1.30.1); it is tested with 1.27, 1.28, 1.29 (source: "
       "https://docs.tigera.io/calico/3.27/getting-started/kubernetes/requirements): move Calico to a release tested with 1.30"},
      {"calico/node:v3.27.2", "v1.29.3", "v1.26.0", Support::kNo, "(kubelet v1.26.0)"},
      {"calico/node:v3.28.0", "v1.29.3", "v1.29.3", Support::kUnknown,
       "Calico 3.28 is not in the version table (small.toml; it lists 3.9 to 3.27): add [calico.\"3.28\"]"},
      {"calico/node:latest", "v1.29.3", "v1.29.3", Support::kUnknown, "uses the tag latest"},
      {"", "v1.29.3", "v1.29.3", Support::kUnknown, "the calico-node image is not known"},
      {"calico/node:v3.27.2", "", "v1.29.3", Support::kUnknown, "the API server version is not known"},
      {"calico/node:v3.27.2", "v1.29.3", "garbage", Support::kUnknown, "the kubelet version \"garbage\" is not a Kubernetes version"},
      // A definite "no" wins over an unknown part.
      {"calico/node:v3.27.2", "v1.31.0", "", Support::kNo, "not tested with Kubernetes 1.31"},
      {"calico/node:v3.9.1", "v1.16.2", "v1.16.2", Support::kYes, ""},
  };
  for (const Case& c : cases) {
    INFO(c.image << " / " << c.server << " / " << c.kubelet);
    VersionVerdict v = CheckVersions(t, {c.image, c.server, c.kubelet});
    CHECK(v.supported == c.want);
    CHECK(v.message.find(c.says) != std::string::npos);
    CHECK(v.json["supported"] == std::string(SupportName(c.want)));
    CHECK(v.json["message"] == v.message);
    CHECK(v.json["table"] == "small.toml");
  }
  VersionVerdict yes = CheckVersions(t, {"quay.io/calico/node:v3.27.2@sha256:ab", "v1.29.3", "v1.28.9"});
  CHECK(yes.json == nlohmann::json{{"calico", "3.27.2"},
                                    {"calico_image", "quay.io/calico/node:v3.27.2@sha256:ab"},
                                    {"kubernetes", "v1.29.3"},
                                    {"kubelet", "v1.28.9"},
                                    {"supported", "yes"},
                                    {"table", "small.toml"},
                                    {"message", yes.message}});
  VersionVerdict none = CheckVersions(t, {"", "", ""});
  CHECK(none.json["calico"].is_null());
  CHECK(none.json["calico_image"].is_null());
  CHECK(none.json["kubernetes"].is_null());
  CHECK(none.json["kubelet"].is_null());
}
