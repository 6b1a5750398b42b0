//===- runtime_train_test.cpp - Trainer, checkpoints and msdd-run train ---===//
//
// Runs the hand-written train_step of runtime_fake_train_artifact.c: parameter discovery,
// separate output buffers, checkpoints, and `msdd-run train` end to end: bit-exact resume, a run
// killed while writing a checkpoint, corrupt checkpoints, mismatched artifacts, and the
// exit codes and one-line errors of bad flags and bad data.
//
//===----------------------------------------------------------------------===//
#include "msdd/Runtime/Artifact.h"
#include "msdd/Runtime/Image.h"
#include "msdd/Runtime/Json.h"
#include "msdd/Runtime/Safetensors.h"
#include "msdd/Runtime/Trainer.h"

#include "msdd_run_test_util.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstring>
#include <sys/stat.h>
#include <sys/wait.h>

using namespace msdd::rt;
using msdd::rt::test::errorOf;
using msdd::rt::test::readBytes;
using msdd::rt::test::RunResult;
using msdd::rt::test::TempDir;
using msdd::rt::test::writeBytes;

namespace {

const std::string kArtifacts = MSDD_TEST_ARTIFACT_DIR;
const std::string kFake = kArtifacts + "/fake_train.msdd";          // init, seed, "updates"
const std::string kPlain = kArtifacts + "/fake_train_plain.msdd";   // no init, seed, updates
const std::string kAffine = kArtifacts + "/fake_train_affine.msdd"; // W f32[3, 4]
const std::string kClobber = kArtifacts + "/fake_train_clobber.msdd"; // outputs as scratch

/// `count` 10x12 images with varied content under `dir`.
void writeImages(const std::string &dir, int count, int64_t height = 10, int64_t width = 12) {
  ::mkdir(dir.c_str(), 0777);
  for (int i = 0; i < count; ++i) {
    Tensor image(DType::F32, {3, height, width});
    float *p = image.data<float>();
    for (int64_t k = 0; k < image.numel(); ++k)
      p[k] = static_cast<float>(((k * 7 + i * 31) % 97) / 96.0);
    char name[32];
    std::snprintf(name, sizeof name, "/p%02d.png", i);
    writePng(dir + name, image);
  }
}

Tensor batchOf(float base) {
  Tensor images(DType::F32, {4, 3, 8, 8});
  for (int64_t k = 0; k < images.numel(); ++k)
    images.data<float>()[k] = static_cast<float>(std::fmod(base + 0.013 * k, 1.0));
  return images;
}

bool sameBits(const Tensor &a, const Tensor &b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.rawData(), b.rawData(), a.nbytes()) == 0;
}

bool sameTensors(const NamedTensors &a, const NamedTensors &b) {
  if (a.size() != b.size())
    return false;
  for (const auto &[name, tensor] : a)
    if (!b.contains(name) || !sameBits(tensor, *b.find(name)))
      return false;
  return true;
}

NamedTensors initialW(float diagonal = 0.5f) {
  Tensor w(DType::F32, {3, 3});
  for (int i = 0; i < 3; ++i)
    w.data<float>()[i * 4] = diagonal;
  NamedTensors tensors;
  tensors.insert("W", std::move(w));
  return tensors;
}

} // namespace

//===----------------------------------------------------------------------===//
// Trainer
//===----------------------------------------------------------------------===//

TEST(TrainerTest, DiscoversParametersStateAndBatchInputs) {
  auto artifact = Artifact::open(kFake);
  Trainer trainer(*artifact);
  ASSERT_EQ(trainer.parameters().size(), 1u);
  EXPECT_EQ(trainer.parameters()[0].name, "W");
  ASSERT_EQ(trainer.state().size(), 1u);
  EXPECT_EQ(trainer.state()[0].name, "momentum.W");
  EXPECT_TRUE(trainer.takesSeed());
  EXPECT_EQ(trainer.imagesShape(), (std::vector<int64_t>{4, 3, 8, 8}));
  EXPECT_EQ(artifact->function("train_step").outputs[0].updates, "W");
  EXPECT_FALSE(Trainer(*Artifact::open(kPlain)).takesSeed());

  auto other = Artifact::open(kArtifacts + "/fake.msdd");
  EXPECT_EQ(errorOf([&] { Trainer t(*other, "add"); }),
            kArtifacts + "/fake.msdd: function 'add': has no 'images' input (f32[B, 3, H, W]) "
                         "for the data loader to fill");
  EXPECT_EQ(errorOf([&] { Trainer t(*artifact, "nope"); }),
            kFake + ": no function 'nope' (available: train_step, init)");
}

