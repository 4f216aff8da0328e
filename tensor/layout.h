/*
 * layout.h: turns tensor shapes and strides into the plain structs that
 * kernels take by value (kernels/common.h), coalescing dimensions so that
 * kernels mostly see one long contiguous row.
 */
#pragma once
#include "kernels/common.h"
#include "tensor/shape.h"

namespace gesso {

kernels::StridedLayout make_strided_layout(const Shape& shape, const Strides& strides);
// a and b are broadcast to `out` (which must be their broadcast shape).
kernels::BinaryLayout make_binary_layout(const Shape& out, const Shape& a_shape, const Strides& a_strides,
                                         const Shape& b_shape, const Strides& b_strides);

}  // namespace gesso
