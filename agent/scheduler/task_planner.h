// Which tasks run now, and how long the daemon may sleep. TaskPlanner combines
// each task's Schedule, jitter, maintenance window, catch-up flag and run
// history into its next due time, so the daemon's loop is "run what is due,
// record it, sleep until wake_at" with no polling. It holds no state between
// calls and reads no clock: the caller passes now, its start time, the boot
// facts and the history it persisted.
//
// Rules, per task:
//  * @reboot: due now when this is the daemon's first start in this boot and
//    the task has not run in this boot (its recorded boot id differs).
//  * Otherwise the scheduled time S is Schedule::NextAfter(anchor), where the
//    anchor is the last run, or the daemon's start time for a task that never
//    ran. The due time is S + Jitter(task, node, S).
//  * A due time before the daemon started was missed while it was down: with
//    catch_up it is due now, once; without, the task waits for the first
//    scheduled time after the start.
//  * With a window, a due time outside it moves to the next opening, plus the
//    same jitter when that still falls inside the opening. This is one run
//    even when the opening lies beyond further scheduled times (the next
//    anchor is the run itself).
//  * Jitter should be smaller than the schedule's period, or runs are skipped.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/cron_schedule.h"
#include "scheduler/maintenance_window.h"
#include "scheduler/time_zone.h"

namespace nodeagent {

/// One configured task, as far as timing goes.
struct TaskSchedule {
  std::string name;
  Schedule schedule;
  std::chrono::milliseconds jitter{0};
  std::optional<MaintenanceWindow> window;
  bool catch_up = false;
};

/// What the daemon persisted about a task's last run.
struct TaskHistory {
  std::optional<TimePoint> last_run;
  std::string last_run_boot_id;  // boot id recorded at the last run
};

struct PlanInput {
  TimePoint now;
  TimePoint started_at;  // when this daemon process started
  std::string boot_id;   // the current boot id
  bool first_start_this_boot = false;
  std::map<std::string, TaskHistory, std::less<>> history;  // by task name; missing = never ran
};

enum class DueReason {
  kScheduled,  // its (jittered, windowed) time has come
  kCatchUp,    // missed while the daemon was down, catch_up set
  kBoot,       // @reboot
};

struct TaskPlan {
  std::string name;
  /// When it runs next (<= now when due now); nullopt: never (an @reboot task
  /// not due, or a schedule that matches nothing).
  std::optional<TimePoint> next_due;
  /// The schedule's own time before jitter and window (nullopt for catch-up
  /// and @reboot runs).
  std::optional<TimePoint> scheduled;
  bool due_now = false;
  DueReason reason = DueReason::kScheduled;
};

struct SchedulePlan {
  std::vector<TaskPlan> tasks;  // in configuration order
  /// The earliest next_due (now when something is due); nullopt when nothing
  /// will ever be due: sleep until the configuration changes.
  std::optional<TimePoint> wake_at;

  std::vector<std::string> DueNow() const;
};

class TaskPlanner {
 public:
  /// `zone` is the zone schedules are evaluated in; `node_name` seeds jitter.
  TaskPlanner(std::vector<TaskSchedule> tasks, TimeZone zone, std::string node_name);

  /// The plan at `input.now`. Never fails.
  SchedulePlan Compute(const PlanInput& input) const;

  const std::vector<TaskSchedule>& tasks() const { return tasks_; }

 private:
  TaskPlan PlanTask(const TaskSchedule& task, const PlanInput& input) const;
  /// Moves `due` into the task's window (if any), re-applying the jitter.
  TimePoint IntoWindow(const TaskSchedule& task, TimePoint due, std::chrono::milliseconds jitter) const;

  std::vector<TaskSchedule> tasks_;
  TimeZone zone_;
  std::string node_name_;
};

}  // namespace nodeagent
