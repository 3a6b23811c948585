#include "lease_lock.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <set>
#include <tuple>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "api_retry.h"
#include "pod_filter.h"  // FormatMicroTime

namespace nodeagent::drain {

using nlohmann::json;
using Ptr = json::json_pointer;
using std::chrono::milliseconds;

namespace {

/// FNV-1a, as 16 hex digits: stable across builds, for names that would be too long.
std::string StableHash(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool ValidLabelValue(const std::string& v) {
  if (v.empty() || v.size() > 63) return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(v.front()) || !alnum(v.back())) return false;
  return std::all_of(v.begin(), v.end(), [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

std::string Holder(const json& lease) { return lease.value(Ptr("/spec/holderIdentity"), ""); }
std::string Rv(const json& lease) { return lease.value(Ptr("/metadata/resourceVersion"), ""); }
/// metadata.<map>.<key> of a lease (map: annotations or labels), "" when missing.
std::string MetadataEntry(const json& lease, const char* map, const char* key) {
  const auto* md = lease.contains("metadata") ? &lease["metadata"] : nullptr;
  if (!md || !md->contains(map) || !(*md)[map].is_object()) return "";
  return (*md)[map].value(key, "");
}
std::string Annotation(const json& lease, const char* key) { return MetadataEntry(lease, "annotations", key); }
void EraseAnnotation(json& lease, const char* key) {
  if (lease.contains("metadata") && lease["metadata"].contains("annotations") &&
      lease["metadata"]["annotations"].is_object())
    lease["metadata"]["annotations"].erase(key);
}
/// The lock's role label (slot | queue) of a lease, "" when missing.
std::string Role(const json& lease) { return MetadataEntry(lease, "labels", kLockRoleLabel); }
bool IsGrant(const json& lease) { return !Annotation(lease, kGrantedByAnnotation).empty(); }

bool Lost(ErrorCode c) {
  return c == ErrorCode::kConflict || c == ErrorCode::kNotFound || c == ErrorCode::kAlreadyExists;
}

}  // namespace

struct LeaseLock::Slot {
  std::string name;
  std::optional<json> lease;  // nullopt: not listed (absent, or unlabelled by an older version)
};

struct LeaseLock::Ticket {
  std::string name;
  std::string node;
  json lease;
  std::string granted_slot;  // a grant in progress
  bool missed = false;
  /// Place in line: when the node started to want a slot (the server's
  /// wanted-since, kept within 10 min before the ticket's creation), then the
  /// node's acquireTime, then the name.
  std::tuple<int64_t, std::string, std::string> order;
};

LeaseLock::LeaseLock(KubeClient& kube, Clock& clock, LeaseLockOptions options, LeaseLockHooks hooks)
    : kube_(kube), clock_(clock), o_(std::move(options)), hooks_(std::move(hooks)),
      rng_(std::random_device{}() ^ std::hash<std::string>{}(o_.holder)) {}

std::string LeaseLock::SlotName(int i) const { return o_.prefix + "-" + std::to_string(i); }

namespace {
std::string TicketNameFor(const std::string& prefix, const std::string& node) {
  std::string name = prefix + "-queue-" + node;
  if (name.size() > 253) name = prefix.substr(0, 200) + "-queue-" + StableHash(node);
  return name;
}
}  // namespace

std::string LeaseLock::TicketName() const { return TicketNameFor(o_.prefix, o_.holder); }

std::string LeaseLock::LabelValue() const {
  return ValidLabelValue(o_.prefix) ? o_.prefix : "h-" + StableHash(o_.prefix);
}

void LeaseLock::Warn(const std::string& m) const {
  if (hooks_.warn) hooks_.warn(m);
}

std::chrono::milliseconds LeaseLock::Jittered(std::chrono::milliseconds d, double spread) {
  std::uniform_real_distribution<double> u(1.0 - spread, 1.0 + spread);
  return milliseconds(static_cast<int64_t>(static_cast<double>(d.count()) * u(rng_)));
}

json LeaseLock::MakeLease(const std::string& name, const json* old) {
  std::string now = FormatMicroTime(clock_.Now());
  json lease = old ? *old : json{{"apiVersion", "coordination.k8s.io/v1"}, {"kind", "Lease"},
                                 {"metadata", {{"name", name}, {"namespace", o_.ns}}},
                                 {"spec", json::object()}};
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
  lease["metadata"]["labels"][kLockLabel] = LabelValue();
  lease["metadata"]["labels"][kLockRoleLabel] = "slot";
  EraseAnnotation(lease, kGrantedByAnnotation);  // ours now, with the full TTL
  return lease;
}

HeldLease LeaseLock::Written(const std::string& name, const json& written, std::chrono::steady_clock::time_point sent) {
  HeldLease h{name, "", "", "", ""};
  Remember(h, written, sent);
  return h;
}

void LeaseLock::Remember(HeldLease& held, const json& written, std::chrono::steady_clock::time_point sent) {
  held.resource_version = Rv(written);
  held.last_written = written;
  held.written_at = sent;
}

milliseconds LeaseLock::OnDeckEvery() const {
  return std::min(std::chrono::duration_cast<milliseconds>(o_.recheck),
                  std::max<milliseconds>(std::chrono::duration_cast<milliseconds>(o_.ttl) / 2, std::chrono::seconds(10)));
}

std::optional<std::chrono::steady_clock::time_point> LeaseLock::EarliestSlotExpiry() const {
  std::optional<std::chrono::steady_clock::time_point> earliest;
  for (int i = 0; i < o_.concurrency; ++i) {
    auto it = observed_.find(SlotName(i));
    if (it == observed_.end()) continue;
    const auto at = it->second.changed_at + it->second.duration + std::chrono::seconds(1);
    if (!earliest || at < *earliest) earliest = at;
  }
  return earliest;
}

bool LeaseLock::Expired(const std::string& name, const json& lease) {
  const auto spec = lease.value("spec", json::object());
  if (spec.value("holderIdentity", "").empty()) return true;
  // The holder's record as client-go's LeaderElectionRecord has it: any write
  // by a live holder changes it (renewTime at least). Only our clock is used.
  const std::string record = json{{"holderIdentity", spec.value("holderIdentity", json())},
                                  {"renewTime", spec.value("renewTime", json())},
                                  {"acquireTime", spec.value("acquireTime", json())},
                                  {"leaseDurationSeconds", spec.value("leaseDurationSeconds", json())},
                                  {"leaseTransitions", spec.value("leaseTransitions", json())}}
                                 .dump();
  const auto now = clock_.Monotonic();
  const std::chrono::seconds duration(spec.value("leaseDurationSeconds", int64_t{0}));
  auto [it, first] = observed_.try_emplace(name, Observation{record, now, duration});
  if (!first && it->second.record != record) it->second = Observation{record, now, duration};
  return now - it->second.changed_at >= duration;
}

WatchRequest LeaseLock::OneLeaseWatch(const std::string& name, const std::string& resource_version,
                                      std::chrono::steady_clock::duration duration) const {
  WatchRequest w;
  auto path = ResourcePath({"coordination.k8s.io", "v1", "leases", o_.ns, "", ""});
  w.path = path ? *path : "";
  w.field_selector = "metadata.name=" + name;
  w.resource_version = resource_version;
  w.duration = std::chrono::duration_cast<milliseconds>(duration);
  return w;
}

Result<json> LeaseLock::ListLeases(const char* role) {
  auto path = ResourcePath({"coordination.k8s.io", "v1", "leases", o_.ns, "", ""});
  if (!path) return path.error();
  KubeRequest r = KubeRequest::Get(*path);
  std::string selector = std::string(kLockLabel) + "=" + LabelValue();
  if (role) selector += std::string(",") + kLockRoleLabel + "=" + role;
  r.query = {{"labelSelector", selector}};
  auto res = kube_.Request(r);
  if (!res)
    return res.error().Wrap("listing the reboot lock's " + std::string(role ? role : "slot and queue") + " leases in " +
                            o_.ns);
  return *res;
}

std::vector<LeaseLock::Slot> LeaseLock::SlotsOf(const json& items) const {
  std::map<std::string, json> by_name;
  for (const auto& item : items)
    if (Role(item) != "queue")
      by_name[item.value(Ptr("/metadata/name"), "")] = item;
  std::vector<Slot> slots;
  for (int i = 0; i < o_.concurrency; ++i) {
    Slot s{SlotName(i), std::nullopt};
    if (auto it = by_name.find(s.name); it != by_name.end()) s.lease = it->second;
    slots.push_back(std::move(s));
  }
  return slots;
}

std::vector<LeaseLock::Ticket> LeaseLock::QueueOf(const json& items) {
  std::vector<Ticket> q;
  for (const auto& item : items) {
    if (Role(item) != "queue") continue;
    Ticket t;
    t.name = item.value(Ptr("/metadata/name"), "");
    t.node = Holder(item);
    t.granted_slot = Annotation(item, kGrantedSlotAnnotation);
    t.missed = !Annotation(item, kGrantMissedAnnotation).empty();
    t.order = {WantedSinceMs(item), item.value(Ptr("/spec/acquireTime"), ""), t.name};
    if (t.node != o_.holder && Expired(t.name, item)) {
      // A waiter that stopped renewing its ticket (it died): out of the line.
      auto d = kube_.DeleteLease(o_.ns, t.name, Rv(item));
      if (d.ok() && hooks_.info) hooks_.info("removed the expired reboot queue ticket of " + t.node);
      continue;
    }
    t.lease = item;
    q.push_back(std::move(t));
  }
  std::sort(q.begin(), q.end(), [](const Ticket& a, const Ticket& b) { return a.order < b.order; });
  return q;
}

Result<LeaseLock::View> LeaseLock::ReadLock(bool with_queue) {
  auto list = ListLeases(with_queue ? nullptr : "slot");
  if (!list) return list.error();
  const json items = list->value("items", json::array());
  View v;
  v.slots = SlotsOf(items);
  if (with_queue) v.queue = QueueOf(items);
  return v;
}

Result<std::vector<LeaseLock::Ticket>> LeaseLock::ReadQueue() {
  auto list = ListLeases("queue");
  if (!list) return list.error();
  return QueueOf(list->value("items", json::array()));
}

Result<std::optional<HeldLease>> LeaseLock::Take(const Slot& slot, std::vector<std::string>* holders) {
  const auto sent = clock_.Monotonic();
  if (!slot.lease) {
    auto c = kube_.CreateLease(o_.ns, MakeLease(slot.name, nullptr));
    if (c.ok()) return std::optional<HeldLease>(Written(slot.name, *c, sent));
    if (!Lost(c.error().code())) return c.error().Wrap("creating reboot lock lease " + o_.ns + "/" + slot.name);
    // There after all: created meanwhile, or by a version before the labels.
    auto l = kube_.GetLease(o_.ns, slot.name);
    if (!l.ok()) {
      if (l.error().code() == ErrorCode::kNotFound) again_ = true;
      else return l.error().Wrap("reading reboot lock lease " + o_.ns + "/" + slot.name);
      return std::optional<HeldLease>();
    }
    const std::string holder = Holder(*l);
    if (holder == o_.holder || !Expired(slot.name, *l)) {
      if (holder == o_.holder) again_ = true;  // ours: the next look renews it
      else NoteBusy(slot.name, *l, holders);
      return std::optional<HeldLease>();
    }
    return Take(Slot{slot.name, *l}, holders);
  }
  const std::string previous = Holder(*slot.lease);
  auto u = kube_.UpdateLease(o_.ns, MakeLease(slot.name, &*slot.lease));
  if (!u.ok()) {
    if (Lost(u.error().code())) {
      again_ = true;  // lost the race for it: look again at once
      return std::optional<HeldLease>();
    }
    return u.error().Wrap("taking reboot lock lease " + o_.ns + "/" + slot.name);
  }
  HeldLease h = Written(slot.name, *u, sent);
  if (!previous.empty() && previous != o_.holder && !IsGrant(*slot.lease)) {
    h.previous_holder = previous;
    h.previous_renew_time = slot.lease->value(Ptr("/spec/renewTime"), "");
    if (hooks_.taken_over) hooks_.taken_over(slot.name, previous, h.previous_renew_time, o_.holder);
  }
  return std::optional<HeldLease>(h);
}

Result<std::optional<HeldLease>> LeaseLock::TakeGranted(const Slot& slot) {
  const std::string by = Annotation(*slot.lease, kGrantedByAnnotation);
  const auto sent = clock_.Monotonic();
  auto u = kube_.UpdateLease(o_.ns, MakeLease(slot.name, &*slot.lease));
  if (!u.ok()) {
    if (Lost(u.error().code())) return std::optional<HeldLease>();
    return u.error().Wrap("taking reboot lock lease " + o_.ns + "/" + slot.name + " handed over by " + by);
  }
  HeldLease h = Written(slot.name, *u, sent);
  h.granted_by = by;
  return std::optional<HeldLease>(h);
}

Status LeaseLock::MarkTicket(const std::string& name, const std::function<bool(json&)>& edit) {
  // Our own ticket first as we last wrote or watched it (its resourceVersion
  // is the precondition): read only when someone else wrote it since.
  const bool ours = name == TicketName() && ticket_ && !Rv(*ticket_).empty();
  for (int attempt = ours ? -1 : 0; attempt < 3; ++attempt) {
    json lease;
    if (attempt < 0) {
      lease = *ticket_;
    } else {
      auto t = kube_.GetLease(o_.ns, name);
      if (!t.ok()) return t.error();
      lease = *t;
    }
    if (!edit(lease)) return Status::Ok();
    auto u = kube_.UpdateLease(o_.ns, lease);
    if (u.ok()) {
      if (name == TicketName()) ticket_ = *u;
      return Status::Ok();
    }
    if (u.error().code() != ErrorCode::kConflict) return u.error();
  }
  return Error(ErrorCode::kConflict, "reboot queue ticket " + name + " kept changing");
}

bool LeaseLock::Orphaned(const Slot& slot, const std::vector<Ticket>& queue) {
  const std::string to = slot.lease ? Holder(*slot.lease) : "";
  for (const auto& t : queue)
    if (t.node == to) return t.granted_slot != slot.name;
  return true;
}

Result<std::string> LeaseLock::Grant(const Slot& slot, std::vector<Ticket>& line, std::string* slot_rv,
                                     bool put_next_on_deck) {
  while (!line.empty()) {
    Ticket t = std::move(line.front());
    line.erase(line.begin());
    if (t.node == o_.holder || t.node.empty()) continue;
    // 1. Reserve the waiter: only one slot is handed to a ticket at a time
    //    (the ticket's resourceVersion decides between two granters).
    json mark = t.lease;
    mark["metadata"]["annotations"][kGrantedSlotAnnotation] = slot.name;
    EraseAnnotation(mark, kGrantReadyAnnotation);
    EraseAnnotation(mark, kGrantMissedAnnotation);
    auto marked = kube_.UpdateLease(o_.ns, mark);
    if (!marked.ok() && marked.error().code() == ErrorCode::kConflict) {
      // Changed since our view: its own renewal (still waiting: try again,
      // or it would lose its turn) or another granter (then the next one).
      auto fresh = kube_.GetLease(o_.ns, t.name);
      if (fresh.ok() && Holder(*fresh) == t.node && Annotation(*fresh, kGrantedSlotAnnotation).empty() &&
          Annotation(*fresh, kGrantMissedAnnotation).empty()) {
        t.lease = *fresh;
        mark = t.lease;
        mark["metadata"]["annotations"][kGrantedSlotAnnotation] = slot.name;
        EraseAnnotation(mark, kGrantReadyAnnotation);
        marked = kube_.UpdateLease(o_.ns, mark);
      }
    }
    if (!marked.ok()) {
      if (Lost(marked.error().code())) continue;  // it changed or left: the next one
      return marked.error().Wrap("handing reboot lock slot " + slot.name + " to " + t.node);
    }
    // 2. The slot goes to the waiter, for handoff_timeout until it takes it.
    const std::string now = FormatMicroTime(clock_.Now());
    json lease = slot.lease ? *slot.lease
                            : json{{"apiVersion", "coordination.k8s.io/v1"}, {"kind", "Lease"},
                                   {"metadata", {{"name", slot.name}, {"namespace", o_.ns}}}, {"spec", json::object()}};
    const std::string previous = slot.lease ? Holder(*slot.lease) : "";
    const std::string previous_renew = slot.lease ? slot.lease->value(Ptr("/spec/renewTime"), "") : "";
    auto& spec = lease["spec"];
    spec["holderIdentity"] = t.node;
    spec["leaseDurationSeconds"] = o_.handoff_timeout.count();
    spec["acquireTime"] = now;
    spec["renewTime"] = now;
    spec["leaseTransitions"] = slot.lease ? spec.value("leaseTransitions", 0) + 1 : 0;
    lease["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "nodeagent";
    lease["metadata"]["labels"][kLockLabel] = LabelValue();
    lease["metadata"]["labels"][kLockRoleLabel] = "slot";
    lease["metadata"]["annotations"][kGrantedByAnnotation] = o_.holder;
    auto written = slot.lease ? kube_.UpdateLease(o_.ns, lease) : kube_.CreateLease(o_.ns, lease);
    if (!written.ok()) {
      // Someone else wrote the slot meanwhile: give the waiter its place back.
      Status undo = MarkTicket(t.name, [&](json& l) {
        if (Annotation(l, kGrantedSlotAnnotation) != slot.name) return false;
        EraseAnnotation(l, kGrantedSlotAnnotation);
        return true;
      });
      (void)undo;
      if (Lost(written.error().code())) {
        // Raced with another writer: look again at once; but a slot that was
        // only missing from the list (unlabelled, by an older version) and is
        // held is busy, not a race.
        again_ = true;
        if (!slot.lease) {
          auto l = kube_.GetLease(o_.ns, slot.name);
          if (l.ok() && !Holder(*l).empty() && !Expired(slot.name, *l)) again_ = false;
        }
        return std::string();
      }
      return written.error().Wrap("handing reboot lock slot " + slot.name + " to " + t.node);
    }
    if (slot_rv) *slot_rv = Rv(*written);
    // A dead holder's slot is a takeover; a grant nobody took is not (that
    // node never held it: its missed turn is on its ticket).
    if (!previous.empty() && previous != o_.holder && previous != t.node && !IsGrant(*slot.lease) &&
        hooks_.taken_over)
      hooks_.taken_over(slot.name, previous, previous_renew, t.node);
    // 3. Wake the waiter (its watch sees its ticket change).
    json ready = *marked;
    ready["metadata"]["annotations"][kGrantReadyAnnotation] = "true";
    auto woke = kube_.UpdateLease(o_.ns, ready);
    if (!woke.ok()) {
      Status again = MarkTicket(t.name, [&](json& l) {
        if (Annotation(l, kGrantedSlotAnnotation) != slot.name) return false;
        l["metadata"]["annotations"][kGrantReadyAnnotation] = "true";
        return true;
      });
      if (!again.ok()) Warn("could not wake " + t.node + " for reboot lock slot " + slot.name + ": " +
                            again.error().message() + " (it finds the slot at its next look)");
    }
    if (hooks_.info) hooks_.info("handed reboot lock slot " + slot.name + " to " + t.node);
    // The next one in line is on deck (best effort: its own looks find it anyway).
    if (put_next_on_deck && !line.empty() && Annotation(line.front().lease, kOnDeckAnnotation).empty()) {
      json deck = line.front().lease;
      deck["metadata"]["annotations"][kOnDeckAnnotation] = "true";
      auto d = kube_.UpdateLease(o_.ns, deck);
      if (d.ok()) line.front().lease = *d;
    }
    return t.node;
  }
  return std::string();
}

int64_t LeaseLock::WantedSinceMs(const json& ticket) {
  auto created = ParseRfc3339(ticket.value(Ptr("/metadata/creationTimestamp"), ""));
  if (!created) return std::numeric_limits<int64_t>::max();  // unreadable: last in line
  auto wanted = ParseRfc3339(Annotation(ticket, kWantedSinceAnnotation)).value_or(*created);
  wanted = std::clamp(wanted, *created - kMaxHeadStart, *created);
  return std::chrono::duration_cast<milliseconds>(wanted.time_since_epoch()).count();
}

Status LeaseLock::JoinQueue() {
  const auto now_tp = clock_.Now();
  const std::string now = FormatMicroTime(now_tp);
  json annotations = json::object();
  // Since when this node has wanted a slot (its plan's start): the line is
  // ordered by that, not by how fast its plan and this write went through a
  // busy API server. Readers keep it within kMaxHeadStart of the creation.
  if (o_.wanted_since) annotations[kWantedSinceAnnotation] = FormatMicroTime(std::min(*o_.wanted_since, now_tp));
  json t = {{"apiVersion", "coordination.k8s.io/v1"},
            {"kind", "Lease"},
            {"metadata",
             {{"name", TicketName()},
              {"namespace", o_.ns},
              {"annotations", annotations},
              {"labels",
               {{"app.kubernetes.io/managed-by", "nodeagent"}, {kLockLabel, LabelValue()}, {kLockRoleLabel, "queue"}}}}},
            {"spec",
             {{"holderIdentity", o_.holder},
              {"leaseDurationSeconds", o_.ticket_ttl.count()},
              {"acquireTime", now},
              {"renewTime", now}}}};
  auto c = kube_.CreateLease(o_.ns, t);
  if (c.ok()) {
    ticket_ = *c;
    ticket_renewed_ = clock_.Monotonic();
    joined_ = ticket_renewed_;
    return Status::Ok();
  }
  if (!Lost(c.error().code())) return c.error().Wrap("joining the reboot queue (lease " + o_.ns + "/" + TicketName() + ")");
  // Ours from before (a restarted agent keeps its place in the line).
  auto g = kube_.GetLease(o_.ns, TicketName());
  if (!g.ok()) return g.error().Wrap("reading our reboot queue ticket");
  ticket_ = *g;
  ticket_renewed_ = clock_.Monotonic() - o_.ticket_ttl;  // renewed at the next look
  return Status::Ok();
}

Status LeaseLock::KeepTicket(bool grant_in_view) {
  if (!ticket_) return JoinQueue();
  const bool missed = !Annotation(*ticket_, kGrantMissedAnnotation).empty();
  const bool due = clock_.Monotonic() - ticket_renewed_ >= o_.ticket_ttl / 3;
  // A mark whose slot never came (its granter died between the two writes)
  // would keep us out of the line: dropped after handoff_timeout.
  bool stale_mark = false;
  if (!Annotation(*ticket_, kGrantedSlotAnnotation).empty() && !grant_in_view) {
    const auto now = clock_.Monotonic();
    if (!stale_grant_since_) stale_grant_since_ = now;
    stale_mark = now - *stale_grant_since_ >= o_.handoff_timeout;
  } else {
    stale_grant_since_.reset();
  }
  if (!missed && !due && !stale_mark) return Status::Ok();
  const std::string stale_slot = stale_mark ? Annotation(*ticket_, kGrantedSlotAnnotation) : "";
  Status st = MarkTicket(TicketName(), [&](json& l) {
    EraseAnnotation(l, kGrantMissedAnnotation);  // back in line, at our old place
    if (stale_mark && Annotation(l, kGrantedSlotAnnotation) == stale_slot) {  // not a newer grant
      EraseAnnotation(l, kGrantedSlotAnnotation);
      EraseAnnotation(l, kGrantReadyAnnotation);
    }
    l["spec"]["renewTime"] = FormatMicroTime(clock_.Now());
    l["spec"]["leaseDurationSeconds"] = o_.ticket_ttl.count();
    return true;
  });
  if (!st.ok() && st.error().code() == ErrorCode::kNotFound) {
    ticket_.reset();  // removed as expired: join again (at the end)
    return JoinQueue();
  }
  if (st.ok()) {
    ticket_renewed_ = clock_.Monotonic();
    if (stale_mark) stale_grant_since_.reset();
  }
  return st;
}

void LeaseLock::LeaveQueue() {
  if (!ticket_) return;
  auto d = kube_.DeleteLease(o_.ns, TicketName(), "");
  if (!d.ok() && d.error().code() != ErrorCode::kNotFound)
    Warn("could not leave the reboot queue (ticket " + TicketName() + "): " + d.error().message() +
         "; it expires after " + std::to_string(o_.ticket_ttl.count()) + "s");
  ticket_.reset();
}

void LeaseLock::NoteBusy(const std::string& name, const json& lease, std::vector<std::string>* holders) {
  if (holders) holders->push_back(Holder(lease) + " (" + name + ")");
  // A holder that has not renewed for a third of its TTL (by its own
  // renewTime, read with our clock: only a hint) may be dead: look again when
  // its record would expire by our observation, instead of a recheck later.
  const std::chrono::seconds duration(lease.value(Ptr("/spec/leaseDurationSeconds"), int64_t{0}));
  const auto renewed = ParseRfc3339(lease.value(Ptr("/spec/renewTime"), ""));
  const bool stale = !renewed || clock_.Now() - *renewed > duration / 3 + std::chrono::seconds(30);
  auto it = observed_.find(name);
  if (!stale || it == observed_.end()) return;
  const auto expiry = it->second.changed_at + duration + std::chrono::seconds(1);
  if (!next_look_ || expiry < *next_look_) next_look_ = expiry;
}

Result<std::optional<HeldLease>> LeaseLock::Pass(bool join, std::vector<std::string>* holders, bool with_queue) {
  if (join && !ticket_) {
    // In line before looking, so that a slot freed after a releaser read the
    // (still empty) queue is seen by the look below.
    if (Status st = JoinQueue(); !st.ok()) return st.error();
  }
  auto view = ReadLock(with_queue);
  if (!view) return view.error();
  const std::vector<Slot>* slots = &view->slots;
  const size_t holders_before = holders ? holders->size() : 0;
  const std::string granted_to_us = ticket_ && !Annotation(*ticket_, kGrantReadyAnnotation).empty()
                                        ? Annotation(*ticket_, kGrantedSlotAnnotation)
                                        : "";
  std::vector<const Slot*> free;
  std::vector<const Slot*> granted;  // live grants to another node: free if it no longer waits for it
  std::set<std::string> serving;     // nodes holding a live slot (a grant marks its ticket first)
  bool grant_pending_for_us = false;
  for (const auto& s : *slots) {
    if (!s.lease) {
      free.push_back(&s);
      continue;
    }
    const std::string holder = Holder(*s.lease);
    if (holder == o_.holder) {
      if (!IsGrant(*s.lease)) {  // ours already (a resumed run)
        const auto sent = clock_.Monotonic();
        auto u = kube_.UpdateLease(o_.ns, MakeLease(s.name, &*s.lease));
        if (u.ok()) return std::optional<HeldLease>(Written(s.name, *u, sent));
        if (!Lost(u.error().code())) return u.error().Wrap("renewing reboot lock lease " + s.name);
        continue;
      }
      if (!join || s.name == granted_to_us) {
        auto got = TakeGranted(s);
        if (!got) return got.error();
        if (*got) return got;
        continue;
      }
      grant_pending_for_us = true;  // its granter is still marking our ticket
      if (holders) holders->push_back(holder + " (" + s.name + ", handed to us)");
      continue;
    }
    if (Expired(s.name, *s.lease)) {
      free.push_back(&s);
      continue;
    }
    if (IsGrant(*s.lease)) granted.push_back(&s);
    else serving.insert(holder);
    NoteBusy(s.name, *s.lease, holders);
  }
  if (free.empty()) {
    if (join) {
      if (Status st = KeepTicket(grant_pending_for_us); !st.ok()) return st.error();
    }
    return std::optional<HeldLease>();
  }
  if (!view->queue) {
    // A free slot: who gets it depends on the line, read with the slots.
    if (holders) holders->resize(holders_before);
    return Pass(join, holders, true);
  }
  // A free slot: the line decides who gets it; the k-th free slot belongs to
  // the k-th node in line. A node ahead that joined in the last seconds is
  // looking itself (a node looks right after joining) and takes its own:
  // handing it a slot would only race with it. One that joined earlier sleeps
  // on its watch, and gets a grant. Then we take ours, if our place has one;
  // the slots of sleeping nodes behind us are handed to them too.
  std::vector<Ticket>& queue = *view->queue;
  for (const Slot* g : granted)
    if (Orphaned(*g, queue)) free.push_back(g);
  std::vector<Ticket> line;
  std::optional<size_t> me;
  for (auto& t : queue) {
    if (t.node == o_.holder) {
      me = line.size();
      ticket_ = t.lease;
      continue;
    }
    // Being served (marked, or holding a slot it has not yet left the line
    // for), or gone.
    if (!t.granted_slot.empty() || t.missed || serving.count(t.node)) continue;
    line.push_back(std::move(t));
  }
  const size_t position = me ? *me : line.size();
  auto created = [](const json& lease) { return ParseRfc3339(lease.value(Ptr("/metadata/creationTimestamp"), "")); };
  const auto our_creation = ticket_ && me ? created(*ticket_) : std::nullopt;
  // The server's time now, without comparing clocks: our ticket's creation
  // (server time) plus how long ago we created it (our monotonic clock). A
  // ticket found from before a restart: our wall clock, as a hint.
  const auto server_now =
      our_creation && joined_ ? *our_creation + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                                    clock_.Monotonic() - *joined_)
                              : clock_.Now();
  constexpr std::chrono::seconds kLooksAfterJoining{10};
  // A node looks right after joining; later it sleeps on its watch. So only
  // a node that joined in the last few seconds is counted as looking: the
  // deferral below is bounded in time whatever the order of the line (which
  // wanted-since times make differ from the order of joining).
  auto asleep = [&](const Ticket& t) {
    auto c = created(t.lease);
    return !c || *c + kLooksAfterJoining < server_now;
  };
  // Whoever looks hands the free slots it sees to the sleeping nodes at the
  // front of the line (the k-th free slot to the k-th node), however far
  // back it stands itself: else a slot nobody gave back (never created,
  // deleted in a race, or handed to a node that took another) stays free
  // until a node at the front wakes for its recheck, minutes later, while
  // the rest of the line looks at it. A hand-out that fails (another node was
  // faster, or the ticket changed) ends them for this look: with a thousand
  // waiters and an API server that answers in seconds, views are stale, and
  // every waiter walking the line turned one free slot into hundreds of
  // conflicting writes.
  bool deferred = false;  // a free slot left to a node ahead that looks itself
  bool contended = false;
  auto grant_to = [&](size_t slot_index, const Ticket& t) -> Status {
    std::vector<Ticket> one{t};
    auto to = Grant(*free[slot_index], one, nullptr);
    if (!to) return to.error();
    if (to->empty()) contended = true;
    return Status::Ok();
  };
  for (size_t i = 0; !contended && i < position && i < free.size(); ++i) {
    if (!asleep(line[i])) {
      deferred = true;
      continue;
    }
    if (Status st = grant_to(i, line[i]); !st.ok()) return st.error();
  }
  // Sleeping nodes behind us first: once we hold a slot, its TTL runs.
  for (size_t i = position + 1; !contended && i < free.size() && i - 1 < line.size(); ++i)
    if (asleep(line[i - 1]))
      if (Status st = grant_to(i, line[i - 1]); !st.ok()) return st.error();
  // Near the front, a lost hand-out or a node ahead that looks itself may
  // leave a slot for us: look again soon (bounded, see Acquire). Further
  // back, the nodes ahead are served first: wait for a grant.
  const bool near_front = position <= free.size();
  if (contended && near_front) look_soon_ = true;
  std::optional<HeldLease> ours;
  if (position < free.size() && !grant_pending_for_us) {
    auto got = Take(*free[position], holders);
    if (!got) return got.error();
    if (*got) ours = std::move(*got);
  }
  if (ours) return ours;
  // Slots were free but went to nodes just ahead of us: the view may be a
  // moment old (one took its slot and has not left the line yet), so look
  // again soon instead of sleeping until a grant or the recheck. Bounded: a
  // node ahead counts as looking only in its first seconds in line.
  if (deferred && near_front) look_soon_ = true;
  if (join) {
    if (Status st = KeepTicket(false); !st.ok()) return st.error();
  }
  return std::optional<HeldLease>();
}

Result<std::optional<HeldLease>> LeaseLock::TryAcquire(std::vector<std::string>* holders) {
  for (int attempt = 0;; ++attempt) {  // a lost race (409) is re-read and decided again
    again_ = false;
    std::vector<std::string> seen;
    auto r = Pass(false, &seen, false);
    if (!r || *r || !again_ || attempt == 4) {
      if (holders) holders->insert(holders->end(), seen.begin(), seen.end());
      return r;
    }
  }
}

void LeaseLock::WaitForTurn(std::chrono::steady_clock::time_point until, const bool* cancelled) {
  std::atomic<bool> stop{false};
  std::atomic<bool> done{false};
  std::mutex mirror_mu;
  std::condition_variable mirror_cv;
  std::thread mirror;
  if (cancelled) {
    // The watch stops on an atomic flag; the run's cancel flag is a plain
    // bool. Once a second, as often as the watch itself looks at its flag.
    mirror = std::thread([&] {
      std::unique_lock<std::mutex> l(mirror_mu);
      while (!done.load()) {
        if (*cancelled) stop.store(true);
        mirror_cv.wait_for(l, milliseconds(1000), [&] { return done.load(); });
      }
    });
  }
  int failures = 0;
  while (!stop.load() && clock_.Monotonic() < until) {
    const auto started = clock_.Monotonic();
    // From where the last watch got to (a bookmark, or the list of a relist),
    // while our ticket is as it was then: its own resourceVersion may be
    // older than the server keeps (410 Gone, a relist: two more requests).
    std::string from = ticket_ ? Rv(*ticket_) : "";
    if (ticket_ && !watched_to_.empty() && Rv(*ticket_) == watched_to_ticket_) from = watched_to_;
    const WatchRequest w = OneLeaseWatch(TicketName(), from, until - started);
    bool woken = false, on_deck = false;
    KubeStatus st = kube_.Watch(
        w,
        [&](const WatchEvent& e) {
          if (e.type == WatchEventType::kDeleted) {
            ticket_.reset();
            woken = true;
            return false;
          }
          json obj = e.object;
          if (e.type == WatchEventType::kRelisted) {
            auto items = obj.value("items", json::array());
            if (items.empty()) {
              ticket_.reset();
              woken = true;
              return false;
            }
            obj = items[0];
            watched_to_ = e.object.value(Ptr("/metadata/resourceVersion"), "");
            watched_to_ticket_ = Rv(obj);
          }
          if (e.type == WatchEventType::kBookmark) {
            if (ticket_) {
              watched_to_ = Rv(e.object);
              watched_to_ticket_ = Rv(*ticket_);
            }
            return true;
          }
          const bool newly_on_deck =
              !Annotation(obj, kOnDeckAnnotation).empty() && (!ticket_ || Annotation(*ticket_, kOnDeckAnnotation).empty());
          ticket_ = obj;
          if (!Annotation(obj, kGrantReadyAnnotation).empty() || !Annotation(obj, kGrantMissedAnnotation).empty()) {
            woken = true;
            return false;
          }
          // Next in line: look at the slots sooner (see below).
          if (newly_on_deck) {
            on_deck = true;
            return false;
          }
          return true;
        },
        &stop);
    if (woken) break;
    if (on_deck) {
      // The slot that made us next just went to the node ahead, so the
      // others are what we last saw: look at once only if one of them could
      // count as expired by then (a dead holder's slot is taken over by the
      // node on deck), else from a new watch that ends at its expiry or
      // lock_ttl/2 from now, whichever is sooner.
      const auto now = clock_.Monotonic();
      const auto expiry = EarliestSlotExpiry();
      if (expiry && *expiry <= now) break;
      until = std::min(until, now + Jittered(OnDeckEvery(), 0.25));
      if (expiry) until = std::min(until, *expiry);
      continue;
    }
    if (!st.ok()) {
      ++failures;
      auto backoff = Jittered(std::min<milliseconds>(milliseconds(1000) * (1 << std::min(failures, 6)), o_.recheck), 0.5);
      Warn("watching the reboot queue: " + st.error().message() + "; again in " + std::to_string(backoff.count()) + "ms");
      if (!clock_.SleepFor(std::min(backoff, std::chrono::duration_cast<milliseconds>(until - clock_.Monotonic())),
                           cancelled))
        break;
      continue;
    }
    // The watch ended without news before its time (a server closing it):
    // never spin on that.
    if (clock_.Monotonic() - started < std::chrono::seconds(1))
      if (!clock_.SleepFor(Jittered(milliseconds(1000), 0.5), cancelled)) break;
  }
  {
    std::lock_guard<std::mutex> l(mirror_mu);
    done.store(true);
  }
  mirror_cv.notify_all();
  if (mirror.joinable()) mirror.join();
}

Result<HeldLease> LeaseLock::Acquire(std::chrono::milliseconds wait, const bool* cancelled,
                                     const std::function<void(const std::vector<std::string>&)>& waiting) {
  const auto deadline = clock_.Monotonic() + wait;
  int failures = 0, quick_looks = 0;
  constexpr int kQuickLooks = 2;
  std::string who;
  for (;;) {
    if (cancelled && *cancelled) {
      LeaveQueue();
      return Error(ErrorCode::kCancelled, "cancelled while waiting for the reboot lock (held by " + who + ")");
    }
    std::vector<std::string> holders;
    again_ = false;
    look_soon_ = false;
    next_look_.reset();
    auto r = Pass(true, &holders, false);
    if (!r) {
      if (!WorthWaitingOut(r.error().code())) {
        LeaveQueue();
        return r.error();
      }
      ++failures;
      auto backoff = Jittered(std::min<milliseconds>(milliseconds(1000) * (1 << std::min(failures, 6)), milliseconds(60'000)), 0.5);
      if (clock_.Monotonic() + backoff >= deadline) {
        LeaveQueue();
        return r.error().Wrap("waiting for the reboot lock");
      }
      Warn("waiting for the reboot lock: " + r.error().message() + "; trying again in " +
           std::to_string(backoff.count() / 1000) + "s");
      clock_.SleepFor(backoff, cancelled);
      continue;
    }
    failures = 0;
    if (*r) {
      LeaveQueue();
      return **r;
    }
    who.clear();
    for (const auto& h : holders) who += (who.empty() ? "" : ", ") + h;
    if (waiting) waiting(holders);
    if (clock_.Monotonic() >= deadline) {
      LeaveQueue();
      return Error(ErrorCode::kTimeout, "the reboot lock (" + std::to_string(o_.concurrency) + " slot(s) in " + o_.ns +
                                            ") stayed busy for " + std::to_string(wait.count() / 1000) +
                                            "s; held by " + who);
    }
    // A lost race is looked at again at once, a free slot left to a node
    // ahead in a second; either a few times in a row at most, then the
    // watch: on a busy API server views are seconds old and the nodes ahead
    // slow to take their slots, and a grant wakes us anyway.
    if ((again_ || look_soon_) && ++quick_looks <= kQuickLooks) {
      if (!again_) clock_.SleepFor(Jittered(milliseconds(1000), 0.5), cancelled);
      continue;
    }
    // A grant that reached our ticket between our look at the slots and our
    // own write of the ticket (its renewal read it back with the mark) is
    // already in what we hold: the watch would wait for a change that came
    // before it. Look again at once, once per such version of the ticket.
    if (ticket_ && !Annotation(*ticket_, kGrantReadyAnnotation).empty() && Rv(*ticket_) != ready_looked_at_) {
      ready_looked_at_ = Rv(*ticket_);
      continue;
    }
    auto every = std::chrono::duration_cast<milliseconds>(o_.recheck);
    if (ticket_ && !Annotation(*ticket_, kOnDeckAnnotation).empty()) every = std::min(every, OnDeckEvery());
    auto until = std::min(deadline, clock_.Monotonic() + Jittered(every, 0.25));
    if (next_look_) until = std::min(until, *next_look_);
    // A mark on our ticket whose slot we do not see handed to us keeps us
    // out of the line (releasers skip a ticket being served): look again
    // when KeepTicket may drop it, not a recheck later.
    if (stale_grant_since_) until = std::min(until, *stale_grant_since_ + o_.handoff_timeout + std::chrono::seconds(1));
    quick_looks = 0;
    WaitForTurn(until, cancelled);
  }
}

Result<std::optional<HeldLease>> LeaseLock::FindHeld() {
  auto view = ReadLock(false);
  if (!view) return view.error();
  const std::vector<Slot>& slots = view->slots;
  for (const auto& s : slots)
    if (s.lease && Holder(*s.lease) == o_.holder && !IsGrant(*s.lease))
      return std::optional<HeldLease>(HeldLease{s.name, Rv(*s.lease), "", "", ""});
  // Slots written by versions before the labels.
  for (const auto& s : slots) {
    if (s.lease) continue;
    auto l = kube_.GetLease(o_.ns, s.name);
    if (!l.ok()) {
      if (l.error().code() == ErrorCode::kNotFound) continue;
      return l.error().Wrap("reading reboot lock lease " + o_.ns + "/" + s.name);
    }
    if (Holder(*l) == o_.holder && !IsGrant(*l))
      return std::optional<HeldLease>(HeldLease{s.name, Rv(*l), "", "", ""});
  }
  return std::optional<HeldLease>();
}

Status LeaseLock::Renew(HeldLease& held) {
  // On top of our own last write: nobody else wrote the lease since (its
  // resourceVersion is the precondition), so it is still ours as we wrote it.
  if (held.last_written && !held.resource_version.empty() && Rv(*held.last_written) == held.resource_version) {
    const auto sent = clock_.Monotonic();
    auto u = kube_.UpdateLease(o_.ns, MakeLease(held.name, &*held.last_written));
    if (u.ok()) {
      Remember(held, *u, sent);
      return Status::Ok();
    }
    if (u.error().code() == ErrorCode::kNotFound)
      return Error(ErrorCode::kConflict, "reboot lock lease " + o_.ns + "/" + held.name + " was deleted");
    if (u.error().code() != ErrorCode::kConflict) return u.error().Wrap("renewing reboot lock lease " + o_.ns + "/" + held.name);
    held.last_written.reset();  // written by someone else since: read it and decide
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto l = kube_.GetLease(o_.ns, held.name);
    if (!l.ok() && l.error().code() == ErrorCode::kNotFound)
      return Error(ErrorCode::kConflict, "reboot lock lease " + o_.ns + "/" + held.name + " was deleted");
    if (!l.ok()) return l.error().Wrap("renewing reboot lock lease " + o_.ns + "/" + held.name);
    if ((*l)["spec"].value("holderIdentity", "") != o_.holder)
      return Error(ErrorCode::kConflict, "reboot lock lease " + o_.ns + "/" + held.name + " is now held by " +
                                             (*l)["spec"].value("holderIdentity", "nobody"));
    const auto sent = clock_.Monotonic();
    auto u = kube_.UpdateLease(o_.ns, MakeLease(held.name, &*l));
    if (u.ok()) {
      Remember(held, *u, sent);
      return Status::Ok();
    }
    if (u.error().code() != ErrorCode::kConflict) return u.error().Wrap("renewing reboot lock lease " + held.name);
  }
  // Still ours, but other writers kept changing it: not a loss, try again later.
  return Error(ErrorCode::kUnavailable, "renewing reboot lock lease " + held.name + ": kept conflicting");
}

Status LeaseLock::Release(const std::string& name, const bool* cancelled) {
  // One read of every slot, not only ours: the free ones that nobody gives
  // back (never created, or handed to a node that took another) are handed
  // on below with ours.
  auto view = ReadLock(true);
  if (!view) return view.error().Wrap("releasing reboot lock lease " + o_.ns + "/" + name);
  std::optional<json> lease;
  std::vector<Slot> others;
  std::set<std::string> serving;  // holding a slot, maybe not yet out of the line
  for (auto& s : view->slots) {
    if (s.lease && !IsGrant(*s.lease)) serving.insert(Holder(*s.lease));
    if (s.name != name) others.push_back(std::move(s));
    else if (s.lease) lease = std::move(s.lease);
  }
  if (!lease) {  // not listed: gone, or written by a version before the labels
    auto l = kube_.GetLease(o_.ns, name);
    if (!l.ok()) {
      if (l.error().code() == ErrorCode::kNotFound) return Status::Ok();
      return l.error().Wrap("releasing reboot lock lease " + o_.ns + "/" + name);
    }
    lease = *l;
  }
  if (Holder(*lease) != o_.holder || IsGrant(*lease)) return Status::Ok();
  // Hand it to the node that has waited longest; if it does not take it in
  // time (it died), mark its ticket missed and try the next one.
  for (int round = 0; round < 5; ++round) {
    auto queue = round == 0 ? Result<std::vector<Ticket>>(std::move(*view->queue)) : ReadQueue();
    if (!queue) {
      Warn("reading the reboot queue to hand over " + name + ": " + queue.error().message() + "; giving the slot back");
      break;
    }
    std::vector<const Slot*> spare;
    for (const auto& s : others)
      if (!s.lease || (IsGrant(*s.lease) && Orphaned(s, *queue))) spare.push_back(&s);
    std::vector<Ticket> line;
    for (auto& t : *queue)
      if (t.granted_slot.empty() && !t.missed && t.node != o_.holder && (round > 0 || !serving.count(t.node)))
        line.push_back(std::move(t));
    if (line.empty()) break;
    std::string rv;
    auto to = Grant(Slot{name, lease}, line, &rv);
    if (!to) {
      Warn("handing over reboot lock slot " + name + ": " + to.error().message() + "; giving the slot back");
      break;
    }
    if (to->empty()) {
      if (line.empty()) break;  // nobody took the mark: give it back
      return Status::Ok();      // the slot changed under us: not ours any more
    }
    // Then the spare slots, one each to the nodes next in line, until one
    // hand-out fails: another node got there first, and walking the line
    // with a view seconds old turns into a herd of conflicting writes.
    for (size_t i = 0; i < spare.size() && !line.empty(); ++i) {
      std::vector<Ticket> one{std::move(line.front())};
      line.erase(line.begin());
      auto next = Grant(*spare[i], one, nullptr, false);
      if (!next || next->empty()) break;
    }
    others.clear();  // handed on, or someone else's to hand on now
    // Wait for the waiter to take it (its renewal drops the grant annotation).
    const auto deadline = clock_.Monotonic() + o_.handoff_timeout + std::chrono::seconds(2);
    bool taken = false, moved = false;
    json last;
    while (!taken && !moved && clock_.Monotonic() < deadline && !(cancelled && *cancelled)) {
      const auto started = clock_.Monotonic();
      const WatchRequest w = OneLeaseWatch(name, rv, deadline - started);
      std::atomic<bool> stop{false};
      KubeStatus st = kube_.Watch(
          w,
          [&](const WatchEvent& e) {
            if (e.type == WatchEventType::kDeleted) {
              moved = true;
              return false;
            }
            if (e.type != WatchEventType::kModified && e.type != WatchEventType::kAdded) return true;
            last = e.object;
            rv = Rv(last);
            if (Holder(last) != *to) moved = true;
            else if (!IsGrant(last)) taken = true;
            return !(taken || moved);
          },
          &stop);
      if (taken || moved) break;
      if (!st.ok() || clock_.Monotonic() - started < std::chrono::seconds(1)) {
        // Check directly, then pause: a watch that fails must not spin.
        auto l = kube_.GetLease(o_.ns, name);
        if (l.ok()) {
          rv = Rv(*l);
          if (Holder(*l) != *to) moved = true;
          else if (!IsGrant(*l)) taken = true;
          last = *l;
        } else if (l.error().code() == ErrorCode::kNotFound) {
          moved = true;
        }
        if (!taken && !moved) clock_.SleepFor(Jittered(milliseconds(1000), 0.5), cancelled);
      }
    }
    if (taken || moved || (cancelled && *cancelled)) return Status::Ok();
    // Not taken in time: the waiter is out of the line until it comes back.
    Status mark = MarkTicket(TicketNameFor(o_.prefix, *to), [&](json& l) {
      if (Annotation(l, kGrantedSlotAnnotation) != name) return false;
      EraseAnnotation(l, kGrantedSlotAnnotation);
      EraseAnnotation(l, kGrantReadyAnnotation);
      l["metadata"]["annotations"][kGrantMissedAnnotation] = name;
      return true;
    });
    if (!mark.ok() && mark.error().code() != ErrorCode::kNotFound)
      Warn("marking " + *to + "'s missed turn: " + mark.error().message());
    if (hooks_.warn)
      hooks_.warn(*to + " did not take reboot lock slot " + name + " within " +
                  std::to_string(o_.handoff_timeout.count()) + "s; handing it to the next node");
    auto l = kube_.GetLease(o_.ns, name);
    if (!l.ok()) return l.error().code() == ErrorCode::kNotFound ? Status::Ok() : l.error();
    if (Holder(*l) != *to || !IsGrant(*l)) return Status::Ok();
    lease = *l;  // still the unclaimed grant: ours to pass on
  }
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto d = kube_.DeleteLease(o_.ns, name, Rv(*lease));
    if (d.ok() || d.error().code() == ErrorCode::kNotFound) return Status::Ok();
    if (d.error().code() != ErrorCode::kConflict) return d.error().Wrap("releasing reboot lock lease " + name);
    auto l = kube_.GetLease(o_.ns, name);
    if (!l.ok()) return l.error().code() == ErrorCode::kNotFound ? Status::Ok() : l.error();
    const bool ours = Holder(*l) == o_.holder && !IsGrant(*l);
    const bool our_unclaimed_grant = IsGrant(*l) && Annotation(*l, kGrantedByAnnotation) == o_.holder;
    if (!ours && !our_unclaimed_grant) return Status::Ok();
    lease = *l;
  }
  return Error(ErrorCode::kConflict, "releasing reboot lock lease " + name + ": kept conflicting");
}

}  // namespace nodeagent::drain
