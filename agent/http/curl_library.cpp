#include "http/curl_library.h"

#include <dlfcn.h>

#include <atomic>
#include <type_traits>
#include <mutex>
#include <string>

namespace nodeagent::curl {

namespace {

constexpr const char* kSoname = "libcurl.so.4";

std::atomic<bool> g_loaded{false};

Result<const CurlLibrary*> Load() {
  // RTLD_LOCAL: its symbols serve only the pointers below. Never closed.
  void* lib = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = ::dlerror();
    return Error(ErrorCode::kUnavailable, std::string("cannot load ") + kSoname + " (install libcurl4 or libcurl): " +
                                              (why ? why : "unknown reason"));
  }
  static CurlLibrary api;
  std::string missing;
  auto take = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(lib, name));
    if (!fn) missing += std::string(missing.empty() ? "" : ", ") + name;
  };
  take(api.easy_init, "curl_easy_init");
  take(api.easy_setopt, "curl_easy_setopt");
  take(api.easy_perform, "curl_easy_perform");
  take(api.easy_getinfo, "curl_easy_getinfo");
  take(api.easy_reset, "curl_easy_reset");
  take(api.easy_cleanup, "curl_easy_cleanup");
  take(api.easy_strerror, "curl_easy_strerror");
  take(api.slist_append, "curl_slist_append");
  take(api.slist_free_all, "curl_slist_free_all");
  CURLcode (*global_init)(long) = nullptr;
  take(global_init, "curl_global_init");
  if (!missing.empty()) return Error(ErrorCode::kUnavailable, std::string(kSoname) + " lacks " + missing);
  if (CURLcode c = global_init(CURL_GLOBAL_DEFAULT); c != CURLE_OK)
    return Error(ErrorCode::kUnavailable, std::string("curl_global_init failed: ") + api.easy_strerror(c));
  g_loaded = true;
  return &api;
}

}  // namespace

Result<const CurlLibrary*> LoadCurl() {
  static std::once_flag once;
  static Result<const CurlLibrary*>* answer = nullptr;
  std::call_once(once, [] { answer = new Result<const CurlLibrary*>(Load()); });
  return *answer;
}

bool CurlLoaded() { return g_loaded; }

}  // namespace nodeagent::curl
