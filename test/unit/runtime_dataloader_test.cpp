//===- runtime_dataloader_test.cpp - The training data loader -------------===//
//
// Images whose pixels say which file and which pixel they are: channel R holds the file
// number, G the column and B the row, so a batch reveals the order, crop offsets and flips.
//
//===----------------------------------------------------------------------===//
#include "msdd/Runtime/DataLoader.h"
#include "msdd/Runtime/Image.h"

#include "runtime_test_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

using namespace msdd::rt;
using msdd::rt::test::errorOf;
using msdd::rt::test::TempDir;
using msdd::rt::test::writeBytes;

namespace {

constexpr int64_t kHeight = 10, kWidth = 12, kCrop = 8;

/// Writes `count` images `name%02d.png` (kHeight x kWidth unless given).
void writeImages(const TempDir &dir, int count, int64_t height = kHeight, int64_t width = kWidth) {
  for (int i = 0; i < count; ++i) {
    Tensor image(DType::F32, {3, height, width});
    float *p = image.data<float>();
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < width; ++x) {
        p[(0 * height + y) * width + x] = i / 255.0f;
        p[(1 * height + y) * width + x] = x / 255.0f;
        p[(2 * height + y) * width + x] = y / 255.0f;
      }
    char name[32];
    std::snprintf(name, sizeof name, "img%02d.png", i);
    writePng(dir.file(name), image);
  }
}

DataLoaderOptions options(const TempDir &dir, int64_t batch = 4, uint64_t seed = 7) {
  DataLoaderOptions o;
  o.directory = dir.path();
  o.batchSize = batch;
  o.height = kCrop;
  o.width = kCrop;
  o.seed = seed;
  return o;
}

int value(const Tensor &batch, int64_t b, int64_t c, int64_t y, int64_t x) {
  const std::vector<int64_t> &s = batch.shape();
  return static_cast<int>(std::lround(batch.data<float>()[((b * s[1] + c) * s[2] + y) * s[3] + x] * 255));
}

bool sameBits(const Tensor &a, const Tensor &b) {
  return a.shape() == b.shape() && std::memcmp(a.rawData(), b.rawData(), a.nbytes()) == 0;
}

} // namespace

TEST(DataLoaderTest, ListsImagesSortedAndSkipsOtherFiles) {
  TempDir dir;
  writeImages(dir, 5);
  writeBytes(dir.file("notes.txt"), "not an image");
  writeBytes(dir.file(".hidden.png"), "skipped");
  std::rename(dir.file("img03.png").c_str(), dir.file("IMG03.PNG").c_str());
  DataLoader loader(options(dir));
  std::vector<std::string> names;
  for (const std::string &path : loader.files())
    names.push_back(path.substr(path.rfind('/') + 1));
  EXPECT_EQ(names, (std::vector<std::string>{"IMG03.PNG", "img00.png", "img01.png", "img02.png",
                                             "img04.png"}));
  EXPECT_EQ(loader.batchesPerEpoch(), 1);
}

TEST(DataLoaderTest, BatchesFollowTheEpochOrderWithCropsAndFlips) {
  TempDir dir;
  writeImages(dir, 10);
  DataLoader loader(options(dir), {});
  EXPECT_EQ(loader.batchesPerEpoch(), 2); // 10 images in batches of 4: 2 are skipped per epoch
  std::set<std::pair<int, int>> offsets;
  int flipped = 0, samples = 0;
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<int64_t> order = loader.epochOrder(epoch);
    std::vector<int64_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < 10; ++i)
      ASSERT_EQ(sorted[i], i) << "a permutation";
    for (int64_t position : {0, 4}) {
      LoaderPosition at{epoch, position};
      ASSERT_EQ(loader.position(), at);
      Tensor batch = loader.next();
      ASSERT_EQ(batch.shape(), (std::vector<int64_t>{4, 3, kCrop, kCrop}));
      for (int64_t b = 0; b < 4; ++b) {
        EXPECT_EQ(value(batch, b, 0, 0, 0), order[position + b]) << "the file of the sample";
        int x0 = value(batch, b, 1, 0, 0), x1 = value(batch, b, 1, 0, kCrop - 1);
        int y0 = value(batch, b, 2, 0, 0);
        bool mirrored = x0 > x1;
        flipped += mirrored;
        ++samples;
        int left = mirrored ? x1 : x0;
        EXPECT_EQ(std::abs(x1 - x0), kCrop - 1);
        EXPECT_LE(left + kCrop, kWidth);
        EXPECT_LE(y0 + kCrop, kHeight);
        EXPECT_EQ(value(batch, b, 2, kCrop - 1, 3), y0 + kCrop - 1);
        offsets.insert({left, y0});
      }
    }
  }
  EXPECT_EQ(loader.position(), (LoaderPosition{3, 0}));
  EXPECT_GT(flipped, 0);
  EXPECT_LT(flipped, samples);
  EXPECT_GT(offsets.size(), 3u) << "crops at several offsets";
  EXPECT_NE(loader.epochOrder(0), loader.epochOrder(1));
}

