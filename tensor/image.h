/*
 * image.h: image files <-> tensors, and the image-level helpers around them
 * (resizing, centre cropping, sample grids). Images are float tensors
 * (C, H, W) with values in [0, 1]; C is 1 (grey), 2 (grey + alpha),
 * 3 (RGB) or 4 (RGBA). None of these functions records autograd history.
 */
#pragma once
#include <string>

#include "tensor/tensor.h"

namespace gesso {

// Reads a PNG, JPEG or BMP (anything stb_image reads) into a float32
// (C, H, W) CPU tensor in [0, 1]; 16-bit PNGs keep their 16 bits.
// channels: 0 keeps the file's channels; 1 (grey), 3 (RGB) or 4 (RGBA)
// convert. Grey is the BT.601 luma 0.299 R + 0.587 G + 0.114 B. Dropping an
// alpha channel composites the image over white, so transparent pixels
// (emoji backgrounds) become white rather than whatever colour they hide.
Tensor load_image(const std::string& path, int channels = 0);

// Writes (C, H, W) with C in 1..4, or (H, W) as grey, as PNG or JPEG
// (quality 95; JPEG drops alpha) by the extension (.png, .jpg, .jpeg; any case). Values are
// clamped to [0, 1] and rounded to 8 bits (NaN becomes 0). The file is
// written atomically: on failure an existing file is left untouched.
void save_image(const std::string& path, const Tensor& image);

// Resizes (C, H, W) or (N, C, H, W) to (.., out_h, out_w), choosing per
// axis: area averaging where the axis shrinks, bilinear (half-pixel centres)
// where it grows (kernels/resize.h). Float32 or float64, CPU.
Tensor resize_image(const Tensor& image, int out_h, int out_w);

// Resizes so that the shorter side becomes `size`, keeping the aspect ratio
// (the longer side is rounded to the nearest pixel).
Tensor resize_shorter_side(const Tensor& image, int size);

// The centred h x w window of (C, H, W) or (N, C, H, W), as a new contiguous
// tensor; an odd margin leaves the extra pixel at the bottom/right.
Tensor center_crop(const Tensor& image, int h, int w);

// Tiles a batch (N, C, H, W) into one picture (C, H', W'): nrow images per
// row, `padding` pixels of pad_value between and around them (as
// torchvision's make_grid). H' = rows * (H + padding) + padding, with
// rows = ceil(N / min(nrow, N)), and likewise W' with min(nrow, N) columns.
Tensor make_grid(const Tensor& batch, int nrow, int padding = 2, double pad_value = 1);

}  // namespace gesso
