//===- runtime_tensor_test.cpp - Tensor and NamedTensors ------------------===//
#include "msdd/Runtime/Tensor.h"

#include "runtime_test_util.h"

using namespace msdd::rt;
using msdd::rt::test::errorOf;

TEST(RuntimeTensor, DTypeNamesAndSizes) {
  for (DType dtype : {DType::F32, DType::F64, DType::I32, DType::I64, DType::I1}) {
    DType parsed;
    ASSERT_TRUE(parseDType(dtypeName(dtype), parsed));
    EXPECT_EQ(parsed, dtype);
  }
  DType unused;
  EXPECT_FALSE(parseDType("f16", unused));
  EXPECT_EQ(dtypeSize(DType::F64), 8u);
  EXPECT_EQ(dtypeSize(DType::I1), 1u);
}

TEST(RuntimeTensor, ZeroFilledAlignedRowMajor) {
  Tensor t(DType::I32, {2, 3, 4});
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.nbytes(), 96u);
  EXPECT_EQ(t.strides(), (std::vector<int64_t>{12, 4, 1}));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.rawData()) % Tensor::kAlignment, 0u);
  for (int64_t i = 0; i < t.numel(); ++i)
    EXPECT_EQ(t.data<int32_t>()[i], 0);

  Tensor scalar;
  EXPECT_EQ(scalar.rank(), 0);
  EXPECT_EQ(scalar.numel(), 1);
  Tensor empty(DType::F32, {0, 5});
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_NE(empty.rawData(), nullptr);
}

TEST(RuntimeTensor, CheckedAccessAndErrors) {
  Tensor t(DType::F32, {2});
  EXPECT_EQ(errorOf([&] { t.data<int64_t>(); }), "tensor: data<i64>() on a f32[2] tensor");
  EXPECT_EQ(errorOf([] { Tensor(DType::F32, {2, -1}); }),
            "tensor: negative dimension in shape [2, -1]");
  EXPECT_NE(errorOf([] { Tensor(DType::F64, {INT64_MAX / 2, 4}); }).find("too many elements"),
            std::string::npos);
  EXPECT_FALSE(denseByteSize(DType::F64, {INT64_MAX / 8, 2}));
}

TEST(RuntimeTensor, CloneIsDeep) {
  Tensor a(DType::F64, {3});
  a.data<double>()[1] = 7;
  Tensor b = a.clone();
  a.data<double>()[1] = 0;
  EXPECT_EQ(b.data<double>()[1], 7);
  EXPECT_EQ(typeToString(b.dtype(), b.shape()), "f64[3]");
}

TEST(RuntimeTensor, NamedTensorsKeepOrderAndUniqueNames) {
  NamedTensors tensors;
  EXPECT_TRUE(tensors.insert("b", Tensor(DType::F32, {1})));
  EXPECT_TRUE(tensors.insert("a", Tensor(DType::I64, {2})));
  EXPECT_TRUE(tensors.insert("c", Tensor()));
  EXPECT_FALSE(tensors.insert("a", Tensor()));
  std::vector<std::string> names;
  for (const auto &entry : tensors)
    names.push_back(entry.first);
  EXPECT_EQ(names, (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(tensors.find("a")->dtype(), DType::I64);

  Tensor a = tensors.take("a");
  EXPECT_EQ(a.shape(), std::vector<int64_t>{2});
  EXPECT_FALSE(tensors.contains("a"));
  ASSERT_NE(tensors.find("c"), nullptr); // the index survives the removal
  EXPECT_EQ(tensors.find("c")->rank(), 0);
  EXPECT_EQ(errorOf([&] { tensors.take("zz"); }), "tensors: no tensor named 'zz'");
}
