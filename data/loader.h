/*
 * loader.h: turning a labelled image set into shuffled mini-batches.
 * Shuffling uses a Philox generator, so the same seed gives the same batch
 * order on every machine, and a run that resumes from a saved generator
 * state sees the batches the uninterrupted run would have seen.
 */
#pragma once
#include <cstdint>
#include <vector>

#include "data/datasets.h"
#include "tensor/tensor.h"

namespace gesso::data {

// A random permutation of 0..n-1 (Fisher-Yates driven by `gen`).
std::vector<int64_t> permutation(int64_t n, Generator& gen);

// The rows of x (along dim 0) at `rows`, copied into a new contiguous tensor.
Tensor take_rows(const Tensor& x, const std::vector<int64_t>& rows);

// The examples at `rows` of a labelled set.
LabelledImages subset(const LabelledImages& set, const std::vector<int64_t>& rows);

// Splits a set into a first part of `first` examples chosen at random and the rest.
std::pair<LabelledImages, LabelledImages> random_split(const LabelledImages& set, int64_t first, Generator& gen);

class BatchLoader {
 public:
  // drop_last: skip a final partial batch (keeps batch statistics steady).
  BatchLoader(LabelledImages set, int64_t batch_size, bool shuffle, uint64_t seed, bool drop_last = false);
  int64_t batches_per_epoch() const;
  int64_t size() const { return set_.images.size(0); }
  // Fills the next batch of the current epoch; false at the end of an epoch
  // (the next call starts a new, reshuffled epoch).
  bool next(Tensor* images, Tensor* labels);

 private:
  LabelledImages set_;
  int64_t batch_size_;
  bool shuffle_, drop_last_;
  Generator gen_;
  std::vector<int64_t> order_;
  int64_t cursor_ = -1;  // -1: no epoch started
};

}  // namespace gesso::data
