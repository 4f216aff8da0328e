/*
 * pool.cpp: max_pool2d, avg_pool2d and upsample2d (kernels/pool.h).
 *
 * Each is linear in x, or piecewise linear (max pooling), so each backward is
 * the adjoint map, recorded as an op whose own backward is the forward map
 * again; gradients of any order therefore exist:
 *
 *   max_pool2d    y = gather(x, argmax)     backward: index_scatter(g)   its backward: index_gather(gg)
 *   avg_pool2d    y = A x                   backward: A^T g              its backward: A gg
 *   upsample2d    y = U x                   backward: U^T g              its backward: U gg
 *
 * Max pooling's argmax table (8 bytes per output) is not kept from the
 * forward to the backward: the backward recomputes it from x, which the node
 * keeps instead. In a CNN that costs no memory, since the layer before keeps
 * x anyway (a ReLU its output, style's conv2d_relu its output): it lowered
 * the peak in use of a 1024 px VGG-19 Gatys step by 224 MB, for a second
 * pass of the (vectorised, memory-bound) forward kernel. Where nothing else
 * keeps x, keeping it costs about stride^2 / 2 times what the table would
 * have (2x for a 2x2 pool). Once computed, the table is shared (a shared_ptr
 * captured by every closure), so the gradient graph reuses the same winners.
 */
#include <memory>
#include <vector>

#include "autograd/ops/dispatch.h"
#include "kernels/pool.h"
#include "tensor/allocator.h"

namespace gesso {

using autograd::Grads;
using autograd::OpKind;
using autograd::record;
using kernels::Pool2dGeometry;
using kernels::UpsampleGeometry;
using ops_detail::check_float32_on_device;
using ops_detail::dense;
using ops_detail::no_kernel;

namespace {

// Max pooling's argmax table, held in the memory of the tensors' device (on
// a GPU the kernels write and read it there).
class IndexBuffer {
 public:
  IndexBuffer(Device device, size_t n)
      : device_(device), bytes_(n * sizeof(int64_t)),
        data_(static_cast<int64_t*>(n ? device_allocate(device, bytes_) : nullptr)) {}
  ~IndexBuffer() { device_free(device_, data_, bytes_); }
  IndexBuffer(const IndexBuffer&) = delete;
  IndexBuffer& operator=(const IndexBuffer&) = delete;
  int64_t* data() const { return data_; }

