#include "check.h"

#include "nodeagent/plan_objects.h"
#include "text.h"

namespace nodeagent::join_prep {

const char* CheckSeverityName(CheckSeverity s) { return s == CheckSeverity::kError ? "error" : "warning"; }

const char* CheckStatusName(CheckStatus s) {
  switch (s) {
    case CheckStatus::kPass: return "pass";
    case CheckStatus::kFail: return "fail";
    case CheckStatus::kFixed: return "fixed";
    case CheckStatus::kIgnored: return "ignored";
  }
  return "?";
}

FixStep FixStep::Edit(FileEdit edit, std::string description) {
  FixStep s;
  s.kind = Kind::kEditFile;
  s.edit = std::move(edit);
  s.description = std::move(description);
  return s;
}

FixStep FixStep::WriteNow(std::string path, std::string content, std::string description) {
  FixStep s;
  s.kind = Kind::kWriteInPlace;
  s.path = std::move(path);
  s.content = std::move(content);
  s.description = std::move(description);
  return s;
}

FixStep FixStep::Run(std::vector<std::string> argv, std::string description) {
  FixStep s;
  s.kind = Kind::kCommand;
  s.argv = std::move(argv);
  s.description = std::move(description);
  return s;
}

CheckResult CheckResult::Pass(std::string id, std::string message) {
  CheckResult r;
  r.id = std::move(id);
  r.status = CheckStatus::kPass;
  r.message = std::move(message);
  return r;
}

CheckResult CheckResult::Fail(std::string id, CheckSeverity severity, std::string message, std::string hint) {
  CheckResult r;
  r.id = std::move(id);
  r.severity = severity;
  r.status = CheckStatus::kFail;
  r.message = std::move(message);
  r.hint = std::move(hint);
  return r;
}

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                                   "-_./:=+,@%") == std::string::npos;
    if (plain) {
      out += a;
      continue;
    }
    out += '\'';
    for (char c : a) {
      if (c == '\'') out += "'\\''";
      else out += c;
    }
    out += '\'';
  }
  return out;
}

Change StepChange(const FixStep& step) {
  switch (step.kind) {
    case FixStep::Kind::kEditFile: return FileEditChange(step.edit, step.description);
    case FixStep::Kind::kWriteInPlace: {
      Change c;
      c.kind = "write";
      c.target = step.path;
      c.description = step.description.empty() ? "set to " + step.content : step.description;
      c.objects = {FileObject(step.path)};
      return c;
    }
    case FixStep::Kind::kCommand: {
      Change c;
      c.kind = "run";
      c.target = CommandLine(step.argv);
      c.description = step.description;
      if (!step.argv.empty()) c.objects = {CommandObject(step.argv[0])};
      return c;
    }
  }
  return {};
}

Status ApplyStep(Host& host, const FixStep& step) {
  switch (step.kind) {
    case FixStep::Kind::kEditFile: return ApplyFileEdit(host.files(), step.edit);
    case FixStep::Kind::kWriteInPlace: return host.files().WriteInPlace(step.path, step.content);
    case FixStep::Kind::kCommand: {
      CommandSpec spec;
      spec.argv = step.argv;
      spec.timeout = step.timeout;
      auto r = host.commands().Run(spec);
      if (!r) return r.error().Wrap(CommandLine(step.argv));
      if (!r->succeeded()) {
        std::string err = ErrorLine(r->stderr_data);
        std::string how = r->timed_out ? "timed out" : "exited " + std::to_string(r->exit_code);
        return Error(ErrorCode::kIo, CommandLine(step.argv) + " " + how + (err.empty() ? "" : ": " + err));
      }
      return Status::Ok();
    }
  }
  return Status::Ok();
}

}  // namespace nodeagent::join_prep
