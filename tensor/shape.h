/*
 * shape.h: shapes and strides as plain vectors of int64, and the few rules
 * about them that every layer needs (numel, contiguous strides, broadcasting).
 */
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gesso {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

int64_t numel_of(const Shape& s);
Strides contiguous_strides(const Shape& s);
std::string shape_str(const Shape& s);

// NumPy broadcasting of two shapes; throws naming `what` when they do not fit.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* what);

// Normalises a possibly negative axis for a tensor of `ndim` dims.
int normalize_axis(int64_t axis, int64_t ndim, const char* what);

}  // namespace gesso
