/*
 * trainer.h: adversarial training end to end, from a dataset to a folder of
 * checkpoints, sample grids, a JSON-lines log and a loss-curve picture.
 *
 * One training step ("step" everywhere below) is d_steps discriminator
 * updates, each on a fresh real batch, then one generator update:
 *
 *   D: z ~ N(0, I); fake = G(z); L_D = loss_D(D(real), D(fake.detach())) [+ lambda GP]; Adam(D)
 *   G: L_G = loss_G(D(fake)) with D's weights held fixed; Adam(G); EMA(G)
 *
 * (with d_steps = 1 the fake batch of the D update is reused, as in DCGAN).
 *
 * The run folder:
 *   checkpoint.safetensors  the latest checkpoint (written every checkpoint_every steps, at the end,
 *                           and on a stop request), atomically
 *   samples/step_NNNNNNN.png  a grid from 64 fixed latents every sample_every steps (EMA weights);
 *   samples.png             the latest of them
 *   log.jsonl               one JSON object per log_every steps (means over the interval) and one per score
 *   loss.png                the curves of log.jsonl
 *   config.json             the run's settings
 *
 * The checkpoint holds G and D ("model.G.*", "model.D.*"), both Adam states
 * ("optim.g.*", "optim.d.*"), the EMA ("extra.ema.*"), the fixed latents,
 * the loader's and the noise generator's Philox states, the step and the
 * config, so that on the CPU a resumed run continues bit for bit (for the same
 * OpenMP thread count: kernels are deterministic for a fixed count).
 *
 * Randomness: weights from Philox stream (seed, 0), latents and penalty
 * weights from stream 1, shuffling from 2, flips from 3, fixed latents from
 * 4, score latents from 5 (the stream seed is a mix of the run seed and the
 * stream number).
 */
#pragma once
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gan/losses.h"
#include "gan/models.h"
#include "nn/optim.h"

namespace gesso::gan {

// The seed of random stream `stream` of a run with seed `seed` (SplitMix64 of both).
uint64_t stream_seed(uint64_t seed, uint64_t stream);

struct TrainConfig {
  // ---- data
  std::string data = "fashion-mnist";
  int64_t data_limit = 0;  // > 0: only the first data_limit images
  bool flip = false;       // random horizontal flips
  // ---- model and objective
  ModelConfig model;
  std::string loss = "nonsaturating";
  int64_t batch = 64;
  int64_t steps = 0;    // generator steps in all (a resumed run continues up to it); 0: from epochs
  double epochs = 1;    // used when steps == 0: passes of the discriminator over the data
  double lr_g = 2e-4, lr_d = 2e-4, beta1 = 0.5, beta2 = 0.999;
  int d_steps = 0;       // discriminator updates per step; 0: 5 for wgan-gp, else 1
  double gp_weight = 10;
  double ema_beta = 0.999;  // 0: no EMA (samples use the live generator)
  uint64_t seed = 0;
  std::string device = "cpu";
  // ---- output
  std::string out_dir = "gan-run";
  int64_t log_every = 50, sample_every = 500, checkpoint_every = 500;
  std::string scorer;          // a scorer file: the Frechet distance is logged every score_every steps
  int64_t score_every = 0;     // 0: at every sample_every
  int64_t score_samples = 2000;
  // ---- starting points
  std::string resume;                // a checkpoint file, or a run folder holding checkpoint.safetensors
  std::string init_from;             // start from another run's weights (fresh optimizers, step 0)
  std::vector<std::string> freeze;   // prefixes "G.main.0", "D.main.0", "G" (all of G), ...
  // ---- runtime only (not saved)
  double time_limit_s = 0;                 // > 0: stop, with a checkpoint, after this many seconds
  const std::atomic<bool>* stop = nullptr; // set (e.g. by SIGINT): checkpoint and return
  std::FILE* progress = nullptr;           // progress line destination, or none
  bool progress_tty = false;               // rewrite one line with \r instead of printing a line per log
  std::function<void(int64_t step)> on_step;  // called after every step (tests)

  nlohmann::json to_json() const;
  // Settings saved in a checkpoint, over the defaults.
  static TrainConfig from_json(const nlohmann::json& j);
  int resolved_d_steps() const;
  void validate() const;
};

struct StepStats {
  int64_t step = 0;
  double loss_d = 0, loss_g = 0, d_real = 0, d_fake = 0;
};

// Thrown when a loss is NaN or infinite.
struct NonFiniteLoss : Error {
  using Error::Error;
};

// The two networks, their optimizers and one training step; no files, no data loading.
class GanModels {
 public:
  GanModels(const ModelConfig& model, LossKind loss, double lr_g, double lr_d, double beta1, double beta2,
            double gp_weight, Generator& init);
  // d_steps = reals.size() discriminator updates, then one generator update.
  // Throws NonFiniteLoss (before updating anything with it) when a loss is not finite.
  StepStats step(const std::vector<Tensor>& reals, Generator& noise);
  void to(Device d);

  ModelConfig model;
  LossKind loss;
  double gp_weight;
  std::shared_ptr<DcganGenerator> G;
  std::shared_ptr<DcganDiscriminator> D;
  std::unique_ptr<nn::Adam> opt_g, opt_d;
};

struct TrainResult {
  std::vector<StepStats> history;   // this invocation's steps
  int64_t start_step = 0, end_step = 0;
  bool interrupted = false;          // stopped by the stop flag or the time limit
  std::string checkpoint;            // the last checkpoint written
  std::vector<std::pair<int64_t, double>> scores;  // (step, Frechet distance)
  double seconds = 0, images_per_second = 0;
  std::string dataset;               // description of the data used
};

// Trains as configured. Everything is checked (data, checkpoints, settings)
// before the run folder is created, so bad input writes nothing.
TrainResult train_gan(const TrainConfig& config);

// The checkpoint file that `path` names (a file, or a run folder holding checkpoint.safetensors).
std::string checkpoint_path(const std::string& path);

// Latents (N, latent) from Philox stream `seed`, one row per seed when `per_seed` is used.
Tensor latents_for_seeds(const std::vector<uint64_t>& seeds, int latent);

// The generator of a checkpoint (EMA weights unless use_ema is false or the
// run kept none), in eval mode; *config receives the run's settings when given.
std::shared_ptr<DcganGenerator> load_generator(const std::string& checkpoint, bool use_ema = true,
                                               TrainConfig* config = nullptr);

// G(z) in eval mode and batches, without a graph, mapped from [-1, 1] to [0, 1].
Tensor generate_images(DcganGenerator& G, const Tensor& z, int64_t batch = 256);

// Spherical interpolation between latents a and b (1-d, same length) at t in [0, 1];
// linear where they are (anti)parallel.
Tensor slerp(const Tensor& a, const Tensor& b, double t);

}  // namespace gesso::gan
