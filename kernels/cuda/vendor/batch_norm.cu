/*
 * batch_norm.cu: cuDNN's batch norm as the vendor twin of kernels/cuda/norm.cu
 * (declared in kernels/cuda/vendor/batch_norm.h): training forward with the
 * running-statistics update fused in, inference forward, and the backward
 * through the batch statistics. GESSO_KERNELS=vendor selects it on
 * Device::cuda (autograd/ops/norm.cpp).
 *
 * cuDNN 9's classic batch-norm API (cudnn_ops.h), CUDNN_BATCHNORM_SPATIAL:
 * statistics per channel over (N, H, W); x is described as NCHW
 * (N, C, HW, 1), the per-channel tensors as (1, C, 1, 1).
 * Where gesso's contract and cuDNN's differ, small kernels below bridge them:
 *   - cuDNN saves 1 / sqrt(var + eps) (the "inverse variance"); gesso saves
 *     the biased variance, so the forward converts it, and the backward
 *     converts back (the two conversions are exact to float rounding);
 *   - cuDNN needs a scale and a bias: without an affine transform, ones and
 *     zeros stand in;
 *   - cuDNN always writes dx and both parameter gradients: gesso's may be
 *     null (not wanted), and then scratch memory takes them. Parameter
 *     gradients accumulate (betaParamDiff = 1), dx is written (betaDataDiff = 0).
 * cuDNN's running variance uses the unbiased batch variance, as gesso's does.
 *
 * Without cuDNN (configure did not find it) the three functions throw, saying so.
 */
#include "kernels/cuda/launch.h"
#include "kernels/cuda/vendor/batch_norm.h"
#include "kernels/cuda/vendor/handles.h"

#ifdef GESSO_HAVE_CUDNN

namespace gesso::kernels::vendor {

namespace {

// One thread per channel: p[c] = value.
__global__ void fill_channels_kernel(float* p, int64_t C, float value) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c < C) p[c] = value;
}

// One thread per channel: var = 1 / invstd^2 - eps (cuDNN's saved inverse
// standard deviation to gesso's biased variance), clamped at 0 against rounding.
__global__ void var_from_invstd_kernel(const float* invstd, float* var, int64_t C, float eps) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c < C) var[c] = fmaxf(1.f / (invstd[c] * invstd[c]) - eps, 0.f);
}

// One thread per channel: invstd = 1 / sqrt(var + eps), for cuDNN's backward.
__global__ void invstd_from_var_kernel(const float* var, float* invstd, int64_t C, float eps) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c < C) invstd[c] = 1.f / sqrtf(var[c] + eps);
}

int channel_blocks(int64_t C) { return static_cast<int>((C + 255) / 256); }

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

// x and y (N, C, HW, 1) and the per-channel (1, C, 1, 1) descriptor.
struct BatchNormDescs {
  TensorDesc x, channel;
  BatchNormDescs(int64_t N, int64_t C, int64_t HW) : x(N, C, HW, 1), channel(1, C, 1, 1) {}
};

void check_sizes(const char* fn, int64_t N, int64_t C, int64_t HW, double eps) {
  GESSO_CHECK(N > 0 && C > 0 && HW > 0, fn, ": sizes must be positive, got N=", N, " C=", C, " HW=", HW);
  GESSO_CHECK(N <= INT32_MAX && C <= INT32_MAX && HW <= INT32_MAX, fn, ": cuDNN takes int sizes, got N=", N, " C=", C,
              " HW=", HW);
  GESSO_CHECK(eps >= CUDNN_BN_MIN_EPSILON, fn, ": eps must be >= ", CUDNN_BN_MIN_EPSILON, ", got ", eps);
}

// weight and bias, or ones and zeros in `scratch` (2 * C floats) when null.
struct Affine {
  const float* scale;
  const float* shift;
};
Affine affine_or_identity(const float* weight, const float* bias, int64_t C, VendorWorkspace& scratch,
                          cudaStream_t stream) {
  float* ones = static_cast<float*>(scratch.data());
  float* zeros = ones + C;
  if (!weight) GESSO_LAUNCH(fill_channels_kernel, channel_blocks(C), 256, 0, stream, ones, C, 1.f);
  if (!bias) GESSO_LAUNCH(fill_channels_kernel, channel_blocks(C), 256, 0, stream, zeros, C, 0.f);
  return {weight ? weight : ones, bias ? bias : zeros};
}

}  // namespace

