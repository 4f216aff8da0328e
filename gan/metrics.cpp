/*
 * metrics.cpp: Jacobi eigen-decomposition, Gaussian statistics, the Frechet
 * distance and the scorer network (metrics.h).
 */
#include "gan/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "autograd/ops.h"
#include "data/loader.h"
#include "gan/data.h"
#include "nn/optim.h"
#include "nn/safetensors.h"

namespace gesso::gan {

// ---- linear algebra

SymmetricEigen symmetric_eigen(const std::vector<double>& input, int n, double tol, int max_sweeps) {
  GESSO_CHECK(n >= 1, "symmetric_eigen: argument 'n' must be >= 1, got ", n);
  GESSO_CHECK(input.size() == static_cast<size_t>(n) * n, "symmetric_eigen: the matrix must hold n x n = ", n * n,
              " values, got ", input.size());
  std::vector<double> a = input;
  double total = 0;
  for (double v : a) {
    GESSO_CHECK(std::isfinite(v), "symmetric_eigen: the matrix holds a non-finite value ", v);
    total += v * v;
  }
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) {
      const double x = a[i * n + j], y = a[j * n + i];
      GESSO_CHECK(std::abs(x - y) <= 1e-9 * (std::abs(x) + std::abs(y)) + 1e-300, "symmetric_eigen: the matrix is not "
                  "symmetric: a[", i, "][", j, "] = ", x, " but a[", j, "][", i, "] = ", y);
      a[j * n + i] = a[i * n + j] = 0.5 * (x + y);
    }
  std::vector<double> v(static_cast<size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) v[i * n + i] = 1;
  for (int sweep = 0; sweep < max_sweeps; ++sweep) {
    double off = 0;
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j) off += 2 * a[i * n + j] * a[i * n + j];
    if (off <= tol * tol * total || off == 0) break;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (apq == 0) continue;
        // The rotation J (c on the diagonal, s at (p, q), -s at (q, p)) that zeroes a_pq in J^T A J:
        // t = tan(angle) is the smaller root of t^2 + 2 theta t - 1 = 0.
        const double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; ++k) {  // columns p, q of A J
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {  // rows p, q of J^T (A J)
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        a[p * n + q] = a[q * n + p] = 0;
        for (int k = 0; k < n; ++k) {  // V J accumulates the eigenvectors
          const double vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int i, int j) { return a[i * n + i] < a[j * n + j]; });
  SymmetricEigen out;
  out.values.resize(n);
  out.vectors.resize(static_cast<size_t>(n) * n);
  for (int j = 0; j < n; ++j) {
    out.values[j] = a[order[j] * n + order[j]];
    for (int k = 0; k < n; ++k) out.vectors[k * n + j] = v[k * n + order[j]];
  }
  return out;
}

std::vector<double> sqrtm_psd(const std::vector<double>& a, int n) {
  SymmetricEigen e = symmetric_eigen(a, n);
  std::vector<double> out(static_cast<size_t>(n) * n, 0.0);
  for (int j = 0; j < n; ++j) {
    const double r = std::sqrt(std::max(e.values[j], 0.0));
    if (r == 0) continue;
    for (int i = 0; i < n; ++i) {
      const double vi = e.vectors[i * n + j] * r;
      for (int k = 0; k < n; ++k) out[i * n + k] += vi * e.vectors[k * n + j];
    }
  }
  return out;
}

GaussianStats gaussian_stats(const Tensor& features) {
  check_dim(features, 2, "gaussian_stats", "features");
  const int64_t n = features.size(0), f = features.size(1);
  GESSO_CHECK(n >= 2, "gaussian_stats: need at least 2 rows of features for a covariance, got ", n);
  std::vector<double> x = features.detach().to(DType::f64).contiguous().to_vector<double>();
  GaussianStats s;
  s.dim = static_cast<int>(f);
  s.count = n;
  s.mean.assign(f, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < f; ++j) s.mean[j] += x[i * f + j];
  for (double& m : s.mean) m /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < f; ++j) x[i * f + j] -= s.mean[j];
  s.cov.assign(f * f, 0.0);
#pragma omp parallel for if (f >= 32)
  for (int64_t j = 0; j < f; ++j)
    for (int64_t i = 0; i < n; ++i) {
      const double xj = x[i * f + j];
      for (int64_t k = j; k < f; ++k) s.cov[j * f + k] += xj * x[i * f + k];
    }
  for (int64_t j = 0; j < f; ++j)
    for (int64_t k = j; k < f; ++k) {
      const double c = s.cov[j * f + k] / static_cast<double>(n - 1);
      s.cov[j * f + k] = s.cov[k * f + j] = c;
    }
  return s;
}