TEST(TrainerTest, InitialisesFromTensorsOrTheInitFunction) {
  auto artifact = Artifact::open(kFake);
  Trainer trainer(*artifact);
  NamedTensors given = initialW();
  given.insert("momentum.W", Tensor(DType::F32, {3, 3})); // state in the file is ignored
  given.find("momentum.W")->data<float>()[0] = 5;
  trainer.initialize(given, "w.safetensors");
  EXPECT_EQ(trainer.step(), 0);
  EXPECT_EQ(trainer.tensors().find("W")->data<float>()[0], 0.5f);
  EXPECT_EQ(trainer.tensors().find("momentum.W")->data<float>()[0], 0.0f);

  NamedTensors extra = initialW();
  extra.insert("V", Tensor(DType::F32, {2}));
  EXPECT_EQ(errorOf([&] { trainer.initialize(extra, "w.safetensors"); }),
            "w.safetensors: tensor 'V' is not a parameter of " + kFake + " (its parameters: W)");
  EXPECT_EQ(errorOf([&] { trainer.initialize(NamedTensors(), "w.safetensors"); }),
            "w.safetensors: has no parameter 'W' (f32[3, 3])");
  NamedTensors wrong;
  wrong.insert("W", Tensor(DType::F32, {3, 4}));
  EXPECT_EQ(errorOf([&] { trainer.initialize(wrong, "w.safetensors"); }),
            "w.safetensors: parameter 'W' is f32[3, 4], " + kFake + " expects f32[3, 3]");

  trainer.initializeFromArtifact(3);
  Trainer again(*artifact);
  again.initializeFromArtifact(3);
  EXPECT_TRUE(sameTensors(trainer.tensors(), again.tensors()));
  again.initializeFromArtifact(4);
  EXPECT_FALSE(sameTensors(trainer.tensors(), again.tensors()));

  auto plain = Artifact::open(kPlain);
  EXPECT_EQ(errorOf([&] { Trainer(*plain).initializeFromArtifact(0); }),
            kPlain + ": has no 'init' function to initialise the parameters; give initial "
                     "weights with --init W.safetensors");
}

TEST(TrainerTest, StepsAreDeterministicAndNeverShareBuffers) {
  auto fake = Artifact::open(kFake);
  auto clobber = Artifact::open(kClobber);
  auto train = [&](const Artifact &artifact, uint64_t seed) {
    Trainer trainer(artifact);
    trainer.initialize(initialW(), "init");
    for (int i = 0; i < 6; ++i) {
      StepMetrics metrics = trainer.runStep(batchOf(0.1f * i), seed);
      EXPECT_EQ(metrics.size(), 3u);
      EXPECT_EQ(metrics[0].first, "loss");
      EXPECT_EQ(metrics[1].first, "grad_norm");
      EXPECT_EQ(metrics[2].first, "lr");
      EXPECT_FLOAT_EQ(metrics[2].second, 0.5f / (1.0f + 0.01f * (i + 1)));
    }
    EXPECT_EQ(trainer.step(), 6);
    NamedTensors copy;
    for (const auto &[name, tensor] : trainer.tensors())
      copy.insert(name, tensor.clone());
    return copy;
  };
  NamedTensors first = train(*fake, 1);
  EXPECT_TRUE(sameTensors(first, train(*fake, 1)));
  EXPECT_FALSE(sameTensors(first, initialW()));
  EXPECT_FALSE(sameTensors(first, train(*fake, 2))) << "the per-step seeds depend on the run seed";
  // A step that uses its output buffers as scratch before reading its inputs (allowed):
  // right only if no output shares its input's buffer.
  EXPECT_TRUE(sameTensors(first, train(*clobber, 1)));
}

TEST(TrainerTest, StepSeedsAreAFunctionOfRunSeedAndStep) {
  EXPECT_EQ(stepSeed(1, 5), stepSeed(1, 5));
  EXPECT_NE(stepSeed(1, 5), stepSeed(1, 6));
  EXPECT_NE(stepSeed(1, 5), stepSeed(2, 5));
  EXPECT_GE(stepSeed(12345, 99), 0);
}