void batch_norm_forward_train_cudnn(const float* x, const float* weight, const float* bias, float* y,
                                    float* save_mean, float* save_var, float* running_mean, float* running_var,
                                    double momentum, int64_t N, int64_t C, int64_t HW, double eps,
                                    cudaStream_t stream) {
  const char* fn = "batch_norm_forward_train_cudnn";
  check_sizes(fn, N, C, HW, eps);
  GESSO_CHECK(x && y && save_mean && save_var, fn, ": x, y, save_mean and save_var must be non-null");
  GESSO_CHECK((running_mean == nullptr) == (running_var == nullptr), fn,
              ": running_mean and running_var must be given together");
  GESSO_CHECK(N * HW > 1, fn, ": batch statistics need more than one value per channel, got N*HW=", N * HW);
  // [ones | zeros | cuDNN's saved inverse standard deviation], C floats each.
  VendorWorkspace scratch(3 * static_cast<size_t>(C) * sizeof(float));
  const Affine a = affine_or_identity(weight, bias, C, scratch, stream);
  float* invstd = static_cast<float*>(scratch.data()) + 2 * C;
  const BatchNormDescs d(N, C, HW);
  const float one = 1.f, zero = 0.f;
  GESSO_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
      cudnn_handle(stream), CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x.d, x, d.x.d, y, d.channel.d, a.scale, a.shift,
      momentum, running_mean, running_var, eps, save_mean, invstd));
  GESSO_LAUNCH(var_from_invstd_kernel, channel_blocks(C), 256, 0, stream, invstd, save_var, C,
               static_cast<float>(eps));
}

void batch_norm_forward_eval_cudnn(const float* x, const float* mean, const float* var, const float* weight,
                                   const float* bias, float* y, int64_t N, int64_t C, int64_t HW, double eps,
                                   cudaStream_t stream) {
  const char* fn = "batch_norm_forward_eval_cudnn";
  check_sizes(fn, N, C, HW, eps);
  GESSO_CHECK(x && mean && var && y, fn, ": x, mean, var and y must be non-null");
  VendorWorkspace scratch(2 * static_cast<size_t>(C) * sizeof(float));
  const Affine a = affine_or_identity(weight, bias, C, scratch, stream);
  const BatchNormDescs d(N, C, HW);
  const float one = 1.f, zero = 0.f;
  GESSO_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(cudnn_handle(stream), CUDNN_BATCHNORM_SPATIAL, &one,
                                                            &zero, d.x.d, x, d.x.d, y, d.channel.d, a.scale, a.shift,
                                                            mean, var, eps));
}

void batch_norm_backward_cudnn(const float* x, const float* g, const float* mean, const float* var,
                               const float* weight, float* dx, float* dweight, float* dbias, int64_t N, int64_t C,
                               int64_t HW, double eps, cudaStream_t stream) {
  const char* fn = "batch_norm_backward_cudnn";
  check_sizes(fn, N, C, HW, eps);
  GESSO_CHECK(x && g && mean && var, fn, ": x, g, mean and var must be non-null");
  if (!dx && !dweight && !dbias) return;
  // [ones | (unused) | invstd | dweight sink | dbias sink], C floats
  // each, then a dx sink of N*C*HW floats when dx is not wanted.
  const size_t channel_floats = 5 * static_cast<size_t>(C);
  const size_t dx_floats = dx ? 0 : static_cast<size_t>(N * C * HW);
  VendorWorkspace scratch((channel_floats + dx_floats) * sizeof(float));
  float* base = static_cast<float*>(scratch.data());
  const float* scale = weight;
  if (!scale) {
    GESSO_LAUNCH(fill_channels_kernel, channel_blocks(C), 256, 0, stream, base, C, 1.f);
    scale = base;
  }
  float* invstd = base + 2 * C;
  float* dweight_out = dweight ? dweight : base + 3 * C;
  float* dbias_out = dbias ? dbias : base + 4 * C;
  float* dx_out = dx ? dx : base + channel_floats;
  GESSO_LAUNCH(invstd_from_var_kernel, channel_blocks(C), 256, 0, stream, var, invstd, C, static_cast<float>(eps));
  const BatchNormDescs d(N, C, HW);
  const float one = 1.f, zero = 0.f;
  GESSO_CUDNN_CHECK(cudnnBatchNormalizationBackward(cudnn_handle(stream), CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one,
                                                    &one, d.x.d, x, d.x.d, g, d.x.d, dx_out, d.channel.d, scale,
                                                    dweight_out, dbias_out, eps, mean, invstd));
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

void batch_norm_forward_train_cudnn(const float*, const float*, const float*, float*, float*, float*, float*, float*,
                                    double, int64_t, int64_t, int64_t, double, cudaStream_t) {
  no_cudnn("batch_norm_forward_train_cudnn");
}
void batch_norm_forward_eval_cudnn(const float*, const float*, const float*, const float*, const float*, float*,
                                   int64_t, int64_t, int64_t, double, cudaStream_t) {
  no_cudnn("batch_norm_forward_eval_cudnn");
}
void batch_norm_backward_cudnn(const float*, const float*, const float*, const float*, const float*, float*, float*,
                               float*, int64_t, int64_t, int64_t, double, cudaStream_t) {
  no_cudnn("batch_norm_backward_cudnn");
}

}  // namespace gesso::kernels::vendor

#endif
