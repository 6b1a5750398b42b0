//===- Passes.td - MSDD transformation passes --------------*- tablegen -*-===//
#ifndef MSDD_TRANSFORMS_PASSES
#define MSDD_TRANSFORMS_PASSES

include "mlir/Pass/PassBase.td"

def TileParallelDims : Pass<"msdd-tile-parallel-dims", "func::FuncOp"> {
  let summary = "Tile the outer parallel dimensions of linalg ops into scf.forall";
  let description = [{
    Target-neutral work distribution: every linalg op (matrix products excepted, which a
    library call handles whole) is tiled along its outermost parallel dimensions so that it
    has at least `min-tiles` tiles where its shape allows. The CPU pipeline maps the resulting
    loops onto a thread pool, the GPU pipeline onto blocks.
  }];
  let options = [
    Option<"minTiles", "min-tiles", "int64_t", /*default=*/"64",
           "Number of tiles to aim for (a few per hardware thread)">,
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::linalg::LinalgDialect",
                           "::mlir::affine::AffineDialect"];
}

def FuseElementwise : Pass<"msdd-fuse-elementwise", "func::FuncOp"> {
  let summary = "Fuse producer-consumer chains of elementwise linalg.generic ops";
  let description = [{
    Upstream elementwise fusion, without the reshape propagation of
    `linalg-fuse-elementwise-ops`: that would rewrite named contractions into generic ones
    and hide them from the library-call and tensor-core paths. A producer is fused into its
    consumer when the consumer is its only user, so no work is duplicated.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::affine::AffineDialect"];
}

#endif // MSDD_TRANSFORMS_PASSES