double frechet_distance(const GaussianStats& a, const GaussianStats& b) {
  GESSO_CHECK(a.dim > 0 && a.dim == b.dim, "frechet_distance: the two sets of statistics have ", a.dim, " and ",
              b.dim, " dimensions");
  const int n = a.dim;
  double mean_term = 0, trace = 0;
  for (int i = 0; i < n; ++i) {
    const double d = a.mean[i] - b.mean[i];
    mean_term += d * d;
    trace += a.cov[i * n + i] + b.cov[i * n + i];
  }
  // Tr sqrt(A B) = Tr sqrt(sqrt(A) B sqrt(A)): the latter is symmetric PSD.
  std::vector<double> ra = sqrtm_psd(a.cov, n);
  std::vector<double> tmp(static_cast<size_t>(n) * n, 0.0), m(static_cast<size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < n; ++k) {
      const double r = ra[i * n + k];
      for (int j = 0; j < n; ++j) tmp[i * n + j] += r * b.cov[k * n + j];
    }
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < n; ++k) {
      const double t = tmp[i * n + k];
      for (int j = 0; j < n; ++j) m[i * n + j] += t * ra[k * n + j];
    }
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) m[i * n + j] = m[j * n + i] = 0.5 * (m[i * n + j] + m[j * n + i]);
  SymmetricEigen e = symmetric_eigen(m, n);
  double trace_sqrt = 0;
  for (double l : e.values) trace_sqrt += std::sqrt(std::max(l, 0.0));
  // Rounding can leave a tiny negative for identical statistics.
  return std::max(0.0, mean_term + trace - 2 * trace_sqrt);
}

// ---- the scorer

nlohmann::json ScorerInfo::to_json() const {
  return {{"image_size", image_size}, {"channels", channels},   {"num_classes", num_classes},
          {"feature_dim", feature_dim}, {"data", data}, {"test_accuracy", test_accuracy}};
}

ScorerInfo ScorerInfo::from_json(const nlohmann::json& j) {
  ScorerInfo s;
  auto need_int = [&](const char* key, int& field, int lo, int hi) {
    GESSO_CHECK(j.is_object() && j.contains(key) && j[key].is_number_integer(), "scorer: setting '", key,
                "' is missing or not an integer in ", j.dump());
    field = j[key].get<int>();
    GESSO_CHECK(field >= lo && field <= hi, "scorer: setting '", key, "' must be in [", lo, ", ", hi, "], got ", field);
  };
  need_int("image_size", s.image_size, 4, 1024);
  GESSO_CHECK(s.image_size % 4 == 0, "scorer: setting 'image_size' must be a multiple of 4, got ", s.image_size);
  need_int("channels", s.channels, 1, 3);
  need_int("num_classes", s.num_classes, 2, 100000);
  need_int("feature_dim", s.feature_dim, 1, 4096);
  if (j.contains("data") && j["data"].is_string()) s.data = j["data"].get<std::string>();
  if (j.contains("test_accuracy") && j["test_accuracy"].is_number()) s.test_accuracy = j["test_accuracy"].get<double>();
  return s;
}

Scorer::Scorer(const ScorerInfo& i, Generator& gen) : info(i) {
  GESSO_CHECK(info.image_size >= 4 && info.image_size % 4 == 0, "Scorer: image size must be a multiple of 4, got ",
              info.image_size);
  GESSO_CHECK(info.channels == 1 || info.channels == 3, "Scorer: channels must be 1 or 3, got ", info.channels);
  GESSO_CHECK(info.num_classes >= 2, "Scorer: needs at least 2 classes to learn features, got ", info.num_classes);
  const int64_t side = info.image_size / 4;
  body = register_module("body", std::make_shared<nn::Sequential>());
  body->push_back(std::make_shared<nn::Conv2d>(info.channels, 32, 3, nn::Conv2dOptions().padding(1), gen));
  body->push_back(std::make_shared<nn::ReLU>());
  body->push_back(std::make_shared<nn::MaxPool2d>(2));
  body->push_back(std::make_shared<nn::Conv2d>(32, 64, 3, nn::Conv2dOptions().padding(1), gen));
  body->push_back(std::make_shared<nn::ReLU>());
  body->push_back(std::make_shared<nn::MaxPool2d>(2));
  body->push_back(std::make_shared<nn::Flatten>());
  body->push_back(std::make_shared<nn::Linear>(64 * side * side, info.feature_dim, true, gen));
  body->push_back(std::make_shared<nn::ReLU>());
  head = register_module("head", std::make_shared<nn::Sequential>());
  head->push_back(std::make_shared<nn::Linear>(info.feature_dim, info.num_classes, true, gen));
}

Tensor Scorer::features(const Tensor& x) {
  const int s = info.image_size;
  GESSO_CHECK(x.defined() && x.dim() == 4 && x.size(1) == info.channels && x.size(2) == s && x.size(3) == s,
              "Scorer: images must be (N, ", info.channels, ", ", s, ", ", s, "), got ", x.defined() ? x.shape() : Shape{});
  return body->forward(x);
}

Tensor Scorer::forward(const Tensor& x) { return head->forward(features(x)); }

