/*
 * datasets.h: labelled image sets read from files on disk, as tensors.
 * Images are float32 (N, C, H, W) in [0, 1]; labels are float32 class ids (N).
 *
 *   IDX              the MNIST / Fashion-MNIST file layout, gzipped or not
 *   Fashion-MNIST    Debian package dataset-fashion-mnist
 *   sklearn digits   1797 8x8 grey digits, Debian package python3-sklearn
 *   image folder     every PNG/JPEG/BMP of a directory (label 0, one class)
 *
 * Every reader checks what it reads (magic numbers, sizes, file length) and
 * names the file and what was expected when something is off.
 */
#pragma once
#include <string>

#include "tensor/tensor.h"

namespace gesso::data {

struct LabelledImages {
  Tensor images;  // (N, C, H, W) float32 in [0, 1]
  Tensor labels;  // (N) float32 class ids in [0, num_classes)
  int num_classes = 0;
};

// IDX images: magic 0x00000803 (unsigned bytes, 3 dims N, H, W) -> (N, 1, H, W) / 255.
Tensor read_idx_images(const std::string& path);
// IDX labels: magic 0x00000801 (unsigned bytes, 1 dim N) -> (N) float32.
Tensor read_idx_labels(const std::string& path);

// split "train" (60,000 images) or "test" (10,000). `dir` holds
// {train,t10k}-{images-idx3,labels-idx1}-ubyte, with or without .gz.
LabelledImages load_fashion_mnist(const std::string& split,
                                  const std::string& dir = "/usr/share/datasets/fashion-mnist");

// The UCI digits as shipped by scikit-learn: CSV rows of 64 values 0..16 and
// the label; -> (1797, 1, 8, 8) scaled by 1/16, 10 classes.
LabelledImages load_sklearn_digits(
    const std::string& path = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz");

// Every .png/.jpg/.jpeg/.bmp file directly in `dir` (any case; sorted by
// name), loaded with `channels` (1, 3 or 4), resized so that the shorter
// side is `size` and centre-cropped to size x size. Labels are all 0 and
// num_classes is 1.
LabelledImages load_image_folder(const std::string& dir, int size, int channels = 3);

}  // namespace gesso::data
