//===- runtime_safetensors_test.cpp - safetensors reading and writing -----===//
#include "msdd/Runtime/Safetensors.h"

#include "runtime_test_util.h"

#include <cstring>

using namespace msdd::rt;
using msdd::rt::test::errorOf;
using msdd::rt::test::readBytes;
using msdd::rt::test::TempDir;
using msdd::rt::test::writeBytes;

namespace {

/// A safetensors file from a header text and a data block.
std::string safetensorsBytes(const std::string &header, const std::string &data) {
  std::string out(8, '\0');
  uint64_t length = header.size();
  std::memcpy(out.data(), &length, 8);
  return out + header + data;
}

} // namespace

TEST(RuntimeSafetensors, RoundTripsWithMetadata) {
  TempDir dir;
  NamedTensors tensors;
  Tensor w(DType::F32, {2, 3});
  for (int i = 0; i < 6; ++i)
    w.data<float>()[i] = i * 1.5f;
  tensors.insert("layer.weight", std::move(w));
  Tensor b(DType::F64, {});
  b.data<double>()[0] = -0.25;
  tensors.insert("bias", std::move(b));
  Tensor steps(DType::I64, {1});
  steps.data<int64_t>()[0] = 1LL << 40;
  tensors.insert("steps", std::move(steps));
  Tensor mask(DType::I1, {3});
  mask.data<bool>()[2] = true;
  tensors.insert("mask", std::move(mask));
  tensors.insert("ids", Tensor(DType::I32, {0}));

  std::string path = dir.file("w.safetensors");
  writeSafetensors(path, tensors, {{"format", "pt"}, {"step", "12"}});
  EXPECT_EQ(dir.list(), std::vector<std::string>{"w.safetensors"});
  uint64_t headerLength;
  std::memcpy(&headerLength, readBytes(path).data(), 8);
  EXPECT_EQ(headerLength % 8, 0u); // data block aligned

  Metadata metadata;
  NamedTensors read = readSafetensors(path, &metadata);
  EXPECT_EQ(metadata, (Metadata{{"format", "pt"}, {"step", "12"}}));
  ASSERT_EQ(read.size(), tensors.size());
  for (const auto &[name, tensor] : tensors) {
    const Tensor *got = read.find(name);
    ASSERT_NE(got, nullptr) << name;
    EXPECT_EQ(got->dtype(), tensor.dtype()) << name;
    EXPECT_EQ(got->shape(), tensor.shape()) << name;
    EXPECT_EQ(std::memcmp(got->rawData(), tensor.rawData(), tensor.nbytes()), 0) << name;
  }
}

TEST(RuntimeSafetensors, ReadsHandWrittenFileInDataOrder) {
  TempDir dir;
  std::string path = dir.file("hand.safetensors");
  float values[3] = {1, 2, 3};
  int32_t ids[2] = {7, -7};
  std::string data(reinterpret_cast<const char *>(ids), 8);
  data.append(reinterpret_cast<const char *>(values), 12);
  writeBytes(path, safetensorsBytes(R"({"v":{"dtype":"F32","shape":[3],"data_offsets":[8,20]},)"
                                    R"("ids":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}  )",
                                    data));
  NamedTensors read = readSafetensors(path);
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read.begin()->first, "ids");
  EXPECT_EQ(read.find("ids")->data<int32_t>()[1], -7);
  EXPECT_EQ(read.find("v")->data<float>()[2], 3.0f);
}

TEST(RuntimeSafetensors, CorruptFilesGiveClearErrors) {
  TempDir dir;
  std::string path = dir.file("bad.safetensors");
  auto problemOf = [&](const std::string &bytes) {
    writeBytes(path, bytes);
    std::string message = errorOf([&] { readSafetensors(path); });
    EXPECT_EQ(message.compare(0, path.size() + 2, path + ": "), 0) << message;
    return message.substr(std::min(message.size(), path.size() + 2));
  };
  const std::string entry = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string eightBytes(8, '\0');

  EXPECT_EQ(problemOf("abc"), "is too short for a safetensors file (3 bytes)");
  // Truncated: the header promises more bytes than the file holds.
  EXPECT_EQ(problemOf(safetensorsBytes(entry, eightBytes).substr(0, 30)),
            "header length 54 exceeds the file size 30 (truncated or not a safetensors file)");
  // Truncated data block.
  EXPECT_EQ(problemOf(safetensorsBytes(entry, "1234")),
            "tensor 'x' has data_offsets [0, 8] beyond the data block of 4 bytes");
  EXPECT_EQ(problemOf(safetensorsBytes(R"({"x": [})", "")),
            "invalid JSON at offset 7: unexpected character '}'");
  EXPECT_EQ(problemOf(safetensorsBytes("[1]", "")), "header is a JSON array, not an object");
  EXPECT_EQ(problemOf(safetensorsBytes(
                R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,800]}})", eightBytes)),
            "tensor 'x' has data_offsets [0, 800] beyond the data block of 8 bytes");
  EXPECT_EQ(problemOf(safetensorsBytes(
                R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eightBytes)),
            "tensor 'x' has data_offsets [0, 8] (8 bytes) but f32[3] needs 12");
  EXPECT_EQ(problemOf(safetensorsBytes(
                R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", eightBytes)),
            "tensor 'x' has data_offsets [8, 0] that end before they begin");
  EXPECT_EQ(problemOf(safetensorsBytes(
                R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                R"("y":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}})",
                eightBytes)),
            "tensor 'y' has data_offsets [4, 8] overlapping another tensor");
  EXPECT_EQ(problemOf(safetensorsBytes(
                R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eightBytes)),
            "bytes [0, 4] of the data block belong to no tensor");
  EXPECT_EQ(problemOf(safetensorsBytes(entry, eightBytes + "xx")),
            "the last 2 bytes of the data block belong to no tensor");
  EXPECT_EQ(problemOf(safetensorsBytes(
                R"({"x":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", eightBytes)),
            "tensor 'x' has dtype F16, only F32/F64/I32/I64/BOOL are supported");
  EXPECT_EQ(problemOf(safetensorsBytes(
                R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eightBytes)),
            "tensor 'x' has a shape entry that is not a non-negative integer: -2");
  EXPECT_EQ(problemOf(safetensorsBytes(R"({"x":{"dtype":"F32","shape":[2]}})", eightBytes)),
            "tensor 'x' has no data_offsets pair of non-negative integers");
  EXPECT_EQ(problemOf(safetensorsBytes(
                R"({"x":{"dtype":"F32","shape":[4611686018427387904, 4],"data_offsets":[0,8]}})",
                eightBytes)),
            "tensor 'x' has shape [4611686018427387904, 4], which is too large");
  EXPECT_EQ(problemOf(safetensorsBytes(R"({"__metadata__":{"a":1}})", "")),
            "__metadata__ value 'a' is not a string");
  std::string huge(8, '\xFF');
  EXPECT_EQ(problemOf(huge + "{}"), "header length 18446744073709551615 exceeds the file size 10 "
                                    "(truncated or not a safetensors file)");
}

TEST(RuntimeSafetensors, WriteFailureLeavesNothing) {
  TempDir dir;
  NamedTensors tensors;
  tensors.insert("__metadata__", Tensor());
  std::string path = dir.file("w.safetensors");
  EXPECT_EQ(errorOf([&] { writeSafetensors(path, tensors); }),
            path + ": cannot store a tensor named __metadata__");
  EXPECT_TRUE(dir.list().empty());
}
