//===- runtime_eval_test.cpp - msdd-run eval and reconstruct --------------===//
//
// With the hand-written tokenizer and feature network of runtime_fake_tokenizer.c, whose
// reconstructions (images * scale, or images * scale + bias) make every metric known: PSNR
// is recomputed here from the decoded files, SSIM and the Frechet distance through the
// Metrics functions (checked against numpy in runtime_metrics_test.cpp) on what the fake
// artifacts are known to compute.
//
//===----------------------------------------------------------------------===//
#include "msdd/Runtime/DataLoader.h"
#include "msdd/Runtime/Image.h"
#include "msdd/Runtime/Json.h"
#include "msdd/Runtime/Metrics.h"
#include "msdd/Runtime/Safetensors.h"

#include "msdd_run_test_util.h"

#include <cmath>
#include <functional>
#include <random>
#include <sys/stat.h>

using namespace msdd::rt;
using msdd::rt::test::readBytes;
using msdd::rt::test::RunResult;
using msdd::rt::test::writeBytes;

namespace {

const std::string kArtifacts = MSDD_TEST_ARTIFACT_DIR;
const std::string kTokenizer = kArtifacts + "/fake_tokenizer.msdd";
const std::string kFeatures = kArtifacts + "/fake_features.msdd";
constexpr int64_t kSize = 16; // the fake tokenizer's images: [2, 3, 16, 16]

using Transform = std::function<float(float)>;

class EvalTest : public msdd::rt::test::MsddRunFixture {
protected:
  void SetUp() override { ::mkdir(dir.file("data").c_str(), 0755); }

  /// data/img<i>.png, random 8-bit colours; image `larger` (if any) is 20x18 (centre-cropped).
  void writeImages(int count, int larger = -1) {
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    for (int i = 0; i < count; ++i) {
      int64_t h = i == larger ? 18 : kSize, w = i == larger ? 20 : kSize;
      Tensor image(DType::F32, {3, h, w});
      for (int64_t k = 0; k < image.numel(); ++k)
        image.data<float>()[k] = uniform(rng);
      writePng(dir.file("data/img" + std::to_string(i) + ".png"), image);
    }
  }

  void writeWeights(const std::string &name, float scale, float bias) {
    NamedTensors weights;
    Tensor s(DType::F32, {}), b(DType::F32, {});
    s.data<float>()[0] = scale;
    b.data<float>()[0] = bias;
    weights.insert("scale", std::move(s));
    weights.insert("bias", std::move(b));
    writeSafetensors(dir.file(name), weights);
  }

  /// The data images as the tool sees them: decoded and centre-cropped to 16x16, first `limit`.
  std::vector<std::vector<float>> originals(int64_t limit = 0) {
    std::vector<std::vector<float>> images;
    for (const std::string &path : listImageFiles(dir.file("data"))) {
      if (limit && static_cast<int64_t>(images.size()) == limit)
        break;
      Tensor image = readImage(path);
      std::vector<float> crop(3 * kSize * kSize);
      copyImageWindow(image, (image.shape()[1] - kSize) / 2, (image.shape()[2] - kSize) / 2,
                      kSize, kSize, false, crop.data());
      images.push_back(std::move(crop));
    }
    return images;
  }

  /// Mean PSNR of the originals against f(original), recomputed from the definition.
  double expectedPsnr(const Transform &f, int64_t limit = 0) {
    double total = 0;
    std::vector<std::vector<float>> images = originals(limit);
    for (const std::vector<float> &x : images) {
      double squared = 0;
      for (float v : x) {
        double d = std::min(1.0, std::max(0.0, double(f(v)))) - v;
        squared += d * d;
      }
      total += 10 * std::log10(double(x.size()) / squared);
    }
    return total / double(images.size());
  }

  double expectedSsim(const Transform &f) {
    double total = 0;
    std::vector<std::vector<float>> images = originals();
    for (const std::vector<float> &x : images) {
      std::vector<float> y(x.size());
      for (size_t k = 0; k < x.size(); ++k)
        y[k] = f(x[k]);
      total += ssim(x.data(), y.data(), 3, kSize, kSize);
    }
    return total / double(images.size());
  }

