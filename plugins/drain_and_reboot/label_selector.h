// Matching Kubernetes LabelSelectors (matchLabels + matchExpressions) against
// an object's labels on the client side. The drain plan needs it to find which
// PodDisruptionBudget covers which pod without asking the server per pod.
#pragma once

#include <nlohmann/json.hpp>

namespace nodeagent::drain {

/// True when `labels` (a JSON object of strings, may be null) satisfies
/// `selector` (a metav1.LabelSelector). An empty selector `{}` matches
/// everything; a null selector matches nothing, as in the API.
bool SelectorMatches(const nlohmann::json& selector, const nlohmann::json& labels);

}  // namespace nodeagent::drain
