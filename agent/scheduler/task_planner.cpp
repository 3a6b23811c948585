#include "scheduler/task_planner.h"

#include <algorithm>

#include "scheduler/jitter.h"

namespace nodeagent {

std::vector<std::string> SchedulePlan::DueNow() const {
  std::vector<std::string> out;
  for (const TaskPlan& t : tasks) {
    if (t.due_now) out.push_back(t.name);
  }
  return out;
}

TaskPlanner::TaskPlanner(std::vector<TaskSchedule> tasks, TimeZone zone, std::string node_name)
    : tasks_(std::move(tasks)), zone_(std::move(zone)), node_name_(std::move(node_name)) {}

SchedulePlan TaskPlanner::Compute(const PlanInput& input) const {
  SchedulePlan plan;
  for (const TaskSchedule& task : tasks_) {
    TaskPlan tp = PlanTask(task, input);
    if (tp.next_due) {
      TimePoint wake = std::max(*tp.next_due, input.now);
      if (!plan.wake_at || wake < *plan.wake_at) plan.wake_at = wake;
    }
    plan.tasks.push_back(std::move(tp));
  }
  return plan;
}

TimePoint TaskPlanner::IntoWindow(const TaskSchedule& task, TimePoint due, std::chrono::milliseconds jitter) const {
  if (!task.window || task.window->Contains(due)) return due;
  TimePoint open = task.window->NextOpen(due);
  if (open == TimePoint::max()) return open;
  TimePoint spread = open + jitter;
  return spread < task.window->CloseOf(open) ? spread : open;
}

TaskPlan TaskPlanner::PlanTask(const TaskSchedule& task, const PlanInput& input) const {
  TaskPlan tp;
  tp.name = task.name;
  const TaskHistory* history = nullptr;
  if (auto it = input.history.find(task.name); it != input.history.end()) history = &it->second;
  const std::optional<TimePoint> last_run = history ? history->last_run : std::nullopt;

  if (task.schedule.runs_at_boot()) {
    tp.reason = DueReason::kBoot;
    bool ran_this_boot = history && history->last_run && history->last_run_boot_id == input.boot_id;
    if (input.first_start_this_boot && !ran_this_boot) {
      tp.next_due = IntoWindow(task, input.now, std::chrono::milliseconds(0));
      tp.due_now = *tp.next_due <= input.now;
    }
    return tp;
  }

  const TimePoint anchor = last_run.value_or(input.started_at);
  std::optional<TimePoint> scheduled = task.schedule.NextAfter(anchor, zone_, last_run);
  if (!scheduled) return tp;
  std::chrono::milliseconds jitter = Jitter(task.name, node_name_, *scheduled, task.jitter);
  TimePoint due = *scheduled + jitter;

  if (last_run && due < input.started_at) {
    if (task.catch_up) {
      tp.reason = DueReason::kCatchUp;
      tp.next_due = IntoWindow(task, input.now, jitter);
      tp.due_now = *tp.next_due <= input.now;
      return tp;
    }
    scheduled = task.schedule.NextAfter(input.started_at, zone_, last_run);
    if (!scheduled) return tp;
    jitter = Jitter(task.name, node_name_, *scheduled, task.jitter);
    due = *scheduled + jitter;
  }

  tp.scheduled = scheduled;
  due = IntoWindow(task, due, jitter);
  // A due time that passed while the daemon was busy (or that the window
  // closed on) is re-checked against the window at `now`.
  if (due <= input.now && task.window && !task.window->Contains(input.now)) {
    due = IntoWindow(task, input.now, jitter);
  }
  tp.next_due = due;
  tp.due_now = due <= input.now;
  return tp;
}

}  // namespace nodeagent