 private:
  Device device_;
  size_t bytes_;
  int64_t* data_;
};
using IndexTable = std::shared_ptr<const IndexBuffer>;

TensorOptions like(const Tensor& t) { return TensorOptions(t.dtype()).with(t.device()); }

void check_image(const Tensor& x, const char* op) {
  GESSO_CHECK(x.defined(), op, ": argument 'x' is undefined");
  GESSO_CHECK(x.dim() == 4, op, ": argument 'x' must be 4-d (N, C, H, W), got shape ", x.shape());
}

Pool2dGeometry pool_geometry(const Tensor& x, int kernel, int stride, int pad, const char* op) {
  check_image(x, op);
  GESSO_CHECK(kernel > 0, op, ": argument 'kernel' must be positive, got ", kernel);
  GESSO_CHECK(stride > 0, op, ": argument 'stride' must be positive, got ", stride);
  GESSO_CHECK(pad >= 0 && pad <= kernel / 2, op, ": argument 'pad' must be between 0 and kernel / 2 = ", kernel / 2,
              " (a window must overlap the image), got ", pad);
  Pool2dGeometry g;
  g.planes = x.shape()[0] * x.shape()[1];
  g.H = x.shape()[2];
  g.W = x.shape()[3];
  g.kernel = kernel;
  g.stride = stride;
  g.pad = pad;
  GESSO_CHECK(g.H + 2 * pad >= kernel && g.W + 2 * pad >= kernel, op, ": kernel ", kernel,
              " is larger than the padded input: x of shape ", x.shape(), " padded by ", pad, " is ", g.H + 2 * pad,
              " x ", g.W + 2 * pad);
  g.OH = (g.H + 2 * pad - kernel) / stride + 1;
  g.OW = (g.W + 2 * pad - kernel) / stride + 1;
  return g;
}

// The argmax table of max_pool2d(x) with geometry geo (kernels/pool.h).
IndexTable max_pool2d_argmax(const Tensor& x, const Pool2dGeometry& geo) {
  Tensor xc = dense(x);
  auto argmax = std::make_shared<IndexBuffer>(x.device(), static_cast<size_t>(geo.planes * geo.OH * geo.OW));
  switch (x.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(x.dtype(), kernels::max_pool2d_forward_cpu<scalar_t>(xc.data<scalar_t>(), nullptr,
                                                                                 argmax->data(), geo));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(x, "max_pool2d");
      GESSO_RUN_CUDA_TWIN(x.device(), "max_pool2d", max_pool2d_forward_cuda, xc.data<float>(), nullptr,
                          argmax->data(), geo);
      break;
    default: no_kernel("max_pool2d", x.device());
  }
  return argmax;
}

// Plane sizes of a 4-d shape: (N * C, H * W).
int64_t planes_of(const Shape& s) { return s[0] * s[1]; }
int64_t plane_size(const Shape& s) { return s[2] * s[3]; }

Tensor index_gather(const Tensor& src, const IndexTable& index, const Shape& out_shape);

// out (out_shape) = 0, then out[p, index[p, i]] += src[p, i]. Its backward is index_gather.
Tensor index_scatter(const Tensor& src, const IndexTable& index, const Shape& out_shape) {
  Tensor sc = dense(src);
  Tensor out = Tensor::empty(out_shape, like(src));
  switch (src.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(src.dtype(), kernels::index_scatter_add_cpu(sc.data<scalar_t>(), index->data(),
                                                                        out.data<scalar_t>(), planes_of(out_shape),
                                                                        plane_size(src.shape()), plane_size(out_shape)));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(src, "index_scatter");
      GESSO_RUN_CUDA_TWIN(src.device(), "index_scatter", index_scatter_add_cuda, sc.data<float>(), index->data(),
                          out.data<float>(), planes_of(out_shape), plane_size(src.shape()), plane_size(out_shape));
      break;
    default: no_kernel("index_scatter", src.device());
  }
  const Shape src_shape = src.shape();
  return record(out, OpKind::IndexScatter, {src}, [index, src_shape](const Tensor& g) -> Grads {
    return {index_gather(g, index, src_shape)};
  });
}

// out[p, i] = src[p, index[p, i]]. Its backward is index_scatter.
Tensor index_gather(const Tensor& src, const IndexTable& index, const Shape& out_shape) {
  Tensor sc = dense(src);
  Tensor out = Tensor::empty(out_shape, like(src));
  switch (src.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(src.dtype(), kernels::index_gather_cpu(sc.data<scalar_t>(), index->data(),
                                                                   out.data<scalar_t>(), planes_of(out_shape),
                                                                   plane_size(src.shape()), plane_size(out_shape)));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(src, "index_gather");
      GESSO_RUN_CUDA_TWIN(src.device(), "index_gather", index_gather_cuda, sc.data<float>(), index->data(),
                          out.data<float>(), planes_of(out_shape), plane_size(src.shape()), plane_size(out_shape));
      break;
    default: no_kernel("index_gather", src.device());
  }
  const Shape src_shape = src.shape();
  return record(out, OpKind::IndexGather, {src}, [index, src_shape](const Tensor& g) -> Grads {
    return {index_scatter(g, index, src_shape)};
  });
}

// A^T g for avg_pool2d with geometry `geo`; its backward is avg_pool2d again.
Tensor avg_pool2d_backward(const Tensor& g, const Pool2dGeometry& geo, const Shape& x_shape) {
  Tensor gc = dense(g);
  Tensor out = Tensor::empty(x_shape, like(g));
  switch (g.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(g.dtype(), kernels::avg_pool2d_backward_cpu(gc.data<scalar_t>(), out.data<scalar_t>(), geo));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(g, "avg_pool2d_backward");
      GESSO_RUN_CUDA_TWIN(g.device(), "avg_pool2d_backward", avg_pool2d_backward_cuda, gc.data<float>(),
                          out.data<float>(), geo);
      break;
    default: no_kernel("avg_pool2d_backward", g.device());
  }
  const int kernel = static_cast<int>(geo.kernel), stride = static_cast<int>(geo.stride), pad = static_cast<int>(geo.pad);
  return record(out, OpKind::AvgPool2dBackward, {g}, [kernel, stride, pad](const Tensor& gg) -> Grads {
    return {avg_pool2d(gg, kernel, stride, pad)};
  });
}

kernels::Resample resample_of(UpsampleMode m) {
  return m == UpsampleMode::nearest ? kernels::Resample::nearest : kernels::Resample::bilinear;
}

// U^T g for upsample2d; its backward is upsample2d again.
Tensor upsample2d_backward(const Tensor& g, const UpsampleGeometry& geo, UpsampleMode mode, const Shape& x_shape) {
  Tensor gc = dense(g);
  Tensor out = Tensor::empty(x_shape, like(g));
  switch (g.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(g.dtype(), kernels::upsample2d_backward_cpu(resample_of(mode), gc.data<scalar_t>(),
                                                                        out.data<scalar_t>(), geo));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(g, "upsample2d_backward");
      GESSO_RUN_CUDA_TWIN(g.device(), "upsample2d_backward", upsample2d_backward_cuda, resample_of(mode),
                          gc.data<float>(), out.data<float>(), geo);
      break;
    default: no_kernel("upsample2d_backward", g.device());
  }
  const int out_h = static_cast<int>(geo.OH), out_w = static_cast<int>(geo.OW);
  const bool align = geo.align_corners;
  return record(out, OpKind::UpsampleBackward, {g}, [out_h, out_w, mode, align](const Tensor& gg) -> Grads {
    return {upsample2d(gg, out_h, out_w, mode, align)};
  });
}

}  // namespace

Tensor max_pool2d(const Tensor& x, int kernel, int stride, int pad) {
  const Pool2dGeometry geo = pool_geometry(x, kernel, stride, pad, "max_pool2d");
  Tensor xc = dense(x);
  Tensor out = Tensor::empty({x.shape()[0], x.shape()[1], geo.OH, geo.OW}, like(x));
  switch (x.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(x.dtype(), kernels::max_pool2d_forward_cpu<scalar_t>(xc.data<scalar_t>(),
                                                                                 out.data<scalar_t>(), nullptr, geo));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(x, "max_pool2d");
      GESSO_RUN_CUDA_TWIN(x.device(), "max_pool2d", max_pool2d_forward_cuda, xc.data<float>(), out.data<float>(),
                          nullptr, geo);
      break;
    default: no_kernel("max_pool2d", x.device());
  }
  const Tensor x_data = x.detach();
  return record(out, OpKind::MaxPool2d, {x}, [x_data, geo](const Tensor& g) -> Grads {
    return {index_scatter(g, max_pool2d_argmax(x_data, geo), x_data.shape())};
  });
}

Tensor avg_pool2d(const Tensor& x, int kernel, int stride, int pad) {
  const Pool2dGeometry geo = pool_geometry(x, kernel, stride, pad, "avg_pool2d");
  Tensor xc = dense(x);
  Tensor out = Tensor::empty({x.shape()[0], x.shape()[1], geo.OH, geo.OW}, like(x));
  switch (x.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(x.dtype(), kernels::avg_pool2d_forward_cpu(xc.data<scalar_t>(), out.data<scalar_t>(), geo));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(x, "avg_pool2d");
      GESSO_RUN_CUDA_TWIN(x.device(), "avg_pool2d", avg_pool2d_forward_cuda, xc.data<float>(), out.data<float>(), geo);
      break;
    default: no_kernel("avg_pool2d", x.device());
  }
  const Shape x_shape = x.shape();
  return record(out, OpKind::AvgPool2d, {x}, [geo, x_shape](const Tensor& g) -> Grads {
    return {avg_pool2d_backward(g, geo, x_shape)};
  });
}

Tensor upsample2d(const Tensor& x, int out_h, int out_w, UpsampleMode mode, bool align_corners) {
  check_image(x, "upsample2d");
  GESSO_CHECK(out_h > 0 && out_w > 0, "upsample2d: arguments 'out_h' and 'out_w' must be positive, got (", out_h,
              ", ", out_w, ")");
  GESSO_CHECK(x.shape()[2] > 0 && x.shape()[3] > 0, "upsample2d: argument 'x' must have a non-empty image, got shape ",
              x.shape());
  GESSO_CHECK(mode == UpsampleMode::bilinear || !align_corners,
              "upsample2d: argument 'align_corners' applies to bilinear mode only, got align_corners=true with mode "
              "nearest");
  UpsampleGeometry geo;
  geo.planes = x.shape()[0] * x.shape()[1];
  geo.H = x.shape()[2];
  geo.W = x.shape()[3];
  geo.OH = out_h;
  geo.OW = out_w;
  geo.align_corners = align_corners;
  Tensor xc = dense(x);
  Tensor out = Tensor::empty({x.shape()[0], x.shape()[1], geo.OH, geo.OW}, like(x));
  switch (x.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(x.dtype(), kernels::upsample2d_forward_cpu(resample_of(mode), xc.data<scalar_t>(),
                                                                       out.data<scalar_t>(), geo));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(x, "upsample2d");
      GESSO_RUN_CUDA_TWIN(x.device(), "upsample2d", upsample2d_forward_cuda, resample_of(mode), xc.data<float>(),
                          out.data<float>(), geo);
      break;
    default: no_kernel("upsample2d", x.device());
  }
  const Shape x_shape = x.shape();
  return record(out, OpKind::Upsample, {x}, [geo, mode, x_shape](const Tensor& g) -> Grads {
    return {upsample2d_backward(g, geo, mode, x_shape)};
  });
}

}  // namespace gesso