TEST(DataLoaderTest, SameSeedSameBatchesPrefetchedOrNot) {
  TempDir dir;
  writeImages(dir, 10);
  DataLoaderOptions prefetched = options(dir), inline_ = options(dir), other = options(dir, 4, 8);
  inline_.prefetch = 0;
  DataLoader a(prefetched), b(inline_), c(other);
  bool anyDifferent = false;
  for (int i = 0; i < 7; ++i) {
    Tensor x = a.next(), y = b.next(), z = c.next();
    EXPECT_TRUE(sameBits(x, y)) << "batch " << i;
    anyDifferent |= !sameBits(x, z);
  }
  EXPECT_TRUE(anyDifferent) << "another seed gives other batches";
  EXPECT_EQ(a.position(), b.position());
}

TEST(DataLoaderTest, ResumesFromAPosition) {
  TempDir dir;
  writeImages(dir, 10);
  DataLoader first(options(dir));
  for (int i = 0; i < 3; ++i)
    first.next();
  LoaderPosition saved = first.position();
  EXPECT_EQ(saved, (LoaderPosition{1, 4}));
  std::vector<Tensor> expected;
  for (int i = 0; i < 5; ++i)
    expected.push_back(first.next());

  DataLoader resumed(options(dir), saved);
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(sameBits(resumed.next(), expected[i])) << "batch " << i;
  resumed.seek(saved);
  EXPECT_TRUE(sameBits(resumed.next(), expected[0]));
  EXPECT_TRUE(sameBits(resumed.batchAt(saved), expected[0]));
  EXPECT_EQ(resumed.advance(saved), (LoaderPosition{2, 0}));

  std::string bad = errorOf([&] { DataLoader(options(dir), LoaderPosition{0, 3}); });
  EXPECT_EQ(bad, dir.path() + ": loader position (epoch 0, position 3) is not the start of a batch "
                              "of 4 among 10 images (was the data folder changed?)");
}

TEST(DataLoaderTest, WithoutAugmentationCropsAtTheCentre) {
  TempDir dir;
  writeImages(dir, 4);
  DataLoaderOptions o = options(dir);
  o.randomCrop = false;
  o.flip = false;
  o.shuffle = false;
  DataLoader loader(o);
  for (int i = 0; i < 3; ++i) {
    Tensor batch = loader.next();
    for (int64_t b = 0; b < 4; ++b) {
      EXPECT_EQ(value(batch, b, 0, 0, 0), b);
      EXPECT_EQ(value(batch, b, 1, 0, 0), (kWidth - kCrop) / 2);
      EXPECT_EQ(value(batch, b, 2, 0, 0), (kHeight - kCrop) / 2);
    }
  }
}

TEST(DataLoaderTest, OneLineErrors) {
  TempDir dir;
  std::string missing = dir.file("missing");
  EXPECT_EQ(errorOf([&] { DataLoaderOptions o = options(dir); o.directory = missing; DataLoader l(o); }),
            missing + ": cannot open the data folder: No such file or directory");
  writeBytes(dir.file("file.png"), "x");
  EXPECT_EQ(errorOf([&] { DataLoaderOptions o = options(dir); o.directory = dir.file("file.png"); DataLoader l(o); }),
            dir.file("file.png") + ": is not a folder (the data must be a folder of images)");
  TempDir empty;
  writeBytes(empty.file("readme.txt"), "no images here");
  EXPECT_EQ(errorOf([&] { DataLoader l(options(empty)); }),
            empty.path() + ": no images in the data folder (looked for *.png, *.jpg, *.jpeg)");
  TempDir few;
  writeImages(few, 3);
  EXPECT_EQ(errorOf([&] { DataLoader l(options(few)); }),
            few.path() + ": 3 images, fewer than one batch of 4");

  TempDir small;
  writeImages(small, 4, 6, 12);
  DataLoader loader(options(small));
  std::string message = errorOf([&] { loader.next(); });
  EXPECT_EQ(message.rfind(small.path() + "/img0", 0), 0u) << message;
  EXPECT_NE(message.find(": image is 12x6 pixels, smaller than the 8x8 the model takes"),
            std::string::npos)
      << message;
  EXPECT_EQ(errorOf([&] { loader.next(); }), message) << "the loader stays at the failed batch";

  TempDir corrupt;
  writeImages(corrupt, 4);
  writeBytes(corrupt.file("img02.png"), "garbage");
  DataLoader bad(options(corrupt));
  EXPECT_EQ(errorOf([&] { bad.next(); }),
            corrupt.file("img02.png") + ": not a PNG or JPEG image (unknown signature)");
}
