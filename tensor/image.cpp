/*
 * image.cpp: image files through stb_image / stb_image_write (whose
 * implementations are compiled here, and only here), channel conversion,
 * and the image helpers of image.h. Pixels are converted in float from the
 * file's own channels, so every conversion is written out below rather than
 * left to the decoder.
 */
#include "tensor/image.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include "stb_image.h"
#include "stb_image_write.h"
#pragma GCC diagnostic pop

#include "kernels/resize.h"
#include "tensor/atomic_file.h"

namespace gesso {

namespace {

std::string lowercase_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

// Converts interleaved pixels with `from` channels to planar (C, H, W) with
// `to` channels (see load_image for the rules).
void convert_channels(const float* src, int from, float* dst, int to, int64_t pixels) {
  const bool src_alpha = from == 2 || from == 4;
  for (int64_t p = 0; p < pixels; ++p) {
    const float* s = src + p * from;
    float r, g, b;
    if (from <= 2) r = g = b = s[0];
    else { r = s[0]; g = s[1]; b = s[2]; }
    const float a = src_alpha ? s[from - 1] : 1.0f;
    const bool keep_alpha = to == 2 || to == 4;
    if (!keep_alpha && src_alpha) {  // composite over white
      r = r * a + (1.0f - a);
      g = g * a + (1.0f - a);
      b = b * a + (1.0f - a);
    }
    float out[4];
    switch (to) {
      case 1: out[0] = from <= 2 ? r : 0.299f * r + 0.587f * g + 0.114f * b; break;
      case 2: out[0] = from <= 2 ? r : 0.299f * r + 0.587f * g + 0.114f * b; out[1] = a; break;
      case 3: out[0] = r; out[1] = g; out[2] = b; break;
      default: out[0] = r; out[1] = g; out[2] = b; out[3] = a; break;
    }
    for (int c = 0; c < to; ++c) dst[c * pixels + p] = out[c];
  }
}

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<unsigned char>*>(context);
  const auto* bytes = static_cast<const unsigned char*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

// (C, H, W) on the CPU, contiguous, in the image's dtype, cut from any graph.
Tensor host_image(const Tensor& image) {
  Tensor t = image.detach();
  if (t.device() != Device::cpu) t = t.to(Device::cpu);
  return t.contiguous();
}

}  // namespace

Tensor load_image(const std::string& path, int channels) {
  GESSO_CHECK(channels == 0 || channels == 1 || channels == 3 || channels == 4,
              "load_image: argument 'channels' must be 0 (as in the file), 1, 3 or 4, got ", channels);
  std::error_code ec;
  GESSO_CHECK(std::filesystem::exists(path, ec), "load_image: no such file '", path, "'");
  GESSO_CHECK(!std::filesystem::is_directory(path, ec), "load_image: '", path, "' is a directory, not an image");
  int w = 0, h = 0, file_channels = 0;
  std::vector<float> pixels;
  if (stbi_is_16_bit(path.c_str())) {
    stbi_us* data = stbi_load_16(path.c_str(), &w, &h, &file_channels, 0);
    GESSO_CHECK(data != nullptr, "load_image: '", path, "' is not an image stb_image can read (",
                stbi_failure_reason(), ")");
    pixels.resize(static_cast<size_t>(w) * h * file_channels);
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = data[i] / 65535.0f;
    stbi_image_free(data);
  } else {
    stbi_uc* data = stbi_load(path.c_str(), &w, &h, &file_channels, 0);
    GESSO_CHECK(data != nullptr, "load_image: '", path, "' is not an image stb_image can read (",
                stbi_failure_reason(), ")");
    pixels.resize(static_cast<size_t>(w) * h * file_channels);
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = data[i] / 255.0f;
    stbi_image_free(data);
  }
  const int out_channels = channels == 0 ? file_channels : channels;
  Tensor out = Tensor::empty({out_channels, h, w});
  convert_channels(pixels.data(), file_channels, out.data<float>(), out_channels, static_cast<int64_t>(w) * h);
  return out;
}

void save_image(const std::string& path, const Tensor& image) {
  GESSO_CHECK(image.defined(), "save_image: argument 'image' is an undefined tensor (writing '", path, "')");
  const std::string ext = lowercase_extension(path);
  const bool png = ext == ".png";
  GESSO_CHECK(png || ext == ".jpg" || ext == ".jpeg", "save_image: unsupported extension '", ext, "' in '", path,
              "'; gesso writes .png, .jpg and .jpeg");
  GESSO_CHECK(image.dim() == 2 || image.dim() == 3, "save_image: argument 'image' must be (C, H, W) or (H, W), got shape ",
              image.shape(), " (writing '", path, "')");
  const int64_t C = image.dim() == 3 ? image.size(0) : 1;
  const int64_t H = image.size(-2), W = image.size(-1);
  GESSO_CHECK(C >= 1 && C <= 4, "save_image: argument 'image' must have 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA) "
              "channels in dim 0, got shape ", image.shape(), " (writing '", path, "')");
  GESSO_CHECK(H >= 1 && W >= 1 && H <= (1 << 24) && W <= (1 << 24), "save_image: argument 'image' must be at least 1x1 "
              "and at most 2^24 pixels per side, got shape ", image.shape(), " (writing '", path, "')");

  const std::vector<float> planar = image.to_vector<float>();
  const int64_t pixels = H * W;
  std::vector<unsigned char> interleaved(static_cast<size_t>(pixels * C));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t p = 0; p < pixels; ++p) {
      float v = planar[c * pixels + p];
      v = v > 0.0f ? std::min(v, 1.0f) : 0.0f;  // NaN fails v > 0 and becomes 0
      interleaved[p * C + c] = static_cast<unsigned char>(std::lround(v * 255.0f));
    }

