/*
 * metrics.h: gesso's quality score for generators, the Frechet distance
 * between real and generated images in the feature space of a small
 * classifier that gesso trains itself (the "scorer").
 *
 *   FD = |mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))
 *
 * with mu, S the mean and covariance of the scorer's penultimate features
 * (128 values after a ReLU). Tr (S_r S_g)^(1/2) is computed as
 * Tr (S_r^(1/2) S_g S_r^(1/2))^(1/2), a symmetric matrix, so both square
 * roots come from a symmetric eigen-decomposition (cyclic Jacobi, double
 * precision, written here: no LAPACK).
 *
 * This is NOT the Inception FID of Heusel et al.: the features come from a
 * small CNN trained by `gesso gan train-scorer` on the labelled set, so the
 * numbers are comparable only between runs scored with the same scorer file
 * and the same sample counts (the estimate is biased upwards for small
 * counts), never with FIDs published elsewhere.
 *
 * Scorer (input: (N, C, S, S) images in [0, 1]):
 *   features  Conv(C, 32, 3, pad 1) ReLU MaxPool(2) Conv(32, 64, 3, pad 1) ReLU MaxPool(2)
 *             Flatten Linear(64 * (S/4)^2, 128) ReLU
 *   head      Linear(128, classes)
 * stored as safetensors with its settings in the metadata entry "gesso.scorer".
 */
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/datasets.h"
#include "nn/layers.h"

namespace gesso::gan {

// ---- linear algebra (double, row-major n x n)

struct SymmetricEigen {
  std::vector<double> values;   // n eigenvalues, ascending
  std::vector<double> vectors;  // n x n, column j is the eigenvector of values[j]
};

// Cyclic Jacobi rotations until the off-diagonal mass is below tol relative to the whole.
// Throws when `a` is not n x n or not symmetric (within 1e-9 relative).
SymmetricEigen symmetric_eigen(const std::vector<double>& a, int n, double tol = 1e-14, int max_sweeps = 100);

// The symmetric positive semi-definite square root (negative eigenvalues, from rounding, count as 0).
std::vector<double> sqrtm_psd(const std::vector<double>& a, int n);

struct GaussianStats {
  int dim = 0;
  int64_t count = 0;
  std::vector<double> mean;  // dim
  std::vector<double> cov;   // dim x dim, unbiased (count - 1)
};

// Mean and covariance of the rows of features (N, F), N >= 2.
GaussianStats gaussian_stats(const Tensor& features);
double frechet_distance(const GaussianStats& a, const GaussianStats& b);

// ---- the scorer

struct ScorerInfo {
  int image_size = 28;
  int channels = 1;
  int num_classes = 10;
  int feature_dim = 128;
  std::string data;             // what it was trained on
  double test_accuracy = -1;    // on held-out images, or -1 when unknown
  nlohmann::json to_json() const;
  static ScorerInfo from_json(const nlohmann::json& j);
};

class Scorer : public nn::Module {
 public:
  Scorer(const ScorerInfo& info, Generator& gen);
  std::string type_name() const override { return "Scorer"; }
  Tensor forward(const Tensor& x) override;  // logits (N, classes)
  Tensor features(const Tensor& x);          // (N, feature_dim)
  ScorerInfo info;
  std::shared_ptr<nn::Sequential> body, head;
};

void save_scorer(const std::string& path, const Scorer& scorer);
// Throws naming the file when it is not a scorer file.
std::shared_ptr<Scorer> load_scorer(const std::string& path);

// Penultimate features (N, feature_dim) of images (N, C, H, W) in [0, 1],
// converted to the scorer's size and channels first; eval mode, no graph, in batches.
Tensor scorer_features(Scorer& scorer, const Tensor& images, int64_t batch = 500);

struct ScorerTrainOptions {
  int epochs = 2;
  int64_t batch = 128;
  double lr = 1e-3;
  uint64_t seed = 0;
  std::FILE* progress = nullptr;  // one line per epoch when set
};

// Trains a scorer on `train` (labelled, num_classes >= 2); reports its accuracy on `test` when given.
std::shared_ptr<Scorer> train_scorer(const data::LabelledImages& train, const data::LabelledImages* test,
                                     const std::string& description, const ScorerTrainOptions& options);
double scorer_accuracy(Scorer& scorer, const data::LabelledImages& set);

}  // namespace gesso::gan
