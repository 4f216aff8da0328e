/*
 * runtime.h: the CUDA device plumbing, callable from plain C++ (no CUDA
 * headers here). Implemented in runtime.cu; compiled only when nvcc is found.
 * Every CUDA runtime call inside is checked and a failure throws gesso::Error
 * naming file:line and the call.
 */
#pragma once
#include <cstddef>
#include <string>
#include "tensor/allocator.h"

namespace gesso::cuda {

// Number of GPUs that answer; 0 with *why set when there is no driver or no GPU.
int device_count(std::string* why);

// Caching allocator over cudaMalloc: size-binned free lists, as on the host.
void* cached_malloc(size_t bytes);
void cached_free(void* p, size_t bytes);
AllocatorStats allocator_stats();
void reset_peak();
void empty_cache();

// Copies between host and device memory in any direction (synchronous).
void memcpy(void* dst, bool dst_is_host, const void* src, bool src_is_host, size_t bytes);

}  // namespace gesso::cuda
