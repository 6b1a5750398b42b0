//===- runtime_artifact_test.cpp - Loading and calling artifacts ----------===//
//
// Uses the hand-written artifacts of runtime_fake_artifact.c.
//
//===----------------------------------------------------------------------===//
#include "msdd/Runtime/Artifact.h"
#include "msdd/Runtime/Runtime.h"

#include "runtime_test_util.h"

#include <cstring>
#include <elf.h>

using namespace msdd::rt;
using msdd::rt::test::errorOf;
using msdd::rt::test::TempDir;
using msdd::rt::test::writeBytes;

namespace {

const std::string kArtifacts = MSDD_TEST_ARTIFACT_DIR;
const std::string kGood = kArtifacts + "/fake.msdd";

Tensor filled(DType dtype, std::vector<int64_t> shape, double start) {
  Tensor t(dtype, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = start + static_cast<double>(i);
    switch (dtype) {
    case DType::F32: t.data<float>()[i] = float(v); break;
    case DType::F64: t.data<double>()[i] = v; break;
    case DType::I32: t.data<int32_t>()[i] = int32_t(v); break;
    case DType::I64: t.data<int64_t>()[i] = int64_t(v); break;
    case DType::I1: t.data<bool>()[i] = int64_t(v) % 2 != 0; break;
    }
  }
  return t;
}

NamedTensors addInputs() {
  NamedTensors inputs;
  inputs.insert("b", filled(DType::F32, {2, 3}, 10));
  inputs.insert("a", filled(DType::F32, {2, 3}, 0));
  return inputs;
}

} // namespace

TEST(RuntimeArtifact, ReadsTheManifest) {
  auto artifact = Artifact::open(kGood);
  ASSERT_EQ(artifact->functions().size(), 3u);
  const FunctionSpec &stats = artifact->function("stats");
  EXPECT_EQ(stats.entry, "msdd_entry_stats");
  ASSERT_EQ(stats.inputs.size(), 3u);
  EXPECT_EQ(stats.inputs[1].name, "mask");
  EXPECT_EQ(stats.inputs[1].dtype, DType::I1);
  EXPECT_TRUE(stats.inputs[2].shape.empty());
  EXPECT_EQ(stats.outputs[1].shape, std::vector<int64_t>{1});
  EXPECT_EQ(artifact->manifest().find("target")->asString(), "cpu");
  EXPECT_EQ(artifact->findFunction("nope"), nullptr);
}

TEST(RuntimeArtifact, ReadsTheNumberOfNetworkEvaluations) {
  std::unique_ptr<Artifact> artifact = Artifact::open(kArtifacts + "/fake_tokenizer.msdd");
  EXPECT_EQ(artifact->function("decode").nfe, 3);
  EXPECT_EQ(artifact->function("reconstruct").nfe, -1); // the manifest does not say
}

TEST(RuntimeArtifact, CallsFunctionsWithEveryDescriptorRank) {
  auto artifact = Artifact::open(kGood);
  NamedTensors sum = artifact->call("add", addInputs());
  ASSERT_EQ(sum.size(), 1u);
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(sum.find("sum")->data<float>()[i], float(10 + 2 * i));

  NamedTensors inputs;
  inputs.insert("x", filled(DType::I64, {4}, 1));      // 1 2 3 4
  inputs.insert("mask", filled(DType::I1, {4}, 1));    // T F T F
  inputs.insert("scale", filled(DType::F64, {}, 0.5)); // 0.5
  NamedTensors outputs = artifact->call("stats", inputs);
  std::vector<std::string> names;
  for (const auto &entry : outputs)
    names.push_back(entry.first);
  EXPECT_EQ(names, (std::vector<std::string>{"masked_sum", "count"})); // manifest order
  EXPECT_EQ(outputs.find("masked_sum")->data<double>()[0], 2.0);
  EXPECT_EQ(outputs.find("count")->data<int32_t>()[0], 2);
}

TEST(RuntimeArtifact, ArtifactsBindToTheRuntimeKernels) {
  auto artifact = Artifact::open(kGood);
  NamedTensors inputs;
  inputs.insert("x", filled(DType::F32, {2, 3}, 0)); // [[0 1 2] [3 4 5]]
  inputs.insert("w", filled(DType::F32, {4, 3}, 1)); // rows [1 2 3] [4 5 6] ...
  NamedTensors y = artifact->call("project", inputs);
  const float expected[8] = {8, 17, 26, 35, 26, 62, 98, 134};
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(y.find("y")->data<float>()[i], expected[i]) << i;
}

