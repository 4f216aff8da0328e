// shape.cpp: numel, contiguous strides, broadcasting rules.
#include "tensor/shape.h"
#include "tensor/error.h"

namespace gesso {

int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Strides contiguous_strides(const Shape& s) {
  Strides st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

std::string shape_str(const Shape& s) { return str(s); }

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* what) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    GESSO_CHECK(da == db || da == 1 || db == 1, what, ": shapes ", a, " and ", b,
                " do not broadcast (dimension ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int normalize_axis(int64_t axis, int64_t ndim, const char* what) {
  GESSO_CHECK(axis >= -ndim && axis < std::max<int64_t>(ndim, 1), what, ": axis ", axis,
              " is out of range for a tensor of ", ndim, " dims");
  return static_cast<int>(axis < 0 ? axis + ndim : axis);
}

}  // namespace gesso