TEST(TrainerTest, CheckpointsRoundTrip) {
  TempDir dir;
  auto artifact = Artifact::open(kFake);
  Trainer trainer(*artifact);
  trainer.initializeFromArtifact(0);
  for (int i = 0; i < 3; ++i)
    trainer.runStep(batchOf(0.2f * i), 9);
  CheckpointInfo info;
  info.step = trainer.step();
  info.seed = 9;
  info.loader = {2, 4};
  info.artifactHash = manifestHash(*artifact);
  info.dataFiles = 10;
  info.dataHash = "00ff";
  info.elapsedSeconds = 1.5;
  info.config = Json::object();
  info.config["steps"] = 10;
  std::string path = dir.file(checkpointName(3));
  EXPECT_EQ(checkpointName(3), "step-00000003.safetensors");
  writeCheckpoint(path, trainer, info);
  EXPECT_EQ(dir.list(), std::vector<std::string>{"step-00000003.safetensors"});

  auto [tensors, read] = readCheckpoint(path);
  EXPECT_EQ(read.step, 3);
  EXPECT_EQ(read.seed, 9u);
  EXPECT_EQ(read.loader, (LoaderPosition{2, 4}));
  EXPECT_EQ(read.artifactHash, info.artifactHash);
  EXPECT_EQ(read.dataFiles, 10);
  EXPECT_EQ(read.dataHash, "00ff");
  EXPECT_EQ(read.elapsedSeconds, 1.5);
  EXPECT_EQ(read.config.dump(), "{\"steps\":10}");
  EXPECT_TRUE(sameTensors(tensors, trainer.tensors()));
  Metadata metadata;
  readSafetensors(path, &metadata);
  EXPECT_EQ(metadata["format"], "msdd-train-checkpoint");
  EXPECT_EQ(metadata["rng"], "{\"generator\":\"counter-splitmix64\",\"seed\":\"9\",\"next_step\":4,"
                             "\"loader_epoch\":2,\"loader_position\":4}");

  Trainer restored(*artifact);
  restored.restore(std::move(tensors), read.step, path);
  EXPECT_EQ(restored.step(), 3);
  EXPECT_TRUE(sameTensors(restored.tensors(), trainer.tensors()));
  restored.runStep(batchOf(0.5f), 9);
  trainer.runStep(batchOf(0.5f), 9);
  EXPECT_TRUE(sameTensors(restored.tensors(), trainer.tensors()));

  std::string bytes = readBytes(path);
  writeBytes(dir.file(checkpointName(12)), bytes.substr(0, bytes.size() - 7));
  std::string truncated = errorOf([&] { readCheckpoint(dir.file(checkpointName(12))); });
  EXPECT_EQ(truncated.rfind(dir.file(checkpointName(12)) + ": ", 0), 0u) << truncated;
  NamedTensors plain = initialW();
  writeSafetensors(dir.file("plain.safetensors"), plain);
  EXPECT_EQ(errorOf([&] { readCheckpoint(dir.file("plain.safetensors")); }),
            dir.file("plain.safetensors") + ": not a complete msdd-run train checkpoint (no "
                                            "'format' in __metadata__)");
  writeBytes(dir.file("step-x.safetensors"), "");
  auto list = listCheckpoints(dir.path());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].first, 12);
  EXPECT_EQ(list[1].first, 3);

  auto affine = Artifact::open(kAffine);
  auto [again, unused] = readCheckpoint(path);
  EXPECT_EQ(errorOf([&] { Trainer(*affine).restore(std::move(again), 3, path); }),
            path + ": tensor 'W' is f32[3, 3], " + kAffine +
                " expects f32[3, 4] (a checkpoint of another model?)");
}

//===----------------------------------------------------------------------===//
// msdd-run train
//===----------------------------------------------------------------------===//

namespace {

class MsddRunTrainTest : public msdd::rt::test::MsddRunFixture {
protected:
  void SetUp() override { writeImages(dir.file("data"), 10); }

  /// Runs `[env] msdd-run train <args>` in the temp directory.
  RunResult train(const std::string &args, const std::string &env = "") {
    return run("train " + args, env);
  }

  /// A run that must succeed.
  RunResult ok(const std::string &args, const std::string &env = "") {
    RunResult result = train(args, env);
    EXPECT_EQ(result.status, 0) << args << "\n" << result.err;
    return result;
  }