TEST(RuntimeArtifact, CallValidatesInputs) {
  auto artifact = Artifact::open(kGood);
  const std::string prefix = kGood + ": function 'add': ";

  EXPECT_EQ(errorOf([&] { artifact->call("mul", addInputs()); }),
            kGood + ": no function 'mul' (available: add, stats, project)");

  NamedTensors missing;
  missing.insert("a", filled(DType::F32, {2, 3}, 0));
  EXPECT_EQ(errorOf([&] { artifact->call("add", missing); }),
            prefix + "missing input 'b' (f32[2, 3])");

  NamedTensors extra = addInputs();
  extra.insert("c", Tensor());
  EXPECT_EQ(errorOf([&] { artifact->call("add", extra); }),
            prefix + "unexpected input 'c' (its inputs are: a, b)");

  NamedTensors wrongType;
  wrongType.insert("a", filled(DType::F64, {2, 3}, 0));
  wrongType.insert("b", filled(DType::F32, {2, 3}, 0));
  EXPECT_EQ(errorOf([&] { artifact->call("add", wrongType); }),
            prefix + "input 'a' has dtype f64, expected f32");

  NamedTensors wrongShape;
  wrongShape.insert("a", filled(DType::F32, {2, 3}, 0));
  wrongShape.insert("b", filled(DType::F32, {3, 2}, 0));
  EXPECT_EQ(errorOf([&] { artifact->call("add", wrongShape); }),
            prefix + "input 'b' has shape [3, 2], expected [2, 3]");
}

TEST(RuntimeArtifact, CallIntoStagesMisalignedBuffers) {
  auto artifact = Artifact::open(kGood);
  alignas(64) float storage[3][8 + 1];
  for (int i = 0; i < 6; ++i) {
    storage[0][1 + i] = float(i);
    storage[1][1 + i] = 100.0f;
  }
  std::vector<int64_t> shape{2, 3};
  // Offset by one float: 4-byte aligned only.
  artifact->callInto("add", {{"a", DType::F32, shape, &storage[0][1]}, {"b", DType::F32, shape, &storage[1][1]}},
                     {{"sum", DType::F32, shape, &storage[2][1]}});
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(storage[2][1 + i], 100.0f + float(i));
  EXPECT_EQ(errorOf([&] {
              artifact->callInto("add", {{"a", DType::F32, shape, storage[0]}, {"b", DType::F32, shape, storage[1]}},
                                 {{"sum", DType::F32, {6}, storage[2]}});
            }),
            kGood + ": function 'add': output 'sum' has shape [6], expected [2, 3]");
}

TEST(RuntimeArtifact, OpenReportsBadFiles) {
  TempDir dir;
  std::string missing = dir.file("missing.msdd");
  EXPECT_EQ(errorOf([&] { Artifact::open(missing); }),
            missing + ": cannot open: No such file or directory");

  std::string text = dir.file("text.msdd");
  writeBytes(text, "this is not a shared object\n");
  EXPECT_EQ(errorOf([&] { Artifact::open(text); }),
            text + ": not an ELF shared object (is it an .msdd artifact?)");

  std::string empty = dir.file("empty.msdd");
  writeBytes(empty, "");
  EXPECT_EQ(errorOf([&] { Artifact::open(empty); }),
            empty + ": not an ELF shared object (is it an .msdd artifact?)");

  // dlopen itself would crash with SIGBUS on a file whose segments end past its end.
  std::string truncated = dir.file("truncated.msdd");
  writeBytes(truncated, test::readBytes(kGood).substr(0, 200));
  EXPECT_EQ(errorOf([&] { Artifact::open(truncated); }),
            truncated + ": truncated or corrupt ELF file (bad program header table)");
  writeBytes(truncated, test::readBytes(kGood).substr(0, 4000));
  std::string message = errorOf([&] { Artifact::open(truncated); });
  EXPECT_EQ(message.rfind(truncated + ": truncated ELF file (a segment ends at byte ", 0), 0u)
      << message;

  std::string object = dir.file("object.msdd");
  std::string bytes = test::readBytes(kGood);
  bytes[16] = ET_REL; // e_type
  writeBytes(object, bytes);
  EXPECT_EQ(errorOf([&] { Artifact::open(object); }),
            object + ": an ELF file but not a shared object (is it an .msdd artifact?)");

  EXPECT_EQ(errorOf([&] { Artifact::open(dir.path()); }), dir.path() + ": is a directory");
}

