#pragma once
/// Error types shared by every layer of sozai.
///
/// Two kinds of checks (STYLE.md): SOZAI_CHECK* throws a named error for
/// anything a user can cause; SOZAI_ASSERT guards internal invariants.
/// Every message says what was expected and what came. The Python binding
/// maps each type to an exception class in one place (python/src/module.cpp).

#include <sstream>
#include <stdexcept>
#include <string>

namespace sozai {

/// Base of all sozai errors.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

/// Bad input from the user: shapes, values, files, columns.
class InputError : public Error {
 public:
  using Error::Error;
};

/// A feature not compiled in, or an option the code does not support.
class UnsupportedError : public Error {
 public:
  using Error::Error;
};

/// A model could not be fitted (e.g. covariance not positive definite).
class FittingError : public Error {
 public:
  using Error::Error;
};

/// Reading or writing persistent state failed.
class StorageError : public Error {
 public:
  using Error::Error;
};

/// Tensors on the wrong or an unavailable device.
class DeviceError : public Error {
 public:
  using Error::Error;
};

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... Rest>
void append(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  append(os, rest...);
}
}  // namespace detail

/// Concatenates the arguments with operator<< into one string.
template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  detail::append(os, args...);
  return os.str();
}

}  // namespace sozai

/// Throws ErrorType with the streamed message when cond is false.
#define SOZAI_CHECK_T(ErrorType, cond, ...)              \
  do {                                                    \
    if (!(cond)) throw ErrorType(::sozai::str(__VA_ARGS__)); \
  } while (0)

/// User-facing input check: throws sozai::InputError.
#define SOZAI_CHECK(cond, ...) SOZAI_CHECK_T(::sozai::InputError, cond, __VA_ARGS__)

/// Internal invariant: a failure is a bug in sozai, not in the input.
#define SOZAI_ASSERT(cond)                                                   \
  do {                                                                       \
    if (!(cond))                                                             \
      throw ::sozai::Error(::sozai::str("internal error: ", #cond, " at ",   \
                                        __FILE__, ":", __LINE__));           \
  } while (0)