  /// Expects exit `status` with one error line (plus a hint for usage errors) starting
  /// with "msdd-run: error: " + `message`, and no new files.
  void expectFailure(const std::string &args, int status, const std::string &message) {
    MsddRunFixture::expectFailure("train " + args, status, message);
  }

  static std::vector<std::string> listDir(const std::string &path) {
    std::vector<std::string> names;
    if (DIR *d = opendir(path.c_str())) {
      while (dirent *e = readdir(d))
        if (e->d_name[0] != '.')
          names.push_back(e->d_name);
      closedir(d);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  NamedTensors final(const std::string &run) { return readSafetensors(dir.file(run + "/final.safetensors")); }

  std::vector<std::string> checkpoints(const std::string &run) {
    std::vector<std::string> names;
    for (const auto &[step, path] : listCheckpoints(dir.file(run + "/checkpoints")))
      names.insert(names.begin(), path.substr(path.rfind('/') + 1));
    return names;
  }

  std::vector<Json> log(const std::string &run) {
    std::vector<Json> lines;
    std::string text = readBytes(dir.file(run + "/log.jsonl"));
    size_t at = 0;
    while (at < text.size()) {
      size_t end = text.find('\n', at);
      lines.push_back(Json::parse(text.substr(at, end - at)));
      at = end + 1;
    }
    return lines;
  }
};

const std::string kCommon = " --data data --log-every 1 --seed 5 ";

} // namespace

TEST_F(MsddRunTrainTest, WritesLogCheckpointsAndFinalWeights) {
  RunResult result = ok(kFake + kCommon + "--steps 5 --checkpoint-every 2 --out run");
  EXPECT_EQ(result.out, "msdd-run: trained steps 1..5 of 5, final loss " +
                            [&] {
                              char buffer[32];
                              std::snprintf(buffer, sizeof buffer, "%.6g",
                                            log("run").back().find("loss")->asNumber());
                              return std::string(buffer);
                            }() +
                            "; wrote run/final.safetensors\n");
  // Not a terminal: one progress line per logged step.
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 5) << result.err;
  EXPECT_EQ(result.err.rfind("step 1/5  loss ", 0), 0u) << result.err;
  EXPECT_NE(result.err.find(" steps/s  elapsed "), std::string::npos);
  EXPECT_NE(result.err.find("ETA"), std::string::npos);

  std::vector<Json> lines = log("run");
  ASSERT_EQ(lines.size(), 5u);
  std::vector<std::string> keys;
  for (const auto &[key, value] : lines[0].asObject())
    keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"step", "loss", "grad_norm", "lr", "epoch",
                                            "steps_per_s", "elapsed_s"}));
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(lines[i].find("step")->asInt(), i + 1);
  EXPECT_EQ(lines[4].find("epoch")->asInt(), 2); // 2 batches of 4 per epoch of 10 images

  EXPECT_EQ(checkpoints("run"), (std::vector<std::string>{"step-00000002.safetensors",
                                                          "step-00000004.safetensors",
                                                          "step-00000005.safetensors"}));
  NamedTensors weights = final("run");
  ASSERT_EQ(weights.size(), 1u);
  EXPECT_TRUE(weights.contains("W"));
  auto [tensors, info] = readCheckpoint(dir.file("run/checkpoints/step-00000005.safetensors"));
  EXPECT_TRUE(sameBits(*tensors.find("W"), *weights.find("W")));
  EXPECT_EQ(info.step, 5);
  EXPECT_EQ(info.seed, 5u);
  EXPECT_EQ(info.loader, (LoaderPosition{2, 4}));
  EXPECT_EQ(info.dataFiles, 10);
  EXPECT_EQ(info.config.find("data")->asString(), "data");
  EXPECT_EQ(info.config.find("init")->asString(), "artifact:init");
  EXPECT_EQ(info.config.find("batch_size")->asInt(), 4);
  Metadata metadata;
  readSafetensors(dir.file("run/final.safetensors"), &metadata);
  EXPECT_EQ(metadata["format"], "msdd-train-final");
  EXPECT_EQ(metadata["step"], "5");

  // Same command, same bits.
  ok(kFake + kCommon + "--steps 5 --checkpoint-every 2 --out again");
  EXPECT_EQ(readBytes(dir.file("run/final.safetensors")), readBytes(dir.file("again/final.safetensors")));
}

