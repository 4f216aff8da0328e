// loader.cpp: permutations, row gathers and the mini-batch loader.
#include "data/loader.h"

#include <cstring>
#include <numeric>

#include "kernels/random.h"

namespace gesso::data {

std::vector<int64_t> permutation(int64_t n, Generator& gen) {
  std::vector<int64_t> p(n);
  std::iota(p.begin(), p.end(), 0);
  if (n < 2) return p;
  uint64_t offset = gen.advance(n);
  for (int64_t i = n - 1; i > 0; --i) {
    double u = kernels::philox_uniform_at(gen.seed, offset, i);
    int64_t j = static_cast<int64_t>(u * static_cast<double>(i + 1));
    if (j > i) j = i;
    std::swap(p[i], p[j]);
  }
  return p;
}

Tensor take_rows(const Tensor& x, const std::vector<int64_t>& rows) {
  GESSO_CHECK(x.defined() && x.dim() >= 1, "take_rows: x must have at least 1 dim");
  GESSO_CHECK(x.device() != Device::cuda, "take_rows: x must be in host memory");
  Tensor src = x.detach().contiguous();
  Shape shape = x.shape();
  int64_t n = shape[0];
  shape[0] = static_cast<int64_t>(rows.size());
  Tensor out = Tensor::empty(shape, TensorOptions(x.dtype()).with(x.device()));
  size_t row_bytes = static_cast<size_t>(numel_of(shape) / std::max<int64_t>(shape[0], 1)) * dtype_size(x.dtype());
  const char* s = static_cast<const char*>(src.raw_data());
  char* d = static_cast<char*>(out.raw_data());
  for (size_t i = 0; i < rows.size(); ++i) {
    GESSO_CHECK(rows[i] >= 0 && rows[i] < n, "take_rows: row ", rows[i], " is outside [0, ", n, ")");
    std::memcpy(d + i * row_bytes, s + rows[i] * row_bytes, row_bytes);
  }
  return out;
}

LabelledImages subset(const LabelledImages& set, const std::vector<int64_t>& rows) {
  return LabelledImages{take_rows(set.images, rows), take_rows(set.labels, rows), set.num_classes};
}

std::pair<LabelledImages, LabelledImages> random_split(const LabelledImages& set, int64_t first, Generator& gen) {
  int64_t n = set.images.size(0);
  GESSO_CHECK(first >= 0 && first <= n, "random_split: first part of ", first, " examples from a set of ", n);
  std::vector<int64_t> p = permutation(n, gen);
  std::vector<int64_t> a(p.begin(), p.begin() + first), b(p.begin() + first, p.end());
  return {subset(set, a), subset(set, b)};
}

BatchLoader::BatchLoader(LabelledImages set, int64_t batch_size, bool shuffle, uint64_t seed, bool drop_last)
    : set_(std::move(set)), batch_size_(batch_size), shuffle_(shuffle), drop_last_(drop_last), gen_(seed) {
  GESSO_CHECK(batch_size > 0, "BatchLoader: batch_size must be > 0, got ", batch_size);
  GESSO_CHECK(set_.images.defined() && set_.images.size(0) > 0, "BatchLoader: the data set is empty");
  GESSO_CHECK(!drop_last || set_.images.size(0) >= batch_size, "BatchLoader: drop_last with ",
              set_.images.size(0), " examples and batch_size ", batch_size, " gives no batch at all");
}

int64_t BatchLoader::batches_per_epoch() const {
  int64_t n = size();
  return drop_last_ ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

bool BatchLoader::next(Tensor* images, Tensor* labels) {
  int64_t n = size();
  if (cursor_ < 0) {
    if (shuffle_) {
      order_ = permutation(n, gen_);
    } else {
      order_.resize(n);
      std::iota(order_.begin(), order_.end(), 0);
    }
    cursor_ = 0;
  }
  int64_t remaining = n - cursor_;
  if (remaining <= 0 || (drop_last_ && remaining < batch_size_)) {
    cursor_ = -1;
    return false;
  }
  int64_t take = std::min(batch_size_, remaining);
  std::vector<int64_t> rows(order_.begin() + cursor_, order_.begin() + cursor_ + take);
  cursor_ += take;
  *images = take_rows(set_.images, rows);
  if (labels) *labels = take_rows(set_.labels, rows);
  return true;
}

}  // namespace gesso::data
