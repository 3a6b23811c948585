#include "daemon/logging.h"

#include <cstdlib>

#include "spdlog/sinks/ansicolor_sink.h"
#include "spdlog/sinks/systemd_sink.h"
#include "spdlog/spdlog.h"

namespace nodeagent {

bool UnderSystemd() { return std::getenv("JOURNAL_STREAM") != nullptr || std::getenv("INVOCATION_ID") != nullptr; }

void SetupLogging(const std::string& level, bool force_stderr) {
  std::shared_ptr<spdlog::logger> logger;
  if (!force_stderr && UnderSystemd()) {
    auto sink = std::make_shared<spdlog::sinks::systemd_sink_mt>("nodeagent");
    logger = std::make_shared<spdlog::logger>("nodeagent", sink);
    logger->set_pattern("%v");
  } else {
    auto sink = std::make_shared<spdlog::sinks::ansicolor_stderr_sink_mt>();
    logger = std::make_shared<spdlog::logger>("nodeagent", sink);
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::info);
}

}  // namespace nodeagent
