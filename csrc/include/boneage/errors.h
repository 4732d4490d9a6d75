// Error types. ValueError and TypeError map to Python's; CudaError maps to
// boneage_fast.CudaError. Nothing in the core prints and carries on.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace boneage {

struct ValueError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace boneage

#define BONEAGE_CHECK_VALUE(cond, ...) \
  do {                                 \
    if (!(cond)) throw ::boneage::ValueError(::boneage::cat(__VA_ARGS__)); \
  } while (0)
#define BONEAGE_CHECK_TYPE(cond, ...) \
  do {                                \
    if (!(cond)) throw ::boneage::TypeError(::boneage::cat(__VA_ARGS__)); \
  } while (0)