TEST_F(MsddRunTrainTest, ResumeIsBitExact) {
  ok(kFake + kCommon + "--steps 8 --checkpoint-every 3 --out whole");
  ok(kFake + kCommon + "--steps 4 --checkpoint-every 3 --out parts");
  RunResult resumed = ok(kFake + " --resume --steps 8 --checkpoint-every 3 --log-every 1 --out parts");
  EXPECT_EQ(resumed.err.rfind("msdd-run: resuming from parts/checkpoints/step-00000004.safetensors "
                              "(step 4)\n", 0), 0u) << resumed.err;
  EXPECT_EQ(resumed.out.rfind("msdd-run: trained steps 5..8 of 8", 0), 0u) << resumed.out;
  EXPECT_EQ(readBytes(dir.file("whole/final.safetensors")), readBytes(dir.file("parts/final.safetensors")));
  auto [whole, wholeInfo] = readCheckpoint(dir.file("whole/checkpoints/step-00000008.safetensors"));
  auto [parts, partsInfo] = readCheckpoint(dir.file("parts/checkpoints/step-00000008.safetensors"));
  EXPECT_TRUE(sameTensors(whole, parts)) << "parameters and optimizer state";
  EXPECT_EQ(wholeInfo.loader, partsInfo.loader);
  std::vector<Json> lines = log("parts");
  ASSERT_EQ(lines.size(), 8u);
  std::vector<Json> reference = log("whole");
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(lines[i].find("step")->asInt(), int64_t(i + 1));
    EXPECT_EQ(lines[i].find("loss")->asNumber(), reference[i].find("loss")->asNumber()) << i;
  }

  // Resuming a finished run rewrites the final weights and trains nothing.
  RunResult done = ok(kFake + " --resume --out parts");
  EXPECT_EQ(done.out, "msdd-run: already at step 8 of 8; wrote parts/final.safetensors\n");
  // Settings that would change the run are refused.
  RunResult seed = train(kFake + " --resume --seed 6 --steps 9 --out parts");
  EXPECT_EQ(seed.status, 1);
  EXPECT_EQ(seed.err, "msdd-run: error: parts/checkpoints/step-00000008.safetensors: was written by "
                      "a run with --seed 5, not 6 (a resumed run keeps its seed)\n");
  RunResult flip = train(kFake + " --resume --no-flip --steps 9 --out parts");
  EXPECT_EQ(flip.err, "msdd-run: error: parts/checkpoints/step-00000008.safetensors: was written by "
                      "a run without --no-flip (a resumed run keeps its augmentation)\n");
}

TEST_F(MsddRunTrainTest, KilledDuringACheckpointResumesFromThePreviousOne) {
  ok(kFake + kCommon + "--steps 6 --checkpoint-every 2 --out whole");
  // Dies halfway through writing its 2nd checkpoint (step 4).
  RunResult killed = train(kFake + kCommon + "--steps 6 --checkpoint-every 2 --out run",
                           "MSDD_TEST_KILL_DURING_CHECKPOINT=2");
  EXPECT_EQ(killed.status, 128 + SIGKILL) << killed.err;
  EXPECT_EQ(checkpoints("run"), std::vector<std::string>{"step-00000002.safetensors"});
  bool halfWritten = false;
  for (const std::string &name : listDir(dir.file("run/checkpoints")))
    halfWritten |= name.rfind("step-00000004.safetensors.tmp.", 0) == 0;
  EXPECT_TRUE(halfWritten) << "the killed writer left its temporary";

  RunResult resumed = ok(kFake + " --resume --out run");
  EXPECT_EQ(resumed.err.rfind("msdd-run: resuming from run/checkpoints/step-00000002.safetensors "
                              "(step 2)\n", 0), 0u) << resumed.err;
  EXPECT_EQ(readBytes(dir.file("whole/final.safetensors")), readBytes(dir.file("run/final.safetensors")));
  EXPECT_EQ(checkpoints("run"), (std::vector<std::string>{"step-00000002.safetensors",
                                                          "step-00000004.safetensors",
                                                          "step-00000006.safetensors"}));
  std::vector<Json> lines = log("run");
  ASSERT_EQ(lines.size(), 6u) << "the steps logged after the last checkpoint are not repeated";
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(lines[i].find("step")->asInt(), i + 1);
}

