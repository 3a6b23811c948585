// Errors as values. Every fallible call in nodeagent returns a Result<T> or an
// Error instead of throwing, so that failures carry their context (what failed,
// where, what to do) across layers and never cross the plugin boundary as an
// exception. Modelled on leveldb's Status, with a payload slot like std::expected.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace nodeagent {

/// Broad error classes: callers branch on these, humans read the message.
enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,   // bad input: config, parameters, a malformed file
  kNotFound,          // a file, object or plugin that does not exist
  kAlreadyExists,
  kPermissionDenied,
  kConflict,          // optimistic-concurrency or "another run is in progress"
  kTimeout,
  kUnavailable,       // a peer (API server, daemon) cannot be reached
  kTooManyRequests,
  kGone,              // watch resourceVersion too old (HTTP 410)
  kCancelled,
  kIo,                // an OS call failed; message carries errno text
  kInternal,          // a bug or a broken invariant
  kTooLarge,          // an input over its size limit (a whole-file read, a body)
};

const char* ErrorCodeName(ErrorCode code);

/// An error with a code and a human message. The message should say what
/// failed and where (a file:line:col, a key, a URL) and, when it helps, what
/// to do about it. Secrets must never be put into a message.
class Error {
 public:
  Error() = default;
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  /// Prepends context: Error(kIo, "no space").Wrap("writing state") ->
  /// "writing state: no space".
  Error Wrap(const std::string& context) const { return Error(code_, context + ": " + message_); }

  std::string ToString() const { return std::string(ErrorCodeName(code_)) + ": " + message_; }

 private:
  ErrorCode code_ = ErrorCode::kInternal;
  std::string message_;
};

/// Shorthands: InvalidArgument("max_age: expected a duration like 10d").
inline Error InvalidArgument(std::string m) { return Error(ErrorCode::kInvalidArgument, std::move(m)); }
inline Error NotFound(std::string m) { return Error(ErrorCode::kNotFound, std::move(m)); }
inline Error IoError(std::string m) { return Error(ErrorCode::kIo, std::move(m)); }
inline Error Internal(std::string m) { return Error(ErrorCode::kInternal, std::move(m)); }
/// An IoError whose message ends with strerror(err).
Error ErrnoError(const std::string& what, int err);

/// Either a value or an Error. `if (!r) return r.error();` then `*r`.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

/// Result of an operation with no value: an optional error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design
  static Status Ok() { return Status(); }

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { assert(!ok()); return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace nodeagent
