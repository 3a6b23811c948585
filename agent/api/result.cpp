#include "nodeagent/result.h"

#include <cstring>

namespace nodeagent {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kAlreadyExists: return "already exists";
    case ErrorCode::kPermissionDenied: return "permission denied";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kTooManyRequests: return "too many requests";
    case ErrorCode::kGone: return "gone";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kIo: return "i/o error";
    case ErrorCode::kInternal: return "internal error";
    case ErrorCode::kTooLarge: return "too large";
  }
  return "unknown";
}

Error ErrnoError(const std::string& what, int err) {
  ErrorCode code = ErrorCode::kIo;
  if (err == ENOENT) code = ErrorCode::kNotFound;
  if (err == EACCES || err == EPERM) code = ErrorCode::kPermissionDenied;
  if (err == EEXIST) code = ErrorCode::kAlreadyExists;
  return Error(code, what + ": " + std::strerror(err));
}

}  // namespace nodeagent
