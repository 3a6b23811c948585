// libcurl is loaded when a process first talks to the network (the Kubernetes
// API, a webhook, Prometheus), not when it starts. Linked in, libcurl brings
// some 25 libraries (OpenSSL, GnuTLS, Kerberos, LDAP, SSH, IDN, ...) whose
// loading and relocation cost every worker about 5 MiB of resident memory,
// though most runs (log-cleanup, join-prep's checks, anything on a node
// without a kubeconfig) never open a connection. This unit dlopen()s
// libcurl.so.4 once, takes the ten functions nodeagent calls and runs
// curl_global_init (once for every libcurl user in the process: it is not
// thread-safe against other libcurl calls). The packages name libcurl as a
// dependency themselves (packaging/packaging.cmake), since no binary lists
// it as NEEDED any more.
#pragma once

#include <curl/curl.h>

#include "nodeagent/result.h"

namespace nodeagent::curl {

/// The libcurl functions nodeagent uses, as loaded.
struct CurlLibrary {
  CURL* (*easy_init)();
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  void (*easy_reset)(CURL*);
  void (*easy_cleanup)(CURL*);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
};

/// libcurl.so.4, loaded and initialised by the first call (thread-safe);
/// later calls give the same answer. kUnavailable naming the library and
/// the loader's reason when it cannot be loaded or lacks a function.
Result<const CurlLibrary*> LoadCurl();

/// Whether LoadCurl has loaded it (for tests: nothing loads it before the
/// first exchange).
bool CurlLoaded();

}  // namespace nodeagent::curl
