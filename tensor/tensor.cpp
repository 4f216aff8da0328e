/*
 * tensor.cpp: storage, the Tensor's non-graph methods and the factories.
 * Graph-recording methods (reshape, to, ...) are in autograd/ops/view.cpp.
 */
#include "tensor/tensor.h"

#include <cmath>
#include <iomanip>
#include <ostream>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/ops/dispatch.h"
#include "kernels/elementwise.h"
#include "kernels/random.h"
#include "tensor/layout.h"

namespace gesso {

Storage::Storage(Device d, size_t n) : bytes(n), device(d) { data = device_allocate(d, n); }
Storage::~Storage() { device_free(device, data, bytes); }

Tensor Tensor::empty(const Shape& shape, TensorOptions opt) {
  for (int64_t s : shape)
    GESSO_CHECK(s >= 0, "Tensor::empty: sizes must be >= 0, got shape ", shape);
  GESSO_CHECK(shape.size() <= static_cast<size_t>(kernels::kMaxDims), "Tensor::empty: at most ",
              kernels::kMaxDims, " dims, got shape ", shape);
  if (opt.device == Device::cuda) {
    std::string why;
    GESSO_CHECK(cuda_available(&why), "device cuda requested but no GPU is available (", why, ")");
  }
  GESSO_CHECK(opt.dtype == DType::f32 || opt.device == Device::cpu,
              "float64 tensors live on the CPU only; asked for float64 on ", device_name(opt.device));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(opt.device, numel_of(shape) * dtype_size(opt.dtype));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = opt.dtype;
  impl->requires_grad = opt.requires_grad;
  return Tensor(std::move(impl));
}

int64_t Tensor::size(int64_t d) const {
  int axis = normalize_axis(d, dim(), "Tensor::size");
  return shape()[axis];
}

bool Tensor::is_contiguous() const {
  int64_t expect = 1;
  for (size_t i = shape().size(); i-- > 0;) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expect) return false;
    expect *= shape()[i];
  }
  return true;
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  // A device tensor comes to the host first (a strided one is made dense on
  // its device by to()).
  Tensor host = device() != Device::cpu ? detach().to(Device::cpu) : detach();
  std::vector<T> out(numel());
  kernels::StridedLayout L = make_strided_layout(host.shape(), host.strides());
  GESSO_DISPATCH_FLOAT(host.dtype(), kernels::strided_copy_cpu(host.data<scalar_t>(), L, out.data()));
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;

double Tensor::item() const {
  GESSO_CHECK(numel() == 1, "item(): expected a tensor with one element, got shape ", shape());
  return to_vector<double>()[0];
}

Tensor& Tensor::fill_(double value) {
  GESSO_CHECK(is_contiguous(), "fill_: the tensor must be contiguous, got strides ", strides());
  if (device() == Device::cpu) {
    GESSO_DISPATCH_FLOAT(dtype(), kernels::fill_cpu(data<scalar_t>(), numel(), value));
  } else {
    ops_detail::check_float32_on_device(*this, "fill_");
    GESSO_RUN_CUDA_TWIN(device(), "fill_", fill_cuda, data<float>(), numel(), value);
  }
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  GESSO_CHECK(src.shape() == shape(), "copy_: source shape ", src.shape(),
              " does not match destination shape ", shape());
  GESSO_CHECK(is_contiguous(), "copy_: the destination must be contiguous, got strides ", strides());
  NoGradGuard no_grad;
  Tensor s = src.detach();
  // Bring the source to this device: to the host as it is (converted below),
  // to a device as float32 (to() makes it dense on its own device first).
  if (s.device() != device()) s = device() == Device::cpu ? s.to(Device::cpu) : s.to(DType::f32).to(device());
  kernels::StridedLayout L = make_strided_layout(s.shape(), s.strides());
  if (device() == Device::cpu) {
    GESSO_DISPATCH_FLOAT(s.dtype(), {
      const scalar_t* ps = s.data<scalar_t>();
      if (dtype() == DType::f32) kernels::strided_copy_cpu(ps, L, data<float>());
      else kernels::strided_copy_cpu(ps, L, data<double>());
    });
  } else {
    ops_detail::check_float32_on_device(*this, "copy_");
    ops_detail::check_float32_on_device(s, "copy_");
    GESSO_RUN_CUDA_TWIN(device(), "copy_", strided_copy_cuda, s.data<float>(), L, data<float>());
  }
  return *this;
}

Tensor& Tensor::requires_grad_(bool r) {
  GESSO_CHECK(is_leaf() || r, "requires_grad_(false) is only allowed on leaf tensors; use detach()");
  impl().requires_grad = r;
  return *this;
}

void Tensor::set_grad(const Tensor& g) {
  if (g.defined())
    GESSO_CHECK(g.shape() == shape(), "set_grad: gradient shape ", g.shape(), " does not match tensor shape ",
                shape());
  impl().grad = g.impl_ptr();
}

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  autograd::backward(*this, gradient, retain_graph, create_graph);
}

