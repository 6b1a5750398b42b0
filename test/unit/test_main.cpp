//===- test_main.cpp - main() of the GoogleTest binaries that compile IR ---===//
#include "msdd/InitAll.h"

#include "mlir/InitAllPasses.h"

#include <gtest/gtest.h>

// The pipelines are built from pass-pipeline text, so every pass must be registered first.
int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  mlir::registerAllPasses();
  mlir::msdd::registerAllPasses();
  return RUN_ALL_TESTS();
}
