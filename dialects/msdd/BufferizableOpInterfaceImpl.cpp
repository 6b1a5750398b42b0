//===- BufferizableOpInterfaceImpl.cpp - bufferization of msdd DPS ops ----===//
//
// msdd.flash_attention is destination-style: on memrefs it writes its init buffer in place,
// which one-shot bufferization gives it like any linalg op.
//
//===----------------------------------------------------------------------===//
#include "msdd/MsddDialect.h"

#include "mlir/Dialect/Bufferization/IR/DstBufferizableOpInterfaceImpl.h"

using namespace mlir;
using namespace mlir::bufferization;

namespace {

struct FlashAttentionOpInterface
    : DstBufferizableOpInterfaceExternalModel<FlashAttentionOpInterface, msdd::FlashAttentionOp> {
  // The kernel overwrites every element of init: its old contents are never read.
  bool bufferizesToMemoryRead(Operation *op, OpOperand &operand, const AnalysisState &) const {
    return !cast<DestinationStyleOpInterface>(op).isDpsInit(&operand);
  }

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options) const {
    auto attention = cast<msdd::FlashAttentionOp>(op);
    SmallVector<Value> buffers;
    for (Value operand : op->getOperands()) {
      FailureOr<Value> buffer = getBuffer(rewriter, operand, options);
      if (failed(buffer))
        return failure();
      buffers.push_back(*buffer);
    }
    rewriter.create<msdd::FlashAttentionOp>(op->getLoc(), TypeRange{}, buffers[0], buffers[1],
                                            buffers[2], buffers[3], attention.getScaleAttr(),
                                            attention.getSplitFactorsAttr());
    replaceOpWithBufferizedValues(rewriter, op, buffers[3]);
    return success();
  }
};

} // namespace

void mlir::msdd::registerBufferizableOpInterfaceExternalModels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, MsddDialect *) {
    FlashAttentionOp::attachInterface<FlashAttentionOpInterface>(*ctx);
  });
}
