//===- runtime_msdd_run_test.cpp - The msdd-run tool's contract -----------===//
//
// Exit status 0 / 1 (runtime error) / 2 (usage error), one-line errors on stderr, and no
// output file after a failure.
//
//===----------------------------------------------------------------------===//
#include "msdd/Runtime/Json.h"
#include "msdd/Runtime/Npz.h"
#include "msdd/Runtime/Safetensors.h"

#include "msdd_run_test_util.h"

using namespace msdd::rt;
using msdd::rt::test::readBytes;
using msdd::rt::test::RunResult;
using msdd::rt::test::writeBytes;

namespace {

const std::string kArtifact = std::string(MSDD_TEST_ARTIFACT_DIR) + "/fake.msdd";

class MsddRunTest : public msdd::rt::test::MsddRunFixture {
protected:
  void writeAddInputs(const std::string &name, bool withB = true) {
    NamedTensors inputs;
    Tensor a(DType::F32, {2, 3});
    for (int i = 0; i < 6; ++i)
      a.data<float>()[i] = float(i);
    inputs.insert("a", std::move(a));
    if (withB) {
      Tensor b(DType::F32, {2, 3});
      for (int i = 0; i < 6; ++i)
        b.data<float>()[i] = 0.5f;
      inputs.insert("b", std::move(b));
    }
    writeNpz(dir.file(name), inputs);
  }
};

} // namespace

TEST_F(MsddRunTest, InferWritesOutputs) {
  writeAddInputs("in.npz");
  RunResult result = run("infer " + kArtifact + " --function add --inputs in.npz --outputs out.npz");
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.err, "");
  NamedTensors outputs = readNpz(dir.file("out.npz"));
  ASSERT_TRUE(outputs.contains("sum"));
  EXPECT_EQ(outputs.find("sum")->data<float>()[5], 5.5f);
}

TEST_F(MsddRunTest, InferTakesWeightsAndPrintsJson) {
  writeAddInputs("in.npz", /*withB=*/false);
  NamedTensors weights;
  weights.insert("b", Tensor(DType::F32, {2, 3}));
  writeSafetensors(dir.file("w.safetensors"), weights);
  RunResult result = run("infer " + kArtifact +
                         " --function=add --inputs in.npz --weights w.safetensors"
                         " --outputs out.npz --json");
  ASSERT_EQ(result.status, 0) << result.err;
  Json summary = Json::parse(result.out);
  EXPECT_EQ(summary.find("function")->asString(), "add");
  const Json &output = summary.find("outputs")->asArray().at(0);
  EXPECT_EQ(output.find("name")->asString(), "sum");
  EXPECT_EQ(output.find("dtype")->asString(), "f32");
  EXPECT_EQ(output.find("shape")->dump(), "[2,3]");
  EXPECT_GE(summary.find("time_ms")->asNumber(), 0.0);
  EXPECT_EQ(readNpz(dir.file("out.npz")).find("sum")->data<float>()[4], 4.0f);
}

TEST_F(MsddRunTest, UsageErrorsExitWith2) {
  writeAddInputs("in.npz");
  expectFailure("", 2, "missing command");
  expectFailure("frobnicate", 2, "unknown command 'frobnicate'");
  expectFailure("--frob", 2, "unknown option '--frob'");
  expectFailure("infer", 2, "infer: missing the artifact (ART.msdd)");
  expectFailure("infer " + kArtifact + " --inputs in.npz", 2, "infer: missing --outputs");
  expectFailure("infer " + kArtifact + " --outputs out.npz", 2, "infer: missing --inputs");
  expectFailure("infer " + kArtifact + " --inputs in.npz --outputs out.npz --bogus", 2,
                "unknown option '--bogus'");
  expectFailure("infer " + kArtifact + " --inputs in.npz --outputs", 2,
                "option '--outputs' needs a value");
  expectFailure("infer " + kArtifact + " --inputs in.npz --inputs in.npz --outputs out.npz", 2,
                "option '--inputs' given twice");
  expectFailure("infer " + kArtifact + " extra --inputs in.npz --outputs out.npz", 2,
                "infer: unexpected argument 'extra'");
  expectFailure("info " + kArtifact + " --json=yes", 2, "option '--json' takes no value");
}

