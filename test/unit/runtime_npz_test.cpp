//===- runtime_npz_test.cpp - .npz reading and writing --------------------===//
#include "msdd/Runtime/Npz.h"

#include "runtime_test_util.h"

#include <cmath>
#include <cstring>
#include <random>

using namespace msdd::rt;
using msdd::rt::test::errorOf;
using msdd::rt::test::readBytes;
using msdd::rt::test::TempDir;
using msdd::rt::test::writeBytes;

namespace {

const std::string kData = MSDD_UNIT_TEST_DATA_DIR;

/// A tensor whose bytes are all pseudo-random (booleans 0/1).
Tensor randomTensor(DType dtype, std::vector<int64_t> shape, uint32_t seed) {
  Tensor t(dtype, std::move(shape));
  std::mt19937 rng(seed);
  auto *bytes = static_cast<uint8_t *>(t.rawData());
  for (size_t i = 0; i < t.nbytes(); ++i)
    bytes[i] = dtype == DType::I1 ? rng() % 2 : static_cast<uint8_t>(rng());
  return t;
}

void expectSameTensor(const Tensor &a, const Tensor &b, const std::string &name) {
  EXPECT_EQ(a.dtype(), b.dtype()) << name;
  EXPECT_EQ(a.shape(), b.shape()) << name;
  ASSERT_EQ(a.nbytes(), b.nbytes()) << name;
  EXPECT_EQ(std::memcmp(a.rawData(), b.rawData(), a.nbytes()), 0) << name;
}

/// The arrays of make_npz.py, recomputed.
void expectGoldenArrays(const NamedTensors &arrays) {
  std::vector<std::string> names;
  for (const auto &entry : arrays)
    names.push_back(entry.first);
  EXPECT_EQ(names, (std::vector<std::string>{"f32", "f64_scalar", "i32", "i64", "bool",
                                             "f32_rank4", "empty", "caf\xc3\xa9 x"}));

  const Tensor &f32 = *arrays.find("f32");
  ASSERT_EQ(f32.shape(), (std::vector<int64_t>{2, 3}));
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(f32.data<float>()[i], i * 0.5f - 1.0f);

  const Tensor &scalar = *arrays.find("f64_scalar");
  EXPECT_EQ(scalar.rank(), 0);
  EXPECT_EQ(scalar.data<double>()[0], 3.25);

  const Tensor &i32 = *arrays.find("i32");
  ASSERT_EQ(i32.shape(), std::vector<int64_t>{7});
  for (int i = 0; i < 7; ++i)
    EXPECT_EQ(i32.data<int32_t>()[i], i - 3);

  const Tensor &i64 = *arrays.find("i64");
  ASSERT_EQ(i64.shape(), (std::vector<int64_t>{2, 3, 4}));
  for (int i = 0; i < 24; ++i)
    EXPECT_EQ(i64.data<int64_t>()[i], int64_t(i) * 1000000007);

  const Tensor &flags = *arrays.find("bool");
  ASSERT_EQ(flags.shape(), (std::vector<int64_t>{3, 4}));
  for (int i = 0; i < 12; ++i)
    EXPECT_EQ(flags.data<bool>()[i], i % 3 == 0);

  const Tensor &rank4 = *arrays.find("f32_rank4");
  ASSERT_EQ(rank4.shape(), (std::vector<int64_t>{2, 3, 4, 5}));
  for (int i = 0; i < 120; ++i)
    EXPECT_EQ(rank4.data<float>()[i], float(i) / 7.0f);

  EXPECT_EQ(arrays.find("empty")->shape(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(arrays.find("caf\xc3\xa9 x")->data<double>()[1], -2.5);
}

} // namespace

TEST(RuntimeNpz, RoundTripsEveryDTypeAndRank) {
  TempDir dir;
  NamedTensors written;
  uint32_t seed = 1;
  for (DType dtype : {DType::F32, DType::F64, DType::I32, DType::I64, DType::I1})
    for (int rank = 0; rank <= 4; ++rank) {
      std::vector<int64_t> shape;
      for (int d = 0; d < rank; ++d)
        shape.push_back(2 + (d + rank) % 3);
      written.insert(std::string(dtypeName(dtype)) + "_r" + std::to_string(rank),
                     randomTensor(dtype, shape, seed++));
    }
  written.insert("empty", Tensor(DType::I64, {3, 0, 2}));
  std::string path = dir.file("all.npz");
  writeNpz(path, written);
  NamedTensors read = readNpz(path);
  ASSERT_EQ(read.size(), written.size());
  auto it = read.begin();
  for (const auto &[name, tensor] : written) {
    EXPECT_EQ(it->first, name);
    expectSameTensor(it->second, tensor, name);
    ++it;
  }
  EXPECT_EQ(dir.list(), std::vector<std::string>{"all.npz"}); // no temporary left
}

TEST(RuntimeNpz, WriteReplacesAtomicallyAndCleansUpOnFailure) {
  TempDir dir;
  std::string path = dir.file("out.npz");
  NamedTensors first;
  first.insert("x", Tensor(DType::F32, {4}));
  writeNpz(path, first);
  NamedTensors second;
  second.insert("y", Tensor(DType::I32, {2}));
  writeNpz(path, second);
  EXPECT_TRUE(readNpz(path).contains("y"));

  NamedTensors bad;
  bad.insert("", Tensor());
  EXPECT_EQ(errorOf([&] { writeNpz(path, bad); }),
            path + ": cannot store an array with an empty name");
  EXPECT_TRUE(readNpz(path).contains("y")); // the old file is intact
  EXPECT_EQ(dir.list(), std::vector<std::string>{"out.npz"});

  std::string missingDir = dir.file("no/such/out.npz");
  EXPECT_EQ(errorOf([&] { writeNpz(missingDir, second); }),
            missingDir + ": cannot create: directory '" + dir.file("no/such/") +
                "': No such file or directory");
  EXPECT_EQ(errorOf([&] { writeNpz(dir.path(), second); }), dir.path() + ": is a directory");
}

TEST(RuntimeNpz, ReadsNumpySavez) { expectGoldenArrays(readNpz(kData + "/numpy_savez.npz")); }

TEST(RuntimeNpz, ReadsNumpySavezCompressed) {
  expectGoldenArrays(readNpz(kData + "/numpy_savez_compressed.npz"));
}

TEST(RuntimeNpz, ReadsNpyFormatVersions1To3) {
  NamedTensors arrays = readNpz(kData + "/npy_versions.npz");
  ASSERT_EQ(arrays.size(), 3u);
  for (const char *name : {"v1", "v2", "v3"}) {
    const Tensor *t = arrays.find(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->shape(), (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(t->data<float>()[5], 1.5f);
  }
}

TEST(RuntimeNpz, UnsupportedContentGivesClearErrors) {
  struct Case {
    const char *file;
    const char *problem;
  } cases[] = {
      {"bad_dtype_i2.npz", "array 'x' has dtype <i2, only f32/f64/i32/i64/bool are supported"},
      {"bad_big_endian.npz", "array 'x' has dtype >f4, only f32/f64/i32/i64/bool are supported"},
      {"bad_fortran.npz", "array 'x' is in Fortran order, only C order is supported"},
      {"bad_not_npy.npz", "entry 'readme.txt' is not a .npy array"},
      {"bad_crc.npz", "array 'x' is corrupt (CRC mismatch)"},
  };
  for (const Case &c : cases) {
    std::string path = kData + "/" + c.file;
    EXPECT_EQ(errorOf([&] { readNpz(path); }), path + ": " + c.problem);
  }
}

TEST(RuntimeNpz, CorruptFilesGiveClearErrors) {
  TempDir dir;
  std::string good = readBytes(kData + "/numpy_savez.npz");
  std::string compressed = readBytes(kData + "/numpy_savez_compressed.npz");
  auto problemOf = [&](const std::string &bytes) {
    std::string path = dir.file("bad.npz");
    writeBytes(path, bytes);
    std::string message = errorOf([&] { readNpz(path); });
    EXPECT_EQ(message.compare(0, path.size() + 2, path + ": "), 0) << message;
    return message.substr(std::min(message.size(), path.size() + 2));
  };

  EXPECT_EQ(problemOf(""), "is empty, not an .npz archive");
  EXPECT_EQ(problemOf("hello, world, this is text"),
            "is not an .npz archive (no zip end-of-directory record)");
  EXPECT_EQ(problemOf(good.substr(0, good.size() / 2)),
            "is truncated or corrupt (no zip end-of-directory record)");
  EXPECT_EQ(problemOf(std::string("\x93NUMPY\x01\x00", 8) + std::string(100, ' ')),
            "is a .npy file, not an .npz archive");

  // Damage the deflate stream of the first entry of the compressed file.
  std::string damaged = compressed;
  size_t data = 30 + uint8_t(compressed[26]) + uint8_t(compressed[28]); // + name, extra lengths
  for (size_t i = data; i < data + 16; ++i)
    damaged[i] = static_cast<char>(damaged[i] ^ 0x5A);
  std::string message = problemOf(damaged);
  EXPECT_EQ(message.rfind("array 'f32' is corrupt", 0), 0u) << message;

  // Point the first central directory entry's local header offset past the end.
  std::string badOffset = good;
  size_t central = badOffset.find("PK\x01\x02");
  ASSERT_NE(central, std::string::npos);
  badOffset[central + 42] = '\xF0';
  badOffset[central + 43] = '\xFF';
  badOffset[central + 44] = '\xFF';
  badOffset[central + 45] = '\x7F';
  EXPECT_EQ(problemOf(badOffset), "array 'f32' is corrupt (bad local header)");

  // zip64 markers in the end-of-directory record.
  std::string zip64 = good;
  size_t end = zip64.rfind("PK\x05\x06");
  ASSERT_NE(end, std::string::npos);
  zip64.replace(end + 16, 4, "\xFF\xFF\xFF\xFF");
  EXPECT_EQ(problemOf(zip64), "zip64 archives (entries over 4 GiB or more than 65535 entries) are "
                              "not supported");
}

TEST(RuntimeNpz, MissingFileAndDirectory) {
  TempDir dir;
  std::string missing = dir.file("missing.npz");
  EXPECT_EQ(errorOf([&] { readNpz(missing); }),
            missing + ": cannot open: No such file or directory");
  EXPECT_EQ(errorOf([&] { readNpz(dir.path()); }), dir.path() + ": is a directory");
}

TEST(RuntimeNpz, NumpyReadsWhatWeWrite) {
  if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "/usr/bin/python3 with numpy is not available";
  TempDir dir;
  NamedTensors tensors;
  Tensor f32(DType::F32, {2, 3});
  for (int i = 0; i < 6; ++i)
    f32.data<float>()[i] = i * 0.5f - 1.0f;
  tensors.insert("f32", std::move(f32));
  Tensor scalar(DType::F64, {});
  scalar.data<double>()[0] = 3.25;
  tensors.insert("f64_scalar", std::move(scalar));
  Tensor flags(DType::I1, {3});
  flags.data<bool>()[1] = true;
  tensors.insert("bool", std::move(flags));
  tensors.insert("i64", Tensor(DType::I64, {1, 0, 2}));
  tensors.insert("caf\xc3\xa9 x", Tensor(DType::I32, {2, 2, 1, 1}));
  std::string path = dir.file("ours.npz");
  writeNpz(path, tensors);

  std::string script = dir.file("check.py");
  writeBytes(script, R"(import sys, numpy as np
d = np.load(sys.argv[1])
assert list(d.keys()) == ['f32', 'f64_scalar', 'bool', 'i64', 'caf\u00e9 x'], list(d.keys())
assert d['f32'].dtype == np.float32 and (d['f32'] == np.arange(6).reshape(2, 3) * 0.5 - 1).all()
assert d['f64_scalar'].shape == () and d['f64_scalar'] == 3.25
assert d['bool'].dtype == np.bool_ and list(d['bool']) == [False, True, False]
assert d['i64'].dtype == np.int64 and d['i64'].shape == (1, 0, 2)
assert d['caf\u00e9 x'].dtype == np.int32 and d['caf\u00e9 x'].shape == (2, 2, 1, 1)
)");
  EXPECT_EQ(std::system(("/usr/bin/python3 " + script + " " + path).c_str()), 0);
}