TEST_F(MsddRunTrainTest, CorruptCheckpointsAreSkippedOrRefused) {
  ok(kFake + kCommon + "--steps 8 --checkpoint-every 2 --keep-last 0 --out whole");
  ok(kFake + kCommon + "--steps 6 --checkpoint-every 2 --out run");
  std::string newest = dir.file("run/checkpoints/step-00000006.safetensors");
  std::string bytes = readBytes(newest);
  writeBytes(newest, bytes.substr(0, bytes.size() / 2));

  // Explicitly named: an error, nothing changes.
  RunResult refused = train(kFake + " --resume run/checkpoints/step-00000006.safetensors --steps 8 --out run");
  EXPECT_EQ(refused.status, 1);
  EXPECT_EQ(refused.err.rfind("msdd-run: error: run/checkpoints/step-00000006.safetensors: ", 0), 0u)
      << refused.err;
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1);

  // Found by --resume: skipped with a warning, the previous one is used.
  RunResult resumed = ok(kFake + " --resume --steps 8 --out run");
  std::string first = resumed.err.substr(0, resumed.err.find('\n'));
  EXPECT_EQ(first.rfind("msdd-run: warning: run/checkpoints/step-00000006.safetensors: ", 0), 0u) << first;
  EXPECT_NE(first.find("; skipping it"), std::string::npos) << first;
  EXPECT_NE(resumed.err.find("msdd-run: resuming from run/checkpoints/step-00000004.safetensors (step 4)"),
            std::string::npos) << resumed.err;
  EXPECT_EQ(readBytes(dir.file("whole/final.safetensors")), readBytes(dir.file("run/final.safetensors")));
  EXPECT_NO_THROW(readCheckpoint(newest)) << "rewritten when the run got there again";

  // Explicit path to a good checkpoint of another run folder.
  ok(kFake + " --resume=whole/checkpoints/step-00000004.safetensors --out branch");
  EXPECT_EQ(readBytes(dir.file("whole/final.safetensors")), readBytes(dir.file("branch/final.safetensors")));
}

TEST_F(MsddRunTrainTest, KeepsTheLastNCheckpoints) {
  ok(kFake + kCommon + "--steps 5 --checkpoint-every 1 --keep-last 2 --out run");
  EXPECT_EQ(checkpoints("run"), (std::vector<std::string>{"step-00000004.safetensors",
                                                          "step-00000005.safetensors"}));
  ok(kFake + kCommon + "--steps 3 --checkpoint-every 0 --out end");
  EXPECT_EQ(checkpoints("end"), std::vector<std::string>{"step-00000003.safetensors"});
}

TEST_F(MsddRunTrainTest, InitialWeightsFromAFile) {
  writeSafetensors(dir.file("w.safetensors"), initialW(0.25f));
  ok(kPlain + kCommon + "--steps 2 --init w.safetensors --out run");
  ok(kPlain + kCommon + "--steps 2 --init w.safetensors --out same");
  EXPECT_EQ(readBytes(dir.file("run/final.safetensors")), readBytes(dir.file("same/final.safetensors")));
  EXPECT_FALSE(sameBits(*final("run").find("W"), *initialW(0.25f).find("W")));
  // The file's weights, not the artifact's init, and outputs that never share their inputs'
  // buffers (the clobbering artifact computes the same step).
  ok(kFake + kCommon + "--steps 2 --init w.safetensors --out fake");
  ok(kClobber + kCommon + "--steps 2 --init w.safetensors --out clobber");
  EXPECT_TRUE(sameTensors(final("fake"), final("clobber")));
  ok(kFake + kCommon + "--steps 2 --out own");
  EXPECT_FALSE(sameTensors(final("fake"), final("own")));
  auto [tensors, info] = readCheckpoint(dir.file("fake/checkpoints/step-00000002.safetensors"));
  EXPECT_EQ(info.config.find("init")->asString(), "w.safetensors");
}

TEST_F(MsddRunTrainTest, TrainsOnTheBundledPhotos) {
  std::string photos = std::string(MSDD_SOURCE_DIR) + "/data/photos64/train";
  ok(kFake + " --data '" + photos + "' --steps 3 --out run");
  auto [tensors, info] = readCheckpoint(dir.file("run/checkpoints/step-00000003.safetensors"));
  EXPECT_EQ(info.dataFiles, 256);
  EXPECT_EQ(info.loader, (LoaderPosition{0, 12}));
}

