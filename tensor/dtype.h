/*
 * dtype.h: element types. float32 runs everywhere; float64 runs on the CPU
 * only, so that finite-difference gradient checks can use the very same
 * kernels in double precision.
 */
#pragma once
#include <cstddef>
#include <string>
#include "tensor/error.h"

namespace gesso {

enum class DType { f32, f64 };

inline size_t dtype_size(DType t) { return t == DType::f32 ? 4 : 8; }
inline const char* dtype_name(DType t) { return t == DType::f32 ? "float32" : "float64"; }

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };

}  // namespace gesso

// Runs the statements with `scalar_t` bound to the C++ type of DTYPE.
#define GESSO_DISPATCH_FLOAT(DTYPE, ...)              \
  do {                                                \
    switch (DTYPE) {                                  \
      case ::gesso::DType::f32: {                     \
        using scalar_t = float;                       \
        __VA_ARGS__;                                  \
        break;                                        \
      }                                               \
      case ::gesso::DType::f64: {                     \
        using scalar_t = double;                      \
        __VA_ARGS__;                                  \
        break;                                        \
      }                                               \
    }                                                 \
  } while (0)