  std::vector<unsigned char> encoded;
  const int w = static_cast<int>(W), h = static_cast<int>(H), comp = static_cast<int>(C);
  const int ok = png ? stbi_write_png_to_func(append_bytes, &encoded, w, h, comp, interleaved.data(), w * comp)
                     : stbi_write_jpg_to_func(append_bytes, &encoded, w, h, comp, interleaved.data(), 95);
  GESSO_CHECK(ok != 0 && !encoded.empty(), "save_image: encoding '", path, "' failed");
  write_file_atomically(
      path, [&](std::FILE* f) { write_bytes(f, encoded.data(), encoded.size(), path, "save_image"); }, "save_image");
}

Tensor resize_image(const Tensor& image, int out_h, int out_w) {
  GESSO_CHECK(image.defined() && (image.dim() == 3 || image.dim() == 4),
              "resize_image: argument 'image' must be (C, H, W) or (N, C, H, W), got ",
              image.defined() ? shape_str(image.shape()) : std::string("an undefined tensor"));
  GESSO_CHECK(out_h >= 1 && out_w >= 1, "resize_image: the output size must be at least 1x1, got ", out_h, "x", out_w);
  const int64_t H = image.size(-2), W = image.size(-1);
  GESSO_CHECK(H >= 1 && W >= 1, "resize_image: argument 'image' has no pixels, shape ", image.shape());
  const int64_t planes = image.numel() / (H * W);
  Shape out_shape = image.shape();
  out_shape[out_shape.size() - 2] = out_h;
  out_shape[out_shape.size() - 1] = out_w;
  const auto pick = [](int64_t in, int64_t out_size) {
    return out_size < in ? kernels::ResizeFilter::area : kernels::ResizeFilter::bilinear;
  };
  if (image.device() != Device::cpu) {
    // On a device (float32 only) the CUDA twin runs there: kernels::cuda on a
    // GPU, kernels::simt (the same source on the SIMT runtime) on simt.
    GESSO_CHECK(image.dtype() == DType::f32, "resize_image: images on ", device_name(image.device()),
                " must be float32, got ", dtype_name(image.dtype()));
    Tensor src = image.detach().contiguous();
    Tensor out = Tensor::empty(out_shape, TensorOptions(image.dtype()).with(image.device()));
    if (planes == 0) return out;
    const float* px = src.data<float>();
    float* py = out.data<float>();
    const kernels::ResizeFilter fh = pick(H, out_h), fw = pick(W, out_w);
    switch (image.device()) {
#ifdef GESSO_HAVE_CUDA
      case Device::cuda: kernels::cuda::resize_cuda(px, py, planes, H, W, out_h, out_w, fh, fw, nullptr); break;
#endif
#ifdef GESSO_HAVE_SIMT
      case Device::simt: kernels::simt::resize_cuda(px, py, planes, H, W, out_h, out_w, fh, fw, nullptr); break;
#endif
      default: fail("resize_image: no kernel for device ", device_name(image.device()), " in this build");
    }
    return out;
  }
  Tensor src = host_image(image);
  Tensor out = Tensor::empty(out_shape, TensorOptions(image.dtype()));
  if (planes > 0)
    GESSO_DISPATCH_FLOAT(image.dtype(), kernels::resize_cpu(src.data<scalar_t>(), out.data<scalar_t>(), planes, H, W,
                                                            out_h, out_w, pick(H, out_h), pick(W, out_w)));
  return out;
}