TEST(RuntimeArtifact, OpenReportsBadManifests) {
  struct Case {
    const char *file;
    const char *problem;
  } cases[] = {
      {"fake_bad_json.msdd", "bad manifest: invalid JSON at offset 41: expected a string key"},
      {"fake_no_manifest.msdd", "no msdd_manifest symbol (not an MSDD artifact)"},
      {"fake_old_version.msdd", "manifest version 1 is not supported (this runtime reads version 2)"},
      {"fake_missing_entry.msdd", "entry symbol 'msdd_entry_ghost' of function 'ghost' is missing"},
      {"fake_bad_dtype.msdd",
       "bad manifest: functions[0].inputs[0]: dtype 'f16' is not one of f32, f64, i32, i64, i1"},
      {"fake_tokenizer_bad_nfe.msdd",
       "bad manifest: functions[2].nfe: expected a non-negative integer, got -2"},
  };
  for (const Case &c : cases) {
    std::string path = kArtifacts + "/" + c.file;
    EXPECT_EQ(errorOf([&] { Artifact::open(path); }), path + ": " + c.problem);
  }
}

TEST(RuntimeArtifact, RelativePathsLoadFromTheCurrentDirectory) {
  char *cwd = getcwd(nullptr, 0);
  ASSERT_EQ(chdir(kArtifacts.c_str()), 0);
  std::string message;
  try {
    Artifact::open("fake.msdd");
  } catch (const Error &error) {
    message = error.what();
  }
  ASSERT_EQ(chdir(cwd), 0);
  free(cwd);
  EXPECT_EQ(message, "");
}

TEST(RuntimeArtifact, CApi) {
  EXPECT_STREQ(msdd_runtime_version(), "0.1.0");
  EXPECT_EQ(msdd_artifact_open("/nonexistent.msdd"), nullptr);
  EXPECT_STREQ(msdd_last_error(), "/nonexistent.msdd: cannot open: No such file or directory");

  msdd_artifact *artifact = msdd_artifact_open(kGood.c_str());
  ASSERT_NE(artifact, nullptr) << msdd_last_error();
  EXPECT_STREQ(msdd_last_error(), "");
  ASSERT_EQ(msdd_artifact_num_functions(artifact), 3);
  EXPECT_STREQ(msdd_artifact_function_name(artifact, 1), "stats");
  EXPECT_EQ(msdd_artifact_function_name(artifact, 3), nullptr);
  EXPECT_EQ(Json::parse(msdd_artifact_manifest(artifact)).find("version")->asInt(), 2);

  float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 1, 1, 1, 1, 1}, sum[6] = {};
  const int64_t shape[2] = {2, 3};
  msdd_tensor inputs[2] = {{"a", MSDD_F32, 2, shape, a}, {"b", MSDD_F32, 2, shape, b}};
  msdd_tensor outputs[1] = {{"sum", MSDD_F32, 2, shape, sum}};
  ASSERT_EQ(msdd_artifact_call(artifact, "add", inputs, 2, outputs, 1), 0) << msdd_last_error();
  EXPECT_EQ(sum[5], 7.0f);

  inputs[1].dtype = MSDD_I32;
  EXPECT_EQ(msdd_artifact_call(artifact, "add", inputs, 2, outputs, 1), -1);
  EXPECT_EQ(std::string(msdd_last_error()),
            kGood + ": function 'add': input 'b' has dtype i32, expected f32");
  inputs[1].dtype = 99;
  EXPECT_EQ(msdd_artifact_call(artifact, "add", inputs, 2, outputs, 1), -1);
  EXPECT_STREQ(msdd_last_error(),
               "msdd_artifact_call: input 1 has no name, an unknown dtype or an invalid shape");
  msdd_artifact_close(artifact);
  msdd_artifact_close(nullptr);
}