  /// What fake_features computes: per channel the mean and mean of squares (as f32).
  FeatureStatistics expectedFeatures(const Transform &f) {
    std::vector<double> features;
    std::vector<std::vector<float>> images = originals();
    for (const std::vector<float> &x : images) {
      double sums[6] = {0};
      for (int c = 0; c < 3; ++c)
        for (int64_t k = 0; k < kSize * kSize; ++k) {
          double v = std::min(1.0f, std::max(0.0f, f(x[c * kSize * kSize + k])));
          sums[c] += v;
          sums[3 + c] += v * v;
        }
      for (double s : sums)
        features.push_back(double(float(s / (kSize * kSize))));
    }
    return featureStatistics(features.data(), int64_t(images.size()), 6);
  }

  /// Runs successfully and returns the JSON line that ends stdout.
  Json runJson(const std::string &args, RunResult *result = nullptr) {
    RunResult r = run(args);
    EXPECT_EQ(r.status, 0) << args << "\n" << r.err;
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n')
      out.pop_back();
    if (result)
      *result = r;
    return Json::parse(out.substr(out.rfind('\n') + 1), "stdout");
  }
};

double number(const Json &json, const char *key) { return json.find(key)->asNumber(); }

} // namespace

TEST_F(EvalTest, ReconstructFunctionMetrics) {
  writeImages(5, /*larger=*/3);
  writeWeights("w.safetensors", 0.5f, 0.0f);
  RunResult result;
  Json summary = runJson("eval " + kTokenizer + " --weights w.safetensors --data data "
                         "--json out.json --seed 7",
                         &result);
  auto half = [](float v) { return v * 0.5f; };
  EXPECT_EQ(summary.find("functions")->asString(), "reconstruct");
  EXPECT_EQ(summary.find("images")->asInt(), 5);
  EXPECT_EQ(summary.find("batch_size")->asInt(), 2);
  EXPECT_EQ(summary.find("batches")->asInt(), 3);
  EXPECT_EQ(summary.find("seed")->asInt(), 7);
  EXPECT_EQ(summary.find("image_shape")->dump(), "[3,16,16]");
  EXPECT_NEAR(number(summary, "psnr"), expectedPsnr(half), 1e-9);
  EXPECT_NEAR(number(summary, "ssim"), expectedSsim(half), 1e-12);
  EXPECT_LT(number(summary, "ssim"), 0.99);
  // reconstruct has no "nfe": the artifact's decode function's.
  EXPECT_EQ(summary.find("nfe")->asInt(), 3);
  const Json &throughput = *summary.find("throughput");
  EXPECT_EQ(throughput.find("warmup_batches")->asInt(), 1);
  EXPECT_EQ(throughput.find("timed_batches")->asInt(), 2);
  EXPECT_GT(number(throughput, "median_images_per_second"), 0);
  EXPECT_GT(number(throughput, "total_images_per_second"), 0);
  EXPECT_EQ(summary.find("fd"), nullptr);
  // The file holds the same line; the table names the metrics.
  EXPECT_EQ(readBytes(dir.file("out.json")), summary.dump() + "\n");
  EXPECT_NE(result.out.find("PSNR (dB)"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("NFE / image"), std::string::npos);
  EXPECT_EQ(result.err, "");
}

TEST_F(EvalTest, EncodeDecodeLimitAndWarmup) {
  writeImages(5);
  writeWeights("w.safetensors", 1.0f, 0.25f);
  Json summary = runJson("eval " + kTokenizer + " --weights w.safetensors --data data "
                         "--encode encode --decode decode --limit 3 --warmup 0");
  auto shifted = [](float v) { return v + 0.25f; };
  EXPECT_EQ(summary.find("functions")->asString(), "encode + decode ('encode', 'decode')");
  EXPECT_EQ(summary.find("images")->asInt(), 3);
  EXPECT_EQ(summary.find("batches")->asInt(), 2);
  EXPECT_NEAR(number(summary, "psnr"), expectedPsnr(shifted, 3), 1e-9);
  EXPECT_EQ(summary.find("nfe")->asInt(), 3);
  EXPECT_EQ(summary.find("throughput")->find("timed_batches")->asInt(), 2);
}

TEST_F(EvalTest, ExactReconstructionAndAllWarmup) {
  writeImages(2);
  writeWeights("w.safetensors", 1.0f, 0.0f);
  RunResult result;
  Json summary = runJson("eval " + kTokenizer + " --weights w.safetensors --data data", &result);
  EXPECT_TRUE(summary.find("psnr")->isNull()) << "+inf is written as null";
  EXPECT_NEAR(number(summary, "ssim"), 1.0, 1e-12);
  EXPECT_TRUE(summary.find("throughput")->find("median_images_per_second")->isNull());
  EXPECT_NE(result.out.find("inf"), std::string::npos) << result.out;
  EXPECT_NE(result.err.find("warning: all 1 batches were warm-up"), std::string::npos) << result.err;
}

TEST_F(EvalTest, FrechetDistanceOfFeatures) {
  // 7 images: tokenizer batches of 2 and feature batches of 4, both with a padded last one.
  writeImages(7);
  writeWeights("half.safetensors", 0.5f, 0.0f);
  writeWeights("same.safetensors", 1.0f, 0.0f);
  RunResult result;
  Json summary = runJson("eval " + kTokenizer + " --weights half.safetensors --data data "
                         "--features " + kFeatures + " --feature-name toy",
                         &result);
  const Json *fd = summary.find("fd");
  ASSERT_NE(fd, nullptr);
  EXPECT_EQ(fd->find("label")->asString(), "FD(toy)");
  EXPECT_EQ(fd->find("feature_dim")->asInt(), 6);
  double wanted = frechetDistance(expectedFeatures([](float v) { return v; }),
                                  expectedFeatures([](float v) { return v * 0.5f; }));
  EXPECT_GT(wanted, 0.01);
  EXPECT_NEAR(number(*fd, "value"), wanted, 1e-9 * wanted);
  EXPECT_NE(result.out.find("FD(toy)"), std::string::npos);
  EXPECT_EQ(result.out.find("rFID"), std::string::npos);
  EXPECT_EQ(result.err, "");

  Json same = runJson("eval " + kTokenizer + " --weights same.safetensors --data data "
                      "--features " + kFeatures);
  EXPECT_EQ(same.find("fd")->find("label")->asString(), "FD(fake_features)");
  EXPECT_NEAR(number(*same.find("fd"), "value"), 0.0, 1e-12);
}

TEST_F(EvalTest, Errors) {
  writeImages(3);
  writeWeights("w.safetensors", 0.5f, 0.0f);
  NamedTensors partial;
  partial.insert("bias", Tensor(DType::F32, {}));
  partial.insert("scale", Tensor(DType::F32, {2}));
  writeSafetensors(dir.file("partial.safetensors"), partial);
  ::mkdir(dir.file("empty").c_str(), 0755);
  ::mkdir(dir.file("small").c_str(), 0755);
  writePng(dir.file("small/a.png"), Tensor(DType::F32, {3, 16, 16}));
  writePng(dir.file("small/b.png"), Tensor(DType::F32, {3, 8, 16}));
  writeBytes(dir.file("out.json"), "previous");
  const std::string eval = "eval " + kTokenizer + " --weights w.safetensors ";

  expectFailure(eval + "--data nowhere", 1,
                "nowhere: cannot open the data folder: No such file or directory");
  expectFailure(eval + "--data empty", 1, "empty: no images in the data folder");
  expectFailure(eval + "--data small", 1,
                "small/b.png: image is 16x8 pixels, smaller than the 16x16 the model takes");
  expectFailure("eval " + kArtifacts + "/fake.msdd --data data", 1,
                kArtifacts + "/fake.msdd: has no 'reconstruct' function and no 'encode' and "
                             "'decode' functions (it has: add, stats, project)");
  expectFailure(eval + "--data data --function add", 1,
                kTokenizer + ": no function 'add' (available: reconstruct, encode, decode)");
  expectFailure("eval " + kTokenizer + " --data data", 1,
                kTokenizer + ": function 'reconstruct' takes 'scale' f32[]: give the parameters "
                             "with --weights");
  expectFailure("eval " + kTokenizer + " --weights partial.safetensors --data data", 1,
                "partial.safetensors: tensor 'scale' is f32[2], but 'reconstruct' in " +
                    kTokenizer + " takes f32[]");
  expectFailure("eval " + kTokenizer + " --weights nothing.safetensors --data data", 1,
                "nothing.safetensors: cannot open");
  expectFailure("eval " + kArtifacts + "/fake_tokenizer_bad_nfe.msdd --data data", 1,
                kArtifacts + "/fake_tokenizer_bad_nfe.msdd: bad manifest: functions[2].nfe");
  expectFailure(eval + "--data data --json no/such/dir/out.json", 1,
                "no/such/dir/out.json: cannot create");
  expectFailure(eval + "--data data --json out.json --features " + kArtifacts + "/fake.msdd", 1,
                kArtifacts + "/fake.msdd: a feature network must have exactly one function");
  expectFailure(eval + "--data data --json out.json --features " + kTokenizer, 1,
                kTokenizer + ": a feature network must have exactly one function");
  expectFailure(eval + "--data data --json out.json --limit 1 --features " + kFeatures, 1,
                "data: a Frechet distance needs at least 2 images, the data has 1");
  EXPECT_EQ(readBytes(dir.file("out.json")), "previous");

  expectFailure("eval --data data", 2, "eval: missing the artifact (ART.msdd)");
  expectFailure(eval, 2, "eval: missing --data");
  expectFailure(eval + "--data data --bogus", 2, "unknown option '--bogus'");
  expectFailure(eval + "--data data --limit 0", 2, "option '--limit' needs an integer >= 1, got '0'");
  expectFailure(eval + "--data data --warmup x", 2, "option '--warmup' needs an integer >= 0");
  expectFailure(eval + "--data data --feature-name x", 2, "eval: --feature-name needs --features");
  expectFailure(eval + "--data data --function reconstruct --encode encode", 2,
                "eval: --function excludes --encode and --decode");
  expectFailure(eval + "--data data --encode encode", 2, "eval: --encode and --decode go together");
}

TEST_F(EvalTest, ReconstructGrid) {
  writeImages(4, /*larger=*/0);
  writeWeights("half.safetensors", 0.5f, 0.0f);
  writeWeights("same.safetensors", 1.0f, 0.0f);
  RunResult result = run("reconstruct " + kTokenizer + " --weights half.safetensors --data data "
                         "-o grid.png --count 3 --model " + kTokenizer + ":same.safetensors:exact");
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.out.find("columns: original | fake_tokenizer | exact"), std::string::npos)
      << result.out;
  Tensor grid = readImage(dir.file("grid.png"));
  const int64_t gap = 2, side = 3 * kSize + 4 * gap; // 3 rows and 3 columns
  ASSERT_EQ(grid.shape(), (std::vector<int64_t>{3, side, side}));
  std::vector<std::vector<float>> images = originals(3);
  auto pixel = [&](int64_t c, int64_t y, int64_t x) {
    return grid.data<float>()[(c * side + y) * side + x];
  };
  for (int64_t row = 0; row < 3; ++row)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < kSize; ++y)
        for (int64_t x = 0; x < kSize; ++x) {
          float v = images[row][(c * kSize + y) * kSize + x];
          int64_t top = gap + row * (kSize + gap);
          float original = pixel(c, top + y, gap + x);
          float half = pixel(c, top + y, 2 * gap + kSize + x);
          float same = pixel(c, top + y, 3 * gap + 2 * kSize + x);
          ASSERT_EQ(original, v);
          ASSERT_EQ(same, v);
          ASSERT_NEAR(half, v * 0.5f, 0.5f / 255 + 1e-6f);
        }
  for (int64_t k = 0; k < side; ++k) // the gaps are white
    EXPECT_EQ(pixel(1, 0, k) + pixel(0, k, side - 1), 2.0f);
}

