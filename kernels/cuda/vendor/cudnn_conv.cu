/*
 * cudnn_conv.cu: cuDNN's convolutions as the vendor twins of
 * kernels/cuda/conv.cu (vendor.h): forward (+ bias through cudnnAddTensor),
 * backward data (gx =) and backward filter (gw +=, beta = 1).
 *
 * cuDNN 9 still carries the classic descriptor API (cudnn_cnn.h), which is
 * what this file uses: NCHW float tensors, CUDNN_CROSS_CORRELATION (what
 * gesso and every DL framework call convolution), and CUDNN_FMA_MATH so that
 * no TF32 tensor-core algorithm is chosen (an FP32 yardstick). For each
 * geometry and direction, cudnnFind* times the algorithms once and the
 * fastest FMA one is cached; its workspace comes from gesso's caching allocator.
 *
 * Without cuDNN (configure did not find it) the three functions throw, saying so.
 */
#include "kernels/cuda/vendor/handles.h"
#include "kernels/cuda/vendor/vendor.h"

#ifdef GESSO_HAVE_CUDNN

#include <map>
#include <mutex>
#include <tuple>

namespace gesso::kernels::vendor {

namespace {

struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc(int64_t n, int64_t c, int64_t h, int64_t w) {
    GESSO_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d));
    GESSO_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, static_cast<int>(n),
                                                 static_cast<int>(c), static_cast<int>(h), static_cast<int>(w)));
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
};

struct FilterDesc {
  cudnnFilterDescriptor_t d = nullptr;
  explicit FilterDesc(const Conv2dGeometry& g) {
    GESSO_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d));
    GESSO_CUDNN_CHECK(cudnnSetFilter4dDescriptor(d, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, static_cast<int>(g.C_out),
                                                 static_cast<int>(g.C_in), static_cast<int>(g.kH),
                                                 static_cast<int>(g.kW)));
  }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(d); }
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
};

struct ConvDesc {
  cudnnConvolutionDescriptor_t d = nullptr;
  explicit ConvDesc(const Conv2dGeometry& g) {
    GESSO_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d));
    GESSO_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
        d, static_cast<int>(g.pad_h), static_cast<int>(g.pad_w), static_cast<int>(g.stride_h),
        static_cast<int>(g.stride_w), static_cast<int>(g.dilation_h), static_cast<int>(g.dilation_w),
        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    GESSO_CUDNN_CHECK(cudnnSetConvolutionMathType(d, CUDNN_FMA_MATH));
  }
  ~ConvDesc() { cudnnDestroyConvolutionDescriptor(d); }
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
};

// Everything of one call's descriptors.
struct Descs {
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
  explicit Descs(const Conv2dGeometry& g)
      : x(g.N, g.C_in, g.H, g.W), y(g.N, g.C_out, g.OH, g.OW), w(g), conv(g) {}
};

enum class Direction { forward, backward_data, backward_filter };

using Key = std::tuple<int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                       int64_t, int64_t, int64_t, int64_t>;

Key key_of(Direction dir, const Conv2dGeometry& g) {
  return Key{static_cast<int>(dir), g.N,       g.C_in,    g.H,          g.W,         g.C_out,     g.kH,
             g.kW,                  g.stride_h, g.stride_w, g.pad_h,   g.pad_w,     g.dilation_h, g.dilation_w};
}

std::mutex g_algo_mu;
std::map<Key, int> g_algo_cache;  // the algorithm enum's value per geometry and direction

// The fastest FMA algorithm among cuDNN's measured ones (perf sorted by time).
template <class Perf>
int pick(const Perf* perf, int returned, const char* what) {
  for (int i = 0; i < returned; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].mathType == CUDNN_FMA_MATH) return static_cast<int>(perf[i].algo);
  for (int i = 0; i < returned; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS) return static_cast<int>(perf[i].algo);
  ::gesso::fail(what, ": cuDNN found no algorithm that runs this convolution");
}

template <class FindFn>
int cached_algo(Direction dir, const Conv2dGeometry& g, FindFn find) {
  const Key key = key_of(dir, g);
  {
    std::lock_guard<std::mutex> lock(g_algo_mu);
    auto it = g_algo_cache.find(key);
    if (it != g_algo_cache.end()) return it->second;
  }
  const int algo = find();  // outside the lock: it runs kernels for a while
  std::lock_guard<std::mutex> lock(g_algo_mu);
  g_algo_cache[key] = algo;
  return algo;
}

}  // namespace

