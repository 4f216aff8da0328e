/*
 * error.h: gesso's one exception type and the checks that throw it.
 * Every public entry point checks its input and throws gesso::Error with a
 * message that names the argument, what was expected and what came:
 *   GESSO_CHECK(a.dim() == 4, "conv2d: input must be 4-d (N, C, H, W), got ", a.shape());
 */
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>
#include <cstdint>

namespace gesso {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
inline void append(std::ostringstream&) {}
template <class T>
void put(std::ostringstream& os, const T& v) { os << v; }
inline void put(std::ostringstream& os, const std::vector<int64_t>& v) {
  os << '(';
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  if (v.size() == 1) os << ',';
  os << ')';
}
template <class T, class... R>
void append(std::ostringstream& os, const T& v, const R&... rest) {
  put(os, v);
  append(os, rest...);
}
}  // namespace detail

template <class... A>
std::string str(const A&... args) {
  std::ostringstream os;
  detail::append(os, args...);
  return os.str();
}

template <class... A>
[[noreturn]] void fail(const A&... args) {
  throw Error(str(args...));
}

}  // namespace gesso

#define GESSO_CHECK(cond, ...)                 \
  do {                                         \
    if (!(cond)) ::gesso::fail(__VA_ARGS__);   \
  } while (0)
