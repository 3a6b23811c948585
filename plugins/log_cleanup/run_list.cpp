#include "run_list.h"

#include <charconv>
#include <cstdio>

namespace nodeagent::logc {

void AppendIsoTime(std::string& out, int64_t ns) {
  int64_t secs = ns / 1'000'000'000;
  if (ns < 0 && ns % 1'000'000'000 != 0) --secs;
  int64_t days = secs / 86400, rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ", (long long)y, (long long)m,
                        (long long)d, (long long)(rem / 3600), (long long)(rem / 60 % 60), (long long)(rem % 60));
  out.append(buf, n);
}

void AppendListRow(std::string& out, std::string_view kind, int64_t bytes, int64_t mtime_ns, std::string_view dir,
                   std::string_view name) {
  char num[24];
  auto [end, ec] = std::to_chars(num, num + sizeof num, bytes);
  (void)ec;
  out.append(kind).append("\t").append(num, end).append("\t");
  AppendIsoTime(out, mtime_ns);
  out.append("\t").append(dir).append("/").append(name).append("\n");
}

void AppendRmdirRow(std::string& out, std::string_view dir) { out.append("rmdir\t0\t-\t").append(dir).append("\n"); }

}  // namespace nodeagent::logc