Tensor resize_shorter_side(const Tensor& image, int size) {
  GESSO_CHECK(image.defined() && (image.dim() == 3 || image.dim() == 4),
              "resize_shorter_side: argument 'image' must be (C, H, W) or (N, C, H, W), got ",
              image.defined() ? shape_str(image.shape()) : std::string("an undefined tensor"));
  GESSO_CHECK(size >= 1, "resize_shorter_side: argument 'size' must be >= 1, got ", size);
  const int64_t H = image.size(-2), W = image.size(-1);
  GESSO_CHECK(H >= 1 && W >= 1, "resize_shorter_side: argument 'image' has no pixels, shape ", image.shape());
  const auto longer = [&](int64_t long_side, int64_t short_side) {
    return static_cast<int>(std::max<long>(1, std::lround(static_cast<double>(long_side) * size / short_side)));
  };
  if (H <= W) return resize_image(image, size, longer(W, H));
  return resize_image(image, longer(H, W), size);
}

Tensor center_crop(const Tensor& image, int h, int w) {
  GESSO_CHECK(image.defined() && (image.dim() == 3 || image.dim() == 4),
              "center_crop: argument 'image' must be (C, H, W) or (N, C, H, W), got ",
              image.defined() ? shape_str(image.shape()) : std::string("an undefined tensor"));
  const int64_t H = image.size(-2), W = image.size(-1);
  GESSO_CHECK(h >= 1 && w >= 1 && h <= H && w <= W, "center_crop: the crop ", h, "x", w,
              " must be at least 1x1 and fit inside the image, whose shape is ", image.shape());
  const int64_t d = image.dim();
  return image.detach().narrow(d - 2, (H - h) / 2, h).narrow(d - 1, (W - w) / 2, w).clone();
}

Tensor make_grid(const Tensor& batch, int nrow, int padding, double pad_value) {
  GESSO_CHECK(batch.defined() && batch.dim() == 4, "make_grid: argument 'batch' must be (N, C, H, W), got ",
              batch.defined() ? shape_str(batch.shape()) : std::string("an undefined tensor"));
  GESSO_CHECK(batch.size(0) >= 1, "make_grid: argument 'batch' holds no images, shape ", batch.shape());
  GESSO_CHECK(nrow >= 1, "make_grid: argument 'nrow' must be >= 1, got ", nrow);
  GESSO_CHECK(padding >= 0, "make_grid: argument 'padding' must be >= 0, got ", padding);
  const int64_t N = batch.size(0), C = batch.size(1), H = batch.size(2), W = batch.size(3);
  const int64_t cols = std::min<int64_t>(nrow, N);
  const int64_t rows = (N + cols - 1) / cols;
  const int64_t cell_h = H + padding, cell_w = W + padding;
  const int64_t GH = rows * cell_h + padding, GW = cols * cell_w + padding;
  Tensor src = host_image(batch);
  Tensor grid = full({C, GH, GW}, pad_value, TensorOptions(batch.dtype()));
  GESSO_DISPATCH_FLOAT(batch.dtype(), {
    const scalar_t* x = src.data<scalar_t>();
    scalar_t* g = grid.data<scalar_t>();
    for (int64_t n = 0; n < N; ++n) {
      const int64_t top = (n / cols) * cell_h + padding, left = (n % cols) * cell_w + padding;
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < H; ++i)
          std::memcpy(g + (c * GH + top + i) * GW + left, x + ((n * C + c) * H + i) * W, W * sizeof(scalar_t));
    }
  });
  return batch.device() == Device::cpu ? grid : grid.to(batch.device());
}

}  // namespace gesso