void save_scorer(const std::string& path, const Scorer& scorer) {
  nn::save_safetensors(path, scorer.state_dict(), {{"gesso.scorer", scorer.info.to_json().dump()}});
}

std::shared_ptr<Scorer> load_scorer(const std::string& path) {
  std::map<std::string, std::string> meta;
  nn::read_safetensors_header(path, &meta);
  auto it = meta.find("gesso.scorer");
  GESSO_CHECK(it != meta.end(), "load_scorer: '", path, "' is not a gesso scorer file (no 'gesso.scorer' metadata); "
              "make one with `gesso gan train-scorer`");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::parse_error& e) {
    fail("load_scorer: '", path, "': metadata 'gesso.scorer' is not valid JSON (", e.what(), ")");
  }
  Generator gen(0);
  auto scorer = std::make_shared<Scorer>(ScorerInfo::from_json(j), gen);
  scorer->load_state_dict(nn::load_safetensors(path).tensors);
  scorer->eval();
  return scorer;
}

Tensor scorer_features(Scorer& scorer, const Tensor& images, int64_t batch) {
  check_dim(images, 4, "scorer_features", "images");
  GESSO_CHECK(batch >= 1, "scorer_features: argument 'batch' must be >= 1, got ", batch);
  NoGradGuard ng;
  const bool was_training = scorer.is_training();
  scorer.eval();
  std::vector<Tensor> parts;
  const int64_t n = images.size(0);
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t take = std::min(batch, n - start);
    Tensor x = conform_images(images.narrow(0, start, take).to(Device::cpu).to(DType::f32),
                              scorer.info.image_size, scorer.info.channels);
    parts.push_back(scorer.features(x));
  }
  scorer.train(was_training);
  return parts.size() == 1 ? parts[0] : concat(parts, 0);
}

double scorer_accuracy(Scorer& scorer, const data::LabelledImages& set) {
  NoGradGuard ng;
  scorer.eval();
  const int64_t n = set.images.size(0);
  double correct = 0;
  for (int64_t start = 0; start < n; start += 500) {
    const int64_t take = std::min<int64_t>(500, n - start);
    Tensor x = conform_images(set.images.narrow(0, start, take), scorer.info.image_size, scorer.info.channels);
    Tensor pred = argmax(scorer.forward(x), 1);
    correct += sum(eq(pred, set.labels.narrow(0, start, take))).item();
  }
  scorer.train();
  return correct / static_cast<double>(n);
}

std::shared_ptr<Scorer> train_scorer(const data::LabelledImages& train, const data::LabelledImages* test,
                                     const std::string& description, const ScorerTrainOptions& o) {
  GESSO_CHECK(train.num_classes >= 2, "train_scorer: the training set has ", train.num_classes,
              " class(es); the scorer learns its features by classifying, so it needs a labelled set "
              "(fashion-mnist, mnist, digits, or IDX files with labels)");
  GESSO_CHECK(o.epochs >= 1, "train_scorer: 'epochs' must be >= 1, got ", o.epochs);
  GESSO_CHECK(o.batch >= 1, "train_scorer: 'batch' must be >= 1, got ", o.batch);
  check_dim(train.images, 4, "train_scorer", "train.images");
  GESSO_CHECK(train.images.size(2) == train.images.size(3) && train.images.size(2) % 4 == 0,
              "train_scorer: images must be square with a side that is a multiple of 4, got ", train.images.shape());
  ScorerInfo info;
  info.image_size = static_cast<int>(train.images.size(2));
  info.channels = static_cast<int>(train.images.size(1));
  info.num_classes = train.num_classes;
  info.data = description;
  Generator gen(o.seed);
  auto scorer = std::make_shared<Scorer>(info, gen);
  nn::Adam adam(scorer->parameters(), nn::AdamOptions(o.lr));
  data::BatchLoader loader(train, o.batch, true, o.seed + 1, true);
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    double total = 0;
    int64_t batches = 0;
    Tensor x, y;
    while (loader.next(&x, &y)) {
      adam.zero_grad();
      Tensor loss = cross_entropy(scorer->forward(x), y);
      const double value = loss.item();
      GESSO_CHECK(std::isfinite(value), "train_scorer: the loss became ", value, " in epoch ", epoch);
      loss.backward();
      adam.step();
      total += value;
      ++batches;
    }
    if (o.progress) {
      std::fprintf(o.progress, "scorer epoch %d/%d  loss %.4f", epoch, o.epochs, total / std::max<int64_t>(batches, 1));
      if (test) std::fprintf(o.progress, "  held-out accuracy %.4f", scorer_accuracy(*scorer, *test));
      std::fprintf(o.progress, "\n");
      std::fflush(o.progress);
    }
  }
  if (test) scorer->info.test_accuracy = scorer_accuracy(*scorer, *test);
  scorer->eval();
  return scorer;
}

}  // namespace gesso::gan
