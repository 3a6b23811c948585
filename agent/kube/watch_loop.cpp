#include "kube/watch_loop.h"


#include "kube/resource_requests.h"
#include "kube/retry_policy.h"
#include "kube/watch_stream.h"

namespace nodeagent::kube {

namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

Result<std::string> CollectionPath(const WatchRequest& request) {
  if (!request.path.empty()) {
    if (Status s = CheckRequestPath(request.path); !s.ok()) return s.error().Wrap("watch");
    return request.path;
  }
  KubeResourceRef ref;
  if (request.resource == WatchResource::kNodes) {
    ref.resource = "nodes";
  } else {
    ref.resource = "pods";
    ref.ns = request.ns;
  }
  return ResourcePath(ref);
}

}  // namespace

KubeStatus RunWatch(RetryingRequester& requester, const WatchRequest& request, const WatchCallback& callback,
                    const std::atomic<bool>* stop) {
  Clock& clock = requester.clock();
  const KubeOptions& options = requester.options();
  auto collection = CollectionPath(request);
  if (!collection) return KubeStatus(collection.error());
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (request.duration.count() > 0) deadline = clock.Monotonic() + request.duration;
  auto done = [&] { return (stop && stop->load()) || (deadline && clock.Monotonic() >= *deadline); };
  std::string rv = request.resource_version;
  int failures = 0;
  auto failing_since = clock.Monotonic();
  while (!done()) {
    if (rv.empty()) {
      // (Re)list: one event with the whole current state.
      ListOptions lo;
      lo.label_selector = request.label_selector;
      lo.field_selector = request.field_selector;
      lo.limit = 500;
      json all = {{"items", json::array()}};
      for (;;) {
        KubeRequest list = KubeRequest::Get(*collection);
        list.query = requests::ListQuery(lo);
        auto page = requester.Call(list);
        if (!page) return KubeStatus(page.error().Wrap("watch: listing"), page.detail());
        for (auto& item : (*page)["items"]) all["items"].push_back(std::move(item));
        all["apiVersion"] = page->value("apiVersion", "v1");
        all["kind"] = page->value("kind", "List");
        all["metadata"]["resourceVersion"] = page->value("/metadata/resourceVersion"_json_pointer, "");
        lo.continue_token = page->value("/metadata/continue"_json_pointer, "");
        if (lo.continue_token.empty()) break;
      }
      rv = all["metadata"]["resourceVersion"].get<std::string>();
      if (!callback(WatchEvent{WatchEventType::kRelisted, std::move(all)})) return KubeStatus();
      if (done()) break;
    }
    auto window = options.watch_reconnect;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::seconds>(*deadline - clock.Monotonic()) +
                  std::chrono::seconds(1);
      window = std::min(window, left);
    }
    KubeRequest req = KubeRequest::Get(*collection);
    req.query = {{"watch", "1"},
                 {"allowWatchBookmarks", "true"},
                 {"resourceVersion", rv},
                 {"labelSelector", request.label_selector},
                 {"fieldSelector", request.field_selector},
                 {"timeoutSeconds", std::to_string(std::max<int64_t>(1, window.count()))}};

    WatchStreamParser parser(callback, rv, options.max_watch_event_bytes);
    bool aborted = false;
    auto should_abort = [&] {
      if ((stop && stop->load()) || (deadline && clock.Monotonic() >= *deadline)) aborted = true;
      return aborted;
    };
    auto attempt = requester.StreamOnce(req, parser, should_abort,
                                        std::chrono::duration_cast<milliseconds>(window) + milliseconds(30'000));
    if (!attempt) return KubeStatus(attempt.error());
    const curl::ExchangeResult& r = *attempt;
    if (parser.callback_stopped() || aborted) return KubeStatus();
    if (parser.events() > 0) {
      failures = 0;
      failing_since = clock.Monotonic();
    }
    if (parser.gone() || r.status == 410) {
      requester.Log(LogLevel::kInfo,
                    requester.Describe(req) + ": resourceVersion " + rv + " is too old (410 Gone); relisting");
      rv.clear();
      continue;
    }
    bool completed = r.failure == curl::TransferFailure::kNone || r.failure == curl::TransferFailure::kClosedEarly;
    if (parser.stream_error()) {
      requester.Log(LogLevel::kWarning, requester.Describe(req) + ": " + parser.stream_error_message() + "; reconnecting");
    } else if (r.status == 200 && completed) {
      failures = 0;  // the server closed the window: reconnect from rv
      failing_since = clock.Monotonic();
      continue;
    }
    bool permanent = r.failure == curl::TransferFailure::kPermanent || r.failure == curl::TransferFailure::kTooLarge;
    bool retryable = r.status == 0 || r.status == 200 ? !permanent : IsRetryableStatus(r.status);
    if (r.status == 401 && requester.credentials().CanRefresh() && failures == 0) {
      requester.credentials().Invalidate();
      retryable = true;
    }
    std::optional<std::chrono::seconds> retry_after;
    if (!r.retry_after.empty()) retry_after = ParseRetryAfter(r.retry_after);
    if (!retryable) {
      if (r.status == 0)
        return KubeStatus(Error(ErrorCode::kUnavailable, requester.Describe(req) + ": " + requester.FailureText(r)));
      return ErrorFromResponse(requester.Describe(req), r.status, r.body, retry_after);
    }
    ++failures;
    auto elapsed = std::chrono::duration_cast<milliseconds>(clock.Monotonic() - failing_since);
    milliseconds delay = requester.RetryDelay(failures, retry_after);
    std::string last = parser.stream_error() ? parser.stream_error_message() : requester.FailureText(r);
    if (failures >= options.retry.max_attempts || elapsed + delay > options.retry.max_total) {
      KubeErrorDetail d;
      d.http_status = r.status;
      d.attempts = failures;
      return KubeStatus(Error(ErrorCode::kUnavailable, requester.Describe(req) + ": giving up after " +
                                                           std::to_string(failures) + " attempts over " +
                                                           FormatSeconds1(elapsed) + ": last error " + last),
                        d);
    }
    requester.Log(LogLevel::kWarning,
                  requester.Describe(req) + ": " + last + "; reconnecting in " + std::to_string(delay.count()) + "ms");
    if (!requester.SleepUnlessStopped(delay, stop)) break;
  }
  return KubeStatus();
}

}  // namespace nodeagent::kube