Tensor Tensor::detach() const {
  auto impl2 = std::make_shared<TensorImpl>();
  impl2->storage = impl().storage;
  impl2->shape = impl().shape;
  impl2->strides = impl().strides;
  impl2->offset = impl().offset;
  impl2->dtype = impl().dtype;
  return Tensor(std::move(impl2));
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  os << "Tensor(shape=" << shape_str(t.shape()) << ", " << dtype_name(t.dtype()) << ", "
     << device_name(t.device());
  if (t.requires_grad()) os << ", requires_grad";
  if (t.numel() <= 16) {
    os << ", values=[";
    auto v = t.to_vector<double>();
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << std::setprecision(6) << v[i];
    os << "]";
  }
  return os << ")";
}

// ---- factories

Tensor full(const Shape& s, double value, TensorOptions opt) {
  bool rg = opt.requires_grad;
  TensorOptions o = opt;
  o.requires_grad = false;
  Tensor t = Tensor::empty(s, o);
  t.fill_(value);  // on the device itself for cuda and simt
  return t.requires_grad_(rg);
}
Tensor zeros(const Shape& s, TensorOptions opt) { return full(s, 0.0, opt); }
Tensor ones(const Shape& s, TensorOptions opt) { return full(s, 1.0, opt); }
Tensor scalar_tensor(double value, TensorOptions opt) { return full({}, value, opt); }

Tensor arange(int64_t n, TensorOptions opt) {
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<double>(i);
  return from_vector(v, {n}, opt);
}

namespace {
template <class V>
Tensor from_host(const std::vector<V>& v, const Shape& s, TensorOptions opt) {
  GESSO_CHECK(static_cast<int64_t>(v.size()) == numel_of(s), "from_vector: ", v.size(),
              " values do not fill shape ", s, " (", numel_of(s), " elements)");
  bool rg = opt.requires_grad;
  TensorOptions host_opt = opt;
  host_opt.device = Device::cpu;
  host_opt.requires_grad = false;
  Tensor t = Tensor::empty(s, host_opt);
  GESSO_DISPATCH_FLOAT(t.dtype(), {
    scalar_t* p = t.data<scalar_t>();
    for (size_t i = 0; i < v.size(); ++i) p[i] = static_cast<scalar_t>(v[i]);
  });
  if (opt.device != Device::cpu) t = t.to(opt.device);
  return t.requires_grad_(rg);
}

enum class Dist { uniform, normal };
Tensor random_tensor(const Shape& s, Generator& gen, TensorOptions opt, Dist dist, double p0, double p1) {
  bool rg = opt.requires_grad;
  TensorOptions o = opt;
  o.requires_grad = false;
  Tensor t = Tensor::empty(s, o);
  uint64_t offset = gen.advance(t.numel());
  if (t.device() == Device::cpu) {
    GESSO_DISPATCH_FLOAT(t.dtype(), {
      if (dist == Dist::uniform) kernels::philox_uniform_cpu(gen.seed, offset, t.data<scalar_t>(), t.numel(), p0, p1);
      else kernels::philox_normal_cpu(gen.seed, offset, t.data<scalar_t>(), t.numel(), p0, p1);
    });
  } else {
    // Drawn on the device by the Philox twin: the same numbers as the CPU
    // for the same generator state, with no host buffer or copy.
    const char* what = dist == Dist::uniform ? "rand" : "randn";
    ops_detail::check_float32_on_device(t, what);
    if (dist == Dist::uniform)
      GESSO_RUN_CUDA_TWIN(t.device(), what, philox_uniform_cuda, gen.seed, offset, t.data<float>(), t.numel(), p0, p1);
    else
      GESSO_RUN_CUDA_TWIN(t.device(), what, philox_normal_cuda, gen.seed, offset, t.data<float>(), t.numel(), p0, p1);
  }
  return t.requires_grad_(rg);
}
}  // namespace

Tensor from_vector(const std::vector<float>& v, const Shape& s, TensorOptions opt) { return from_host(v, s, opt); }
Tensor from_vector(const std::vector<double>& v, const Shape& s, TensorOptions opt) { return from_host(v, s, opt); }

Tensor rand(const Shape& s, Generator& gen, TensorOptions opt, double lo, double hi) {
  return random_tensor(s, gen, opt, Dist::uniform, lo, hi);
}
Tensor randn(const Shape& s, Generator& gen, TensorOptions opt, double mean, double std) {
  return random_tensor(s, gen, opt, Dist::normal, mean, std);
}
Tensor rand(const Shape& s, TensorOptions opt) { return rand(s, default_generator(), opt); }
Tensor randn(const Shape& s, TensorOptions opt) { return randn(s, default_generator(), opt); }

void check_dim(const Tensor& t, int64_t ndim, const char* op, const char* arg) {
  GESSO_CHECK(t.defined(), op, ": argument '", arg, "' is undefined");
  GESSO_CHECK(t.dim() == ndim, op, ": argument '", arg, "' must have ", ndim, " dims, got shape ", t.shape());
}

void check_same_device_dtype(const std::vector<Tensor>& ts, const char* op) {
  const Tensor* first = nullptr;
  for (const Tensor& t : ts) {
    if (!t.defined()) continue;
    if (!first) { first = &t; continue; }
    GESSO_CHECK(t.device() == first->device(), op, ": tensors on different devices (",
                device_name(first->device()), " and ", device_name(t.device()), ")");
    GESSO_CHECK(t.dtype() == first->dtype(), op, ": tensors of different dtypes (", dtype_name(first->dtype()),
                " and ", dtype_name(t.dtype()), ")");
  }
}

}  // namespace gesso
