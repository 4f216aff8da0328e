/*
 * tensor.h: the Tensor, a shared handle to a strided view of a storage.
 *
 *   storage   a block of memory on one device, shared by views
 *   shape     sizes of each dimension
 *   strides   elements to step in storage per index of each dimension
 *             (0 for a broadcast dimension made by expand)
 *   offset    elements from the storage's start to element (0, ..., 0)
 *
 * Autograd state (requires_grad, grad, grad_fn) lives here too, as in
 * PyTorch, but the graph is built by autograd/: every method below that can
 * record a node (reshape, permute, contiguous, to, ...) is defined in
 * autograd/ops/, beside its backward.
 */
#pragma once
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "tensor/allocator.h"
#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/error.h"
#include "tensor/random.h"
#include "tensor/shape.h"

namespace gesso {

namespace autograd { struct Node; }

struct TensorOptions {
  DType dtype = DType::f32;
  Device device = Device::cpu;
  bool requires_grad = false;
  TensorOptions() = default;
  TensorOptions(DType t) : dtype(t) {}  // NOLINT: lets zeros(s, DType::f64) read naturally
  TensorOptions(Device d) : device(d) {}  // NOLINT
  TensorOptions& with(DType t) { dtype = t; return *this; }
  TensorOptions& with(Device d) { device = d; return *this; }
  TensorOptions& grad(bool g = true) { requires_grad = g; return *this; }
};

struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device = Device::cpu;
  Storage(Device d, size_t n);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Strides strides;
  int64_t offset = 0;
  DType dtype = DType::f32;
  // autograd
  bool requires_grad = false;
  std::shared_ptr<autograd::Node> grad_fn;  // null for leaves
  std::shared_ptr<TensorImpl> grad;         // accumulated by backward() on leaves
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // A new contiguous tensor with uninitialised memory.
  static Tensor empty(const Shape& shape, TensorOptions opt = {});

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Strides& strides() const { return impl().strides; }
  int64_t offset() const { return impl().offset; }
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return numel_of(impl().shape); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device; }
  bool is_contiguous() const;
  bool same_storage(const Tensor& o) const { return impl().storage == o.impl().storage; }

  // Pointer to element (0, ..., 0); T must match dtype().
  template <class T> T* data() const {
    GESSO_CHECK(dtype_of<T>::value == dtype(), "Tensor::data: asked for ",
                dtype_name(dtype_of<T>::value), " but the tensor holds ", dtype_name(dtype()));
    return static_cast<T*>(impl().storage->data) + impl().offset;
  }
  void* raw_data() const {
    return static_cast<char*>(impl().storage->data) + impl().offset * dtype_size(dtype());
  }

  // Host-side reads (copy to the CPU first if needed).
  double item() const;
  template <class T> std::vector<T> to_vector() const;

  // In-place, outside autograd: used by optimizers, loaders and initialisers.
  Tensor& fill_(double value);
  Tensor& copy_(const Tensor& src);  // same shape; any dtype/device/strides

  // ---- autograd state
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& requires_grad_(bool r = true);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  const std::shared_ptr<autograd::Node>& grad_fn() const { return impl().grad_fn; }
  Tensor grad() const { return Tensor(impl().grad); }
  void set_grad(const Tensor& g);
  void zero_grad() { impl().grad.reset(); }
  // Backpropagates from this tensor (a scalar unless `gradient` is given).
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false,
                bool create_graph = false) const;
  // Same data, cut from the graph.
  Tensor detach() const;

  // ---- graph-recording methods (defined in autograd/ops/)
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(Device d) const;
  Tensor to(DType t) const;
  Tensor reshape(const Shape& s) const;  // one size may be -1
  Tensor view(const Shape& s) const;     // like reshape, but never copies
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor expand(const Shape& s) const;   // broadcast size-1 dims (stride 0)
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;

  TensorImpl& impl() const {
    GESSO_CHECK(impl_ != nullptr, "use of an undefined Tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- factories
Tensor zeros(const Shape& s, TensorOptions opt = {});
Tensor ones(const Shape& s, TensorOptions opt = {});
Tensor full(const Shape& s, double value, TensorOptions opt = {});
Tensor arange(int64_t n, TensorOptions opt = {});  // 0, 1, ..., n-1
Tensor scalar_tensor(double value, TensorOptions opt = {});
// Uniform in [lo, hi) and standard normal, from Philox (same on every device).
Tensor rand(const Shape& s, Generator& gen, TensorOptions opt = {}, double lo = 0, double hi = 1);
Tensor randn(const Shape& s, Generator& gen, TensorOptions opt = {}, double mean = 0, double std = 1);
Tensor rand(const Shape& s, TensorOptions opt = {});   // default generator
Tensor randn(const Shape& s, TensorOptions opt = {});  // default generator
// Copies host values into a new tensor of the given shape.
Tensor from_vector(const std::vector<float>& v, const Shape& s, TensorOptions opt = {});
Tensor from_vector(const std::vector<double>& v, const Shape& s, TensorOptions opt = {});

// Throws naming `arg` and `op` unless t is defined and has `ndim` dims.
void check_dim(const Tensor& t, int64_t ndim, const char* op, const char* arg);
// Throws unless all tensors share a device and a dtype.
void check_same_device_dtype(const std::vector<Tensor>& ts, const char* op);

}  // namespace gesso