TEST_F(EvalTest, ReconstructErrors) {
  writeImages(2);
  writeWeights("w.safetensors", 0.5f, 0.0f);
  const std::string base = "reconstruct " + kTokenizer + " --weights w.safetensors --data data ";
  expectFailure(base, 2, "reconstruct: missing --output (-o GRID.png)");
  expectFailure(base + "-o grid.png --model only.msdd", 2,
                "option '--model' needs ART.msdd:W.safetensors[:LABEL], got 'only.msdd'");
  expectFailure(base + "-o grid.png --count -1", 2, "option '--count' needs an integer >= 1");
  expectFailure(base + "-o no/dir/grid.png", 1, "no/dir/grid.png: cannot create");
  expectFailure(base + "-o grid.png --model missing.msdd:w.safetensors", 1,
                "missing.msdd: cannot open");
  expectFailure("reconstruct " + kTokenizer + " --weights w.safetensors --data nowhere -o grid.png",
                1, "nowhere: cannot open the data folder");
}

TEST_F(EvalTest, HelpAndInfo) {
  for (const char *args : {"eval --help", "reconstruct -h"}) {
    RunResult help = run(args);
    EXPECT_EQ(help.status, 0) << args;
    EXPECT_EQ(help.out.rfind("usage: msdd-run", 0), 0u) << args;
  }
  EXPECT_NE(run("--help").out.find("reconstruct"), std::string::npos);
  RunResult info = run("info " + kTokenizer);
  EXPECT_NE(info.out.find("function decode (entry msdd_entry_decode, nfe 3)"), std::string::npos)
      << info.out;
}