void conv2d_forward_cudnn(const float* x, const float* w, const float* bias, float* y, const Conv2dGeometry& g,
                          cudaStream_t stream) {
  if (g.N == 0 || g.OH == 0 || g.OW == 0) return;
  cudnnHandle_t h = cudnn_handle(stream);
  Descs d(g);
  const auto algo = static_cast<cudnnConvolutionFwdAlgo_t>(cached_algo(Direction::forward, g, [&] {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int returned = 0;
    GESSO_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(h, d.x.d, d.w.d, d.conv.d, d.y.d,
                                                           CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf));
    return pick(perf, returned, "conv2d_forward_cudnn");
  }));
  size_t bytes = 0;
  GESSO_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, d.x.d, d.w.d, d.conv.d, d.y.d, algo, &bytes));
  VendorWorkspace ws(bytes);
  const float one = 1.f, zero = 0.f;
  GESSO_CUDNN_CHECK(cudnnConvolutionForward(h, &one, d.x.d, x, d.w.d, w, d.conv.d, algo, ws.data(), bytes, &zero,
                                            d.y.d, y));
  if (bias) {
    TensorDesc b(1, g.C_out, 1, 1);
    GESSO_CUDNN_CHECK(cudnnAddTensor(h, &one, b.d, bias, &one, d.y.d, y));
  }
}

void conv2d_backward_input_cudnn(const float* gy, const float* w, float* gx, const Conv2dGeometry& g,
                                 cudaStream_t stream) {
  if (g.N == 0) return;
  if (g.OH == 0 || g.OW == 0) {  // no output position sees the input
    GESSO_VENDOR_CUDA_CHECK(cudaMemsetAsync(gx, 0, sizeof(float) * g.N * g.C_in * g.H * g.W, stream));
    return;
  }
  cudnnHandle_t h = cudnn_handle(stream);
  Descs d(g);
  const auto algo = static_cast<cudnnConvolutionBwdDataAlgo_t>(cached_algo(Direction::backward_data, g, [&] {
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int returned = 0;
    GESSO_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(h, d.w.d, d.y.d, d.conv.d, d.x.d,
                                                                CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &returned,
                                                                perf));
    return pick(perf, returned, "conv2d_backward_input_cudnn");
  }));
  size_t bytes = 0;
  GESSO_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w.d, d.y.d, d.conv.d, d.x.d, algo, &bytes));
  VendorWorkspace ws(bytes);
  const float one = 1.f, zero = 0.f;
  GESSO_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, d.w.d, w, d.y.d, gy, d.conv.d, algo, ws.data(), bytes,
                                                 &zero, d.x.d, gx));
}

void conv2d_backward_weight_cudnn(const float* x, const float* gy, float* gw, const Conv2dGeometry& g,
                                  cudaStream_t stream) {
  if (g.N == 0 || g.OH == 0 || g.OW == 0) return;  // gw += 0
  cudnnHandle_t h = cudnn_handle(stream);
  Descs d(g);
  const auto algo = static_cast<cudnnConvolutionBwdFilterAlgo_t>(cached_algo(Direction::backward_filter, g, [&] {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int returned = 0;
    GESSO_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(h, d.x.d, d.y.d, d.conv.d, d.w.d,
                                                                  CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned,
                                                                  perf));
    return pick(perf, returned, "conv2d_backward_weight_cudnn");
  }));
  size_t bytes = 0;
  GESSO_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, d.x.d, d.y.d, d.conv.d, d.w.d, algo, &bytes));
  VendorWorkspace ws(bytes);
  const float one = 1.f;  // beta = 1: gw accumulates, as the handwritten twin does
  GESSO_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, d.x.d, x, d.y.d, gy, d.conv.d, algo, ws.data(), bytes,
                                                   &one, d.w.d, gw));
}

}  // namespace gesso::kernels::vendor

#else  // no cuDNN in this build

namespace gesso::kernels::vendor {

namespace {
[[noreturn]] void no_cudnn(const char* fn) {
  ::gesso::fail(fn, ": this build has no cuDNN (configure did not find cudnn.h / libcudnn.so); use the handwritten "
                    "kernels (unset GESSO_KERNELS or set it to handwritten)");
}
}  // namespace

void conv2d_forward_cudnn(const float*, const float*, const float*, float*, const Conv2dGeometry&, cudaStream_t) {
  no_cudnn("conv2d_forward_cudnn");
}
void conv2d_backward_input_cudnn(const float*, const float*, float*, const Conv2dGeometry&, cudaStream_t) {
  no_cudnn("conv2d_backward_input_cudnn");
}
void conv2d_backward_weight_cudnn(const float*, const float*, float*, const Conv2dGeometry&, cudaStream_t) {
  no_cudnn("conv2d_backward_weight_cudnn");
}

}  // namespace gesso::kernels::vendor

#endif
