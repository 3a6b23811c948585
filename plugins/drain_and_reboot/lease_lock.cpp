#include "lease_lock.h"

#include "pod_filter.h"  // FormatMicroTime

namespace nodeagent::drain {

LeaseLock::LeaseLock(KubeClient& kube, Clock& clock, LeaseLockOptions options)
    : kube_(kube), clock_(clock), o_(std::move(options)) {}

std::string LeaseLock::SlotName(int i) const { return o_.prefix + "-" + std::to_string(i); }

nlohmann::json LeaseLock::MakeLease(const std::string& name, const nlohmann::json* old) {
  std::string now = FormatMicroTime(clock_.Now());
  nlohmann::json lease = old ? *old : nlohmann::json{{"apiVersion", "coordination.k8s.io/v1"}, {"kind", "Lease"},
                                                      {"metadata", {{"name", name}, {"namespace", o_.ns}}},
                                                      {"spec", nlohmann::json::object()}};
  lease["apiVersion"] = "coordination.k8s.io/v1";
  lease["kind"] = "Lease";
  auto& spec = lease["spec"];
  bool same_holder = old && spec.value("holderIdentity", "") == o_.holder;
  if (!same_holder) {
    spec["acquireTime"] = now;
    if (old) spec["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
    else spec["leaseTransitions"] = 0;
  }
  spec["holderIdentity"] = o_.holder;
  spec["leaseDurationSeconds"] = o_.ttl.count();
  spec["renewTime"] = now;
  lease["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "nodeagent";
  return lease;
}

bool LeaseLock::Expired(const std::string& name, const nlohmann::json& lease) {
  const auto spec = lease.value("spec", nlohmann::json::object());
  if (spec.value("holderIdentity", "").empty()) return true;
  // The holder's record as client-go's LeaderElectionRecord has it: any write
  // by a live holder changes it (renewTime at least). Only our clock is used.
  const std::string record = nlohmann::json{{"holderIdentity", spec.value("holderIdentity", nlohmann::json())},
                                            {"renewTime", spec.value("renewTime", nlohmann::json())},
                                            {"acquireTime", spec.value("acquireTime", nlohmann::json())},
                                            {"leaseDurationSeconds", spec.value("leaseDurationSeconds", nlohmann::json())},
                                            {"leaseTransitions", spec.value("leaseTransitions", nlohmann::json())}}
                                 .dump();
  const auto now = clock_.Monotonic();
  auto [it, first] = observed_.try_emplace(name, Observation{record, now});
  if (!first && it->second.record != record) it->second = Observation{record, now};
  const std::chrono::seconds duration(spec.value("leaseDurationSeconds", int64_t{0}));
  return now - it->second.changed_at >= duration;
}

Result<std::optional<HeldLease>> LeaseLock::FindHeld() {
  for (int i = 0; i < o_.concurrency; ++i) {
    auto l = kube_.GetLease(o_.ns, SlotName(i));
    if (!l.ok()) {
      if (l.error().code() == ErrorCode::kNotFound) continue;
      return l.error().Wrap("reading reboot lock lease " + o_.ns + "/" + SlotName(i));
    }
    if ((*l)["spec"].value("holderIdentity", "") == o_.holder)
      return std::optional<HeldLease>(HeldLease{SlotName(i), (*l)["metadata"].value("resourceVersion", ""), "", ""});
  }
  return std::optional<HeldLease>();
}

Result<std::optional<HeldLease>> LeaseLock::TryAcquire(std::vector<std::string>* holders) {
  // A slot we already hold wins (a resumed run, or concurrency lowered since).
  auto mine = FindHeld();
  if (!mine) return mine.error();
  if (*mine) {
    Status st = Renew(**mine);
    if (st.ok()) return mine;
  }
  for (int i = 0; i < o_.concurrency; ++i) {
    const std::string name = SlotName(i);
    for (int attempt = 0; attempt < 5; ++attempt) {  // 409: re-read and decide again
      auto l = kube_.GetLease(o_.ns, name);
      if (!l.ok() && l.error().code() != ErrorCode::kNotFound)
        return l.error().Wrap("reading reboot lock lease " + o_.ns + "/" + name);
      if (!l.ok()) {
        auto c = kube_.CreateLease(o_.ns, MakeLease(name, nullptr));
        if (c.ok())
          return std::optional<HeldLease>(HeldLease{name, (*c)["metadata"].value("resourceVersion", ""), "", ""});
        if (c.error().code() == ErrorCode::kConflict) continue;
        return c.error().Wrap("creating reboot lock lease " + o_.ns + "/" + name);
      }
      const nlohmann::json& cur = *l;
      std::string holder = cur["spec"].value("holderIdentity", "");
      if (holder != o_.holder && !Expired(name, cur)) {
        if (holders) holders->push_back(holder + " (" + name + ")");
        break;  // busy: next slot
      }
      auto u = kube_.UpdateLease(o_.ns, MakeLease(name, &cur));
      if (u.ok()) {
        HeldLease h{name, (*u)["metadata"].value("resourceVersion", ""), "", ""};
        if (holder != o_.holder && !holder.empty()) {
          h.previous_holder = holder;
          h.previous_renew_time = cur["spec"].value("renewTime", "");
        }
        return std::optional<HeldLease>(h);
      }
      if (u.error().code() == ErrorCode::kConflict || u.error().code() == ErrorCode::kNotFound) continue;
      return u.error().Wrap("taking reboot lock lease " + o_.ns + "/" + name);
    }
  }
  return std::optional<HeldLease>();
}

Result<HeldLease> LeaseLock::Acquire(std::chrono::milliseconds wait, std::chrono::milliseconds poll,
                                     const bool* cancelled,
                                     const std::function<void(const std::vector<std::string>&)>& waiting) {
  const auto deadline = clock_.Monotonic() + wait;
  for (;;) {
    std::vector<std::string> holders;
    auto r = TryAcquire(&holders);
    if (!r) return r.error();
    if (*r) return **r;
    if (waiting) waiting(holders);
    std::string who;
    for (const auto& h : holders) who += (who.empty() ? "" : ", ") + h;
    if (clock_.Monotonic() >= deadline)
      return Error(ErrorCode::kTimeout, "the reboot lock (" + std::to_string(o_.concurrency) + " slot(s) in " + o_.ns +
                                            ") stayed busy for " + std::to_string(wait.count() / 1000) +
                                            "s; held by " + who);
    if (!clock_.SleepFor(poll, cancelled) || (cancelled && *cancelled))
      return Error(ErrorCode::kCancelled, "cancelled while waiting for the reboot lock (held by " + who + ")");
  }
}

Status LeaseLock::Renew(HeldLease& held) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto l = kube_.GetLease(o_.ns, held.name);
    if (!l.ok()) return l.error().Wrap("renewing reboot lock lease " + o_.ns + "/" + held.name);
    if ((*l)["spec"].value("holderIdentity", "") != o_.holder)
      return Error(ErrorCode::kConflict, "reboot lock lease " + o_.ns + "/" + held.name + " is now held by " +
                                             (*l)["spec"].value("holderIdentity", "nobody"));
    auto u = kube_.UpdateLease(o_.ns, MakeLease(held.name, &*l));
    if (u.ok()) {
      held.resource_version = (*u)["metadata"].value("resourceVersion", "");
      return Status::Ok();
    }
    if (u.error().code() != ErrorCode::kConflict) return u.error().Wrap("renewing reboot lock lease " + held.name);
  }
  return Error(ErrorCode::kConflict, "renewing reboot lock lease " + held.name + ": kept conflicting");
}

Status LeaseLock::Release(const std::string& name) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto l = kube_.GetLease(o_.ns, name);
    if (!l.ok()) {
      if (l.error().code() == ErrorCode::kNotFound) return Status::Ok();
      return l.error().Wrap("releasing reboot lock lease " + o_.ns + "/" + name);
    }
    if ((*l)["spec"].value("holderIdentity", "") != o_.holder) return Status::Ok();
    auto d = kube_.DeleteLease(o_.ns, name, (*l)["metadata"].value("resourceVersion", ""));
    if (d.ok() || d.error().code() == ErrorCode::kNotFound) return Status::Ok();
    if (d.error().code() != ErrorCode::kConflict) return d.error().Wrap("releasing reboot lock lease " + name);
  }
  return Error(ErrorCode::kConflict, "releasing reboot lock lease " + name + ": kept conflicting");
}

}  // namespace nodeagent::drain
