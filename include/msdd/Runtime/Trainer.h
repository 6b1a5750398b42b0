//===- Trainer.h - Driving a compiled train_step ----------------*- C++ -*-===//
//
// Trainer runs an artifact's `train_step` (docs/training.md) with parameters and optimizer
// state updated in place, and saves and restores them as checkpoints. TrainingRun adds what
// `msdd-run train` does around it: the data loader, the run folder with its JSON-lines log,
// periodic checkpoints kept last-N, and resuming bit for bit.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_RUNTIME_TRAINER_H
#define MSDD_RUNTIME_TRAINER_H

#include "msdd/Runtime/Artifact.h"
#include "msdd/Runtime/DataLoader.h"
#include "msdd/Runtime/Json.h"
#include "msdd/Runtime/Safetensors.h"
#include "msdd/Runtime/Tensor.h"

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace msdd::rt {

/// The optimizer-state prefixes of docs/training.md.
extern const char *const kStatePrefixes[4]; // "adam_m.", "adam_v.", "momentum.", "ema."

/// The `seed` input of step `step` (1-based) of a run seeded with `runSeed`: a hash of both,
/// in [0, 2^63).
int64_t stepSeed(uint64_t runSeed, int64_t step);

/// A hex FNV-1a hash of an artifact's manifest (compact JSON), stored in checkpoints.
std::string manifestHash(const Artifact &artifact);

/// What one step reported: every scalar f32 output that is not an update, by name, in
/// manifest order (loss first when present).
using StepMetrics = std::vector<std::pair<std::string, double>>;

class Trainer {
public:
  /// Reads the signature of `function`: parameters are inputs that are also outputs of the
  /// same name (their update); those whose names start with a state prefix are optimizer
  /// state, and each must be the state of a parameter. `step` (f32 scalar), `images` (f32
  /// [B, 3, H, W]) and `seed` (i64 scalar, optional) are filled per step. Any other input is
  /// frozen: read by every step, never updated (a distillation's teacher and encoder). Throws
  /// Error(artifact, ...) for a wrong `step`/`images`/`seed`, a missing `loss` output, or no
  /// parameters.
  explicit Trainer(const Artifact &artifact, std::string function = "train_step");

  const Artifact &artifact() const { return artifact_; }
  const FunctionSpec &function() const { return *function_; }
  const std::vector<TensorSpec> &parameters() const { return parameters_; }
  const std::vector<TensorSpec> &state() const { return state_; }
  const std::vector<TensorSpec> &frozen() const { return frozen_; }
  /// [B, 3, H, W] of the `images` input.
  const std::vector<int64_t> &imagesShape() const { return images_.shape; }
  bool takesSeed() const { return hasSeed_; }

  /// Sets the parameters and frozen inputs from `tensors`, which must hold every parameter and
  /// frozen input with its dtype and shape (a frozen `teacher.<p>` may come from `<p>`);
  /// tensors named like optimizer state are ignored, any other name is an error.
  /// Optimizer state starts at zero, `ema.` copies at the parameters. Step count 0.
  /// `source` names the tensors in errors.
  void initialize(const NamedTensors &tensors, const std::string &source);
  /// initialize() from the artifact's function `init` (inputs: none or `seed`, i64 scalar,
  /// given `seed`; outputs: the parameters). Throws if the artifact has no `init` or the
  /// step reads frozen inputs.
  void initializeFromArtifact(uint64_t seed);

  /// Completed steps.
  int64_t step() const { return step_; }
  /// Runs step step()+1 on `images`; the `seed` input is stepSeed(runSeed, step()+1). The
  /// updated parameters and state go to a second set of buffers (an output must not share its
  /// input's buffer, docs/training.md), which then trades places with the first: no copies.
  /// A CUDA artifact keeps them on the device (Artifact::callCarried): a step copies only
  /// the images in and the metrics out.
  StepMetrics runStep(const Tensor &images, uint64_t runSeed);

  /// Parameters, state and frozen inputs: what a checkpoint holds. (With a CUDA artifact the
  /// parameters and state live on the device between steps; this copies them back first.)
  const NamedTensors &tensors() const;
  /// Copies of the parameters only.
  NamedTensors parameterValues() const;
  /// `parameters` with the frozen inputs that are not `teacher.*`: a whole model to evaluate
  /// (a distilled decoder with the encoder it was distilled for).
  NamedTensors modelValues(const NamedTensors &parameters) const;
  /// The exponential moving average of the parameters (the `ema.<p>` state, named `<p>`),
  /// or nothing when the artifact was compiled without --ema.
  NamedTensors emaValues() const;

  /// Restores parameters and state from checkpoint tensors and sets the step count. Throws
  /// Error(source, ...) naming the first tensor that is missing, extra, or of another dtype
  /// or shape than this artifact's (a checkpoint of another model).
  void restore(NamedTensors tensors, int64_t step, const std::string &source);

private:
  const Artifact &artifact_;
  const FunctionSpec *function_;
  std::vector<TensorSpec> parameters_, state_, frozen_;
  TensorSpec images_;
  bool hasSeed_ = false;
  /// Copies the device's parameters and state into tensors_ when the device is ahead.
  void syncFromDevice() const;
  /// After initialize() or restore(): the new values go to the device at the next step.
  void resetDeviceState();

  mutable NamedTensors tensors_; // parameters, state and frozen inputs
  NamedTensors outputs_; // every output's buffer; updates trade places with tensors_
  std::vector<std::string> carried_; // parameters and state: on the device between steps
  bool deviceCurrent_ = false;       // the device holds tensors_'s carried values
  mutable bool hostCurrent_ = true;  // tensors_ holds the latest carried values
  int64_t step_ = 0;
  bool initialized_ = false;
};

/// Checkpoints: safetensors files with the parameters and optimizer state, and
/// `__metadata__` strings: format ("msdd-train-checkpoint"), version, step, seed, loader
/// (JSON {epoch, position}), rng (JSON: the counters all randomness derives from),
/// artifact_hash, data (JSON {files, hash}), elapsed_s, config (JSON).
struct CheckpointInfo {
  int64_t step = 0;
  uint64_t seed = 0;
  LoaderPosition loader;
  std::string artifactHash;
  int64_t dataFiles = 0;
  std::string dataHash;
  double elapsedSeconds = 0;
  Json config;
};

/// Writes a checkpoint atomically (temporary file, fsync, rename). For tests: with
/// MSDD_TEST_KILL_DURING_CHECKPOINT=K in the environment, the process kills itself with
/// SIGKILL halfway through writing its K-th checkpoint.
void writeCheckpoint(const std::string &path, const Trainer &trainer, const CheckpointInfo &info);

/// Reads a checkpoint's tensors and metadata. Throws Error(path, ...) if the file is not a
/// complete, well-formed checkpoint (truncated, corrupt, not a checkpoint).
std::pair<NamedTensors, CheckpointInfo> readCheckpoint(const std::string &path);

/// `dir/step-XXXXXXXX.safetensors` files by step, newest first (no validation).
std::vector<std::pair<int64_t, std::string>> listCheckpoints(const std::string &dir);

/// The name of the checkpoint of `step`: "step-%08d.safetensors".
std::string checkpointName(int64_t step);

struct TrainOptions {
  std::string artifactPath; // for the config and messages
  std::string function = "train_step";
  std::optional<std::string> dataDir; // on resume: the checkpoint's when absent
  std::string initPath;               // empty: the artifact's `init`
  std::string runDir;
  std::optional<int64_t> steps;       // total steps; on resume: the checkpoint's when absent
  std::optional<uint64_t> seed;       // default 0; on resume: must match when given
  std::optional<bool> randomCrop, flip; // default true; on resume: must match when given
  // When absent: the checkpoint's on resume, else 1000 (0: only at the end), 3 (0: keep
  // every checkpoint) and 10.
  std::optional<int64_t> checkpointEvery, keepLast, logEvery;
  bool resume = false;
  std::string resumeFrom;             // explicit checkpoint (empty: newest valid one)
  size_t prefetch = 4;
};

/// What the progress callback receives after each step.
struct StepReport {
  int64_t step = 0, totalSteps = 0, firstStep = 0; // firstStep: the first step of this process
  LoaderPosition loader;                            // after this step's batch
  StepMetrics metrics;
  double stepsPerSecond = 0;  // over this process's steps
  double elapsedSeconds = 0;  // over the whole run, resumed parts included
  double etaSeconds = 0;
  bool logged = false;        // a line went to log.jsonl
  bool checkpointed = false;  // a checkpoint was written after this step
};

/// One training run in a run folder: RUN/log.jsonl, RUN/checkpoints/, RUN/final.safetensors.
class TrainingRun {
public:
  /// `warn` receives one-line warnings (a skipped corrupt checkpoint, a changed data folder).
  TrainingRun(const Artifact &artifact, TrainOptions options,
              std::function<void(const std::string &)> warn = nullptr);
  ~TrainingRun();

  /// Sets up: checks the options, lists the data, initialises or resumes (validating the
  /// checkpoint), prepares the run folder. Throws Error on any problem, before any step.
  void prepare();
  /// Runs to the total step count; `progress` is called after every step.
  void run(const std::function<void(const StepReport &)> &progress = nullptr);

  const Trainer &trainer() const { return trainer_; }
  int64_t totalSteps() const { return totalSteps_; }
  /// The checkpoint resumed from (empty for a fresh run).
  const std::string &resumedFrom() const { return resumedFrom_; }
  int64_t startStep() const { return trainer_.step(); }
  std::string finalPath() const;
  /// RUN_DIR/final_ema.safetensors, written next to final.safetensors when the artifact
  /// keeps an EMA of the parameters.
  std::string finalEmaPath() const;

private:
  CheckpointInfo info(double elapsed) const;
  Json configJson() const;
  void resumeFrom(const std::string &path, bool explicitPath);
  void checkRunDirIsFree() const;
  void createRunDir();

  const Artifact &artifact_;
  TrainOptions options_;
  std::function<void(const std::string &)> warn_;
  Trainer trainer_;
  std::unique_ptr<DataLoader> loader_;
  std::string dataDir_;
  uint64_t seed_ = 0;
  bool randomCrop_ = true, flip_ = true;
  int64_t checkpointEvery_ = 1000, keepLast_ = 3, logEvery_ = 10;
  int64_t totalSteps_ = 0;
  double elapsedBefore_ = 0;
  LoaderPosition start_;
  std::string resumedFrom_;
  int64_t dataFilesAtCheckpoint_ = 0;
  std::string dataHashAtCheckpoint_;
  bool prepared_ = false;
};

} // namespace msdd::rt

#endif // MSDD_RUNTIME_TRAINER_H
