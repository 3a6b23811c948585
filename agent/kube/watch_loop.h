// KubeClient::Watch as a loop: list (one kRelisted event with every object),
// then watch from that resourceVersion, reconnect when the server closes the
// window, relist after 410 Gone, back off after failures within the retry
// budget, and stop on the stop flag, the deadline or the callback's word.
// The HTTP attempts go through RetryingRequester; the bytes through
// WatchStreamParser. This unit is only the order of those steps.
#pragma once

#include <atomic>

#include "kube/retrying_requester.h"
#include "nodeagent/kube.h"

namespace nodeagent::kube {

/// See KubeClient::Watch. kInvalidArgument for a bad request.path.
KubeStatus RunWatch(RetryingRequester& requester, const WatchRequest& request, const WatchCallback& callback,
                    const std::atomic<bool>* stop);

}  // namespace nodeagent::kube