TEST_F(MsddRunTest, RuntimeErrorsExitWith1AndLeaveNoOutput) {
  writeAddInputs("in.npz");
  writeAddInputs("only_a.npz", /*withB=*/false);
  writeBytes(dir.file("corrupt.npz"), "PK\x03\x04 this zip was cut short");
  writeBytes(dir.file("text.msdd"), "not an artifact");
  const std::string run = "infer " + kArtifact + " --function add ";

  expectFailure("infer missing.msdd --inputs in.npz --outputs out.npz", 1,
                "missing.msdd: cannot open: No such file or directory");
  expectFailure("infer text.msdd --inputs in.npz --outputs out.npz", 1,
                "text.msdd: not an ELF shared object");
  expectFailure(run + "--inputs missing.npz --outputs out.npz", 1,
                "missing.npz: cannot open: No such file or directory");
  expectFailure(run + "--inputs corrupt.npz --outputs out.npz", 1,
                "corrupt.npz: is truncated or corrupt");
  expectFailure(run + "--inputs only_a.npz --outputs out.npz", 1,
                kArtifact + ": function 'add': missing input 'b' (f32[2, 3])");
  expectFailure("infer " + kArtifact + " --function mul --inputs in.npz --outputs out.npz", 1,
                kArtifact + ": no function 'mul' (available: add, stats, project)");
  expectFailure("infer " + kArtifact + " --inputs in.npz --outputs out.npz", 1,
                kArtifact + ": has several functions (add, stats, project); choose one with "
                            "--function");
  expectFailure(run + "--inputs in.npz --outputs no/such/dir/out.npz", 1,
                "no/such/dir/out.npz: cannot create: directory 'no/such/dir/'");
  expectFailure(run + "--inputs in.npz --weights missing.safetensors --outputs out.npz", 1,
                "missing.safetensors: cannot open");

  NamedTensors clash;
  clash.insert("a", Tensor(DType::F32, {2, 3}));
  writeSafetensors(dir.file("clash.safetensors"), clash);
  expectFailure(run + "--inputs in.npz --weights clash.safetensors --outputs out.npz", 1,
                "clash.safetensors: tensor 'a' is also in in.npz");
}

TEST_F(MsddRunTest, FailedRunKeepsAnExistingOutput) {
  writeAddInputs("in.npz");
  writeBytes(dir.file("out.npz"), "previous");
  expectFailure("infer " + kArtifact + " --function nope --inputs in.npz --outputs out.npz", 1,
                kArtifact + ": no function 'nope'");
  EXPECT_EQ(readBytes(dir.file("out.npz")), "previous");
}

TEST_F(MsddRunTest, InfoHelpAndVersion) {
  RunResult info = run("info " + kArtifact);
  ASSERT_EQ(info.status, 0) << info.err;
  EXPECT_NE(info.out.find("function stats (entry msdd_entry_stats)"), std::string::npos);
  EXPECT_NE(info.out.find("    mask   i1[4]\n"), std::string::npos) << info.out;

  RunResult json = run("info --json " + kArtifact);
  ASSERT_EQ(json.status, 0) << json.err;
  EXPECT_EQ(Json::parse(json.out).find("functions")->asArray().size(), 3u);

  for (const char *args : {"--help", "-h", "infer --help", "info -h"}) {
    RunResult help = run(args);
    EXPECT_EQ(help.status, 0) << args;
    EXPECT_EQ(help.out.rfind("usage: msdd-run", 0), 0u) << args;
  }
  RunResult version = run("--version");
  EXPECT_EQ(version.status, 0);
  EXPECT_EQ(version.out, "msdd-run 0.1.0\n");
}