TEST_F(MsddRunTrainTest, UsageErrorsExitWith2) {
  expectFailure("", 2, "train: missing the artifact (ART.msdd)");
  expectFailure(kFake + " --steps 3", 2, "train: missing --data");
  expectFailure(kFake + " --data data", 2, "train: missing --steps");
  expectFailure(kFake + " --data data --steps 0", 2, "option '--steps' needs an integer >= 1, got '0'");
  expectFailure(kFake + " --data data --steps 3x", 2, "option '--steps' needs an integer >= 1, got '3x'");
  expectFailure(kFake + " --data data --steps 3 --seed -1", 2,
                "option '--seed' needs an integer >= 0, got '-1'");
  expectFailure(kFake + " --data data --steps 3 --log-every 0", 2,
                "option '--log-every' needs an integer >= 1, got '0'");
  expectFailure(kFake + " --data data --steps 3 --resume --init w.safetensors", 2,
                "train: --init and --resume exclude each other");
  expectFailure(kFake + " --data data --steps 3 --resume=", 2,
                "option '--resume' needs a non-empty value after '='");
  expectFailure(kFake + " --data data --steps 3 --frobnicate", 2, "unknown option '--frobnicate'");
  expectFailure(kFake + " other.msdd --data data --steps 3", 2, "train: unexpected argument 'other.msdd'");
}

TEST_F(MsddRunTrainTest, RuntimeErrorsExitWith1AndLeaveNothing) {
  ::mkdir(dir.file("empty").c_str(), 0777);
  writeImages(dir.file("three"), 3);
  writeImages(dir.file("small"), 4, 6, 6);
  writeSafetensors(dir.file("wide.safetensors"), [] {
    NamedTensors t;
    t.insert("W", Tensor(DType::F32, {3, 4}));
    return t;
  }());
  const std::string args = " --steps 2 --out run";
  expectFailure("missing.msdd --data data" + args, 1, "missing.msdd: cannot open: No such file or directory");
  expectFailure(kFake + " --data missing" + args, 1,
                "missing: cannot open the data folder: No such file or directory");
  expectFailure(kFake + " --data empty" + args, 1,
                "empty: no images in the data folder (looked for *.png, *.jpg, *.jpeg)");
  expectFailure(kFake + " --data three" + args, 1, "three: 3 images, fewer than one batch of 4");
  expectFailure(kPlain + " --data data" + args, 1,
                kPlain + ": has no 'init' function to initialise the parameters; give initial "
                         "weights with --init W.safetensors");
  expectFailure(kFake + " --data data --init wide.safetensors" + args, 1,
                "wide.safetensors: parameter 'W' is f32[3, 4], " + kFake + " expects f32[3, 3]");
  expectFailure(kFake + " --data data --init missing.safetensors" + args, 1,
                "missing.safetensors: cannot open: No such file or directory");
  expectFailure(kFake + " --data data --batch-size 8" + args, 1,
                kFake + ": --batch-size 8 does not match the images input f32[4, 3, 8, 8] (the batch "
                        "size is fixed when the artifact is compiled)");
  expectFailure(kFake + " --resume" + args, 1,
                "run/checkpoints: no checkpoint to resume from (no step-*.safetensors files)");
  expectFailure(kFake + " --resume run/step-00000001.safetensors" + args, 1,
                "run/step-00000001.safetensors: cannot open: No such file or directory");

  // Images too small for the model fail at the first batch; the run folder exists by then.
  RunResult small = train(kFake + " --data small" + args);
  EXPECT_EQ(small.status, 1);
  EXPECT_NE(small.err.find(": image is 6x6 pixels, smaller than the 8x8 the model takes"),
            std::string::npos) << small.err;

  // A finished run is not overwritten; another artifact's checkpoint is refused.
  ok(kFake + " --data data --steps 2 --out done");
  expectFailure(kFake + " --data data --steps 2 --out done", 1,
                "done: already holds a training run (log.jsonl or checkpoints); continue it with "
                "--resume or choose another --out");
  RunResult mismatch = train(kAffine + " --resume --steps 4 --out done");
  EXPECT_EQ(mismatch.status, 1);
  EXPECT_EQ(mismatch.err, "msdd-run: error: done/checkpoints/step-00000002.safetensors: tensor 'W' is "
                          "f32[3, 3], " + kAffine + " expects f32[3, 4] (a checkpoint of another model?)\n");
}
