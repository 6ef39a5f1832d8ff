#pragma once
// Shared by the lab tests: the HTTP status a call ends with.
#include "core/lab/lab_service.h"

#include <functional>

namespace sozai {
namespace test {

/// The status of the LabError f throws, or 200 when it returns.
inline int status_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const LabError& e) {
    return e.status();
  }
  return 200;
}

}  // namespace test
}  // namespace sozai
