//===- LowerFlashAttentionToGpu.cpp - msdd.flash_attention -> gpu.launch --===//
//
// The kernel follows FlashAttention-2's loop order: a block owns 64 query rows of one
// (batch, head) and walks over the keys 64 at a time, so the L x L scores of a layer (8 GB
// at the paper's 256 px scale and batch 64) never reach memory. Tensor cores take the two
// products through mma.sync m16n8k16, whose fragment layouts (PTX ISA, "Matrix Fragments
// for mma.m16n8k16") fix which thread holds which element:
//   A (16 x 16, row-major): a0 = (g, 2t..2t+1), a1 = (g+8, 2t..), a2 = (g, 2t+8..), a3 = (g+8, 2t+8..)
//   B (16 x 8, column-major): b0 = (k 2t..2t+1, n g), b1 = (k 2t+8.., n g)
//   C (16 x 8): c0, c1 = (g, 2t..2t+1), c2, c3 = (g+8, 2t..2t+1)
// with g = lane / 4 and t = lane % 4. The score accumulators of two neighbouring 8-key
// tiles are then exactly the A fragment of the 16-key slice of P for the second product,
// so P never leaves registers either.
//
// f32 factors run on TF32 tensor cores through mma.sync m16n8k8, each factor rounded to
// TF32 as it is loaded. Its A fragment is a0 = (g, t), a1 = (g+8, t), a2 = (g, t+4),
// a3 = (g+8, t+4) and B's b0 = (k t, n g), b1 = (k t+4, n g); C is laid out as above. The
// order of a product's k is free, so the P V product takes the 8 keys of a score tile in
// the order 0, 2, 4, 6, 1, 3, 5, 7: its A fragment is then the score accumulators as they
// are (c0, c2, c1, c3), and B reads V at keys 2t and 2t + 1.
//
// With split_factors (3xTF32), K and V are staged as they are, and every factor x (Q, K, V
// and P) is split as it is read into xh = tf32(x) and xl = tf32(x - xh); each product is
// then al bh + ah bl + ah bh on the same fragments, the small terms first.
//
//===----------------------------------------------------------------------===//
#include "msdd/Conversion/Passes.h"
#include "msdd/Conversion/Buffers.h"
#include "msdd/MsddDialect.h"
#include "msdd/Transforms/Rounding.h"

#include <cmath>

namespace mlir::msdd {
#define GEN_PASS_DEF_LOWERFLASHATTENTIONTOGPU
#include "msdd/Conversion/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;
using msdd::rootBuffer;

namespace {

constexpr int64_t kWarp = 32;
/// Query rows per warp (an mma tile's rows); keys per shared-memory tile, at most.
constexpr int64_t kWarpRows = 16, kMaxKeyTile = 64;
/// Words of padding per shared-memory row: rows start 4 banks apart, so the 8 x 4 lanes of
/// a fragment read (f16: rows 8 apart; TF32 K: rows g, columns t; TF32 V: rows 2t,
/// columns g) hit 32 different banks.
constexpr int64_t kPadWords = 4;
/// Statically allocated shared memory per block.
constexpr int64_t kSharedBytes = 48 * 1024;
/// TF32 rounding of an f32's bits (cvt.rna.tf32.f32: to nearest, ties away from zero);
/// the tensor cores ignore the 13 bits below.
constexpr int32_t kTf32Half = 1 << 12, kTf32Mask = ~((1 << 13) - 1);

/// Where the kernel stores the output rows [offset, offset + count): `dest` at the
/// indices `order` picks from (batch, head, row - offset, column), rounded to its element
/// type.
struct OutputSegment {
  Value dest;
  int64_t offset, count;
  SmallVector<unsigned> order;
};

/// Builds the kernel body of one msdd.flash_attention inside its gpu.launch.
class FlashKernelBuilder {
public:
  /// `queryTile`: query rows per block, 64 or 128 (4 or 8 warps).
  FlashKernelBuilder(OpBuilder &b, Location loc, msdd::FlashAttentionOp op,
                     ArrayRef<OutputSegment> outputs, int64_t queryTile)
      : b(b), loc(loc), op(op), outputs(outputs), queryTile(queryTile),
        threads(queryTile / kWarpRows * kWarp) {
    auto shape = [](Value v) { return cast<MemRefType>(v.getType()).getShape(); };
    ArrayRef<int64_t> q = shape(op.getQuery()), k = shape(op.getKey()), v = shape(op.getValue());
    batch = q[0];
    heads = q[1];
    queries = q[2];
    headDim = q[3];
    keys = k[2];
    valueDim = v[3];
    factor = cast<MemRefType>(op.getQuery().getType()).getElementType();
    tf32 = factor.isF32();
    split = op.getSplitFactors();
    keyTile = kMaxKeyTile;
    while (keyTile > 16 && sharedWords() * 4 > kSharedBytes)
      keyTile /= 2;
    f16 = b.getF16Type();
    f32 = b.getF32Type();
    i32 = b.getI32Type();
    i64 = b.getI64Type();
    pair = VectorType::get({2}, f16);
    ptr = LLVM::LLVMPointerType::get(b.getContext());
  }

  /// Shared memory rows of K and V: f16 K as rows of f16 pairs, V transposed (a word
  /// holds two neighbouring keys); TF32 K and V as rows of rounded f32 bits (split factors:
  /// of the f32s).
  std::pair<int64_t, int64_t> kSharedShape() const {
    return {keyTile, (tf32 ? headDim : headDim / 2) + kPadWords};
  }
  std::pair<int64_t, int64_t> vSharedShape() const {
    return tf32 ? std::pair{keyTile, valueDim + kPadWords}
                : std::pair{valueDim, keyTile / 2 + kPadWords};
  }
  /// f16 V is stored transposed: row = value column, a word per key pair. The 8 rows of
  /// value chunk c (a 16-byte load of 8 columns) hold their key pairs at columns XORed with
  /// P c, where a warp's 32 staging lanes cover P = 32 / (valueDim / 8) key pairs x every
  /// chunk (rounded down to a power of two): the words each lane stores then land in 32 different banks (rows are 4 banks
  /// apart, so the rows of the chunks, 8 apart, share one: an 8-way conflict at valueDim 64
  /// without the swizzle). P stays a multiple of 4, so that t < 4 in a fragment read's
  /// column keeps its bits; those reads, by lanes in rows of one chunk, stay conflict-free.
  int64_t vColumnSwizzle(int64_t chunk) const { return (vSwizzleStep() * chunk) & (keyTile / 2 - 1); }
  /// P: a power of two (XOR then keeps columns inside the key tile's) and at least 4.
  int64_t vSwizzleStep() const {
    return std::max<int64_t>(4, llvm::bit_floor(uint64_t(kWarp / (valueDim / 8))));
  }
  int64_t sharedWords() const {
    auto [kr, kc] = kSharedShape();
    auto [vr, vc] = vSharedShape();
    return kr * kc + vr * vc;
  }
  bool fitsSharedMemory() const { return sharedWords() * 4 <= kSharedBytes; }

  gpu::LaunchOp build();

private:
  Value index(int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v); }
  Value f32Const(double v) { return b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(v)); }
  Value add(Value x, Value y) { return b.create<arith::AddIOp>(loc, x, y); }
  Value mul(Value x, Value y) { return b.create<arith::MulIOp>(loc, x, y); }
  Value addc(Value x, int64_t c) { return c ? add(x, index(c)) : x; }
  Value mulc(Value x, int64_t c) { return c == 1 ? x : mul(x, index(c)); }

  /// The buffer's data as an LLVM pointer: 4- and 16-byte loads, which memref loads of f16
  /// cannot express.
  Value basePointer(Value memref) {
    Value address = b.create<memref::ExtractAlignedPointerAsIndexOp>(loc, memref);
    return b.create<LLVM::IntToPtrOp>(loc, ptr, b.create<arith::IndexCastOp>(loc, i64, address));
  }
  /// Loads `type` from factor element `offset` of `base`.
  Value loadAt(Type type, Value base, Value offset, unsigned alignment) {
    Value element = b.create<LLVM::GEPOp>(loc, ptr, factor, base,
                                          ValueRange{b.create<arith::IndexCastOp>(loc, i64, offset)});
    return b.create<LLVM::LoadOp>(loc, type, element, alignment);
  }
  Value asPair(Value word) { return b.create<LLVM::BitcastOp>(loc, pair, word); }
  Value packPair(Value x, Value y) {
    Value v = b.create<LLVM::UndefOp>(loc, pair);
    v = b.create<LLVM::InsertElementOp>(loc, v, b.create<arith::TruncFOp>(loc, f16, x),
                                        b.create<LLVM::ConstantOp>(loc, i32, 0));
    return b.create<LLVM::InsertElementOp>(loc, v, b.create<arith::TruncFOp>(loc, f16, y),
                                           b.create<LLVM::ConstantOp>(loc, i32, 1));
  }
  /// The TF32 bits (i32) of an f32 scalar or vector.
  Value roundToTf32(Value x) {
    Type bits = i32;
    if (auto vector = dyn_cast<VectorType>(x.getType()))
      bits = VectorType::get(vector.getShape(), i32);
    auto constant = [&](int32_t v) -> Value {
      Attribute attr = b.getI32IntegerAttr(v);
      if (auto vector = dyn_cast<VectorType>(bits))
        attr = DenseElementsAttr::get(vector, attr);
      return b.create<arith::ConstantOp>(loc, cast<TypedAttr>(attr));
    };
    Value word = b.create<arith::BitcastOp>(loc, bits, x);
    word = b.create<arith::AddIOp>(loc, word, constant(kTf32Half));
    return b.create<arith::AndIOp>(loc, word, constant(kTf32Mask));
  }
  /// The TF32 bits (i32) of x's high part tf32(x) and of its low part tf32(x - high), for
  /// an f32 or its bits.
  std::pair<Value, Value> splitTf32(Value x) {
    if (x.getType().isInteger(32))
      x = b.create<arith::BitcastOp>(loc, f32, x);
    Value high = roundToTf32(x);
    Value rest = b.create<arith::SubFOp>(loc, x, b.create<arith::BitcastOp>(loc, f32, high));
    return {high, roundToTf32(rest)};
  }
  /// c += a * b on one m16n8k16 (f16) or m16n8k8 (TF32) tile.
  void mma(ArrayRef<Value> a, ArrayRef<Value> bFrag, SmallVectorImpl<Value> &c) {
    auto resultType = LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
    NVVM::MMATypes type = tf32 ? NVVM::MMATypes::tf32 : NVVM::MMATypes::f16;
    Value d = b.create<NVVM::MmaOp>(
        loc, resultType, a, bFrag, c, ArrayRef<int64_t>{16, 8, tf32 ? 8 : 16}, std::nullopt,
        std::nullopt, std::array<NVVM::MMATypes, 2>{type, type},
        std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row, NVVM::MMALayout::col});
    for (int64_t i = 0; i < 4; ++i)
      c[i] = b.create<LLVM::ExtractValueOp>(loc, d, i);
  }
  /// Combines `x` over the 4 lanes of a quad (the threads holding one fragment row).
  template <typename CombineOp> Value quadReduce(Value x) {
    for (int64_t offset : {1, 2}) {
      Value other = b.create<gpu::ShuffleOp>(loc, x, b.create<arith::ConstantIntOp>(loc, offset, 32),
                                             b.create<arith::ConstantIntOp>(loc, kWarp, 32),
                                             gpu::ShuffleMode::XOR)
                        .getShuffleResult();
      x = b.create<CombineOp>(loc, x, other);
    }
    return x;
  }

  void stageKeyTile(Value keyTile, Value keyBase, Value valueBase, Value kShared, Value vShared);
  void stageTf32Rows(Value firstKey, Value base, int64_t width, Value shared);
  /// `body(id)` for id in [0, work), `threads` at a time.
  void forEachWorkItem(int64_t work, function_ref<void(Value)> body);

  OpBuilder &b;
  Location loc;
  msdd::FlashAttentionOp op;
  ArrayRef<OutputSegment> outputs;
  int64_t queryTile, threads;
  int64_t batch, heads, queries, headDim, keys, valueDim, keyTile;
  bool tf32, split;
  Type factor, f16, f32, i32, i64, pair, ptr;
  Value tid, bh, g, t;
};

void FlashKernelBuilder::forEachWorkItem(int64_t work, function_ref<void(Value)> body) {
  for (int64_t i = 0; i * threads < work; ++i) {
    Value id = addc(tid, i * threads);
    OpBuilder::InsertionGuard guard(b);
    if ((i + 1) * threads > work) {
      auto inRange = b.create<scf::IfOp>(
          loc, b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, id, index(work)), false);
      b.setInsertionPointToStart(&inRange.getThenRegion().front());
    }
    body(id);
  }
}

/// `key` clamped to the last of `keys` keys (loads stay in bounds); `valid` says whether
/// it exists.
static Value clampedKey(OpBuilder &b, Location loc, Value key, int64_t keys, Value &valid) {
  Value count = b.create<arith::ConstantIndexOp>(loc, keys);
  valid = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, key, count);
  return b.create<arith::MinUIOp>(loc, key, b.create<arith::ConstantIndexOp>(loc, keys - 1));
}

/// Copies rows [firstKey, + keyTile) of a [keys, width] f32 matrix into `shared` as TF32
/// bits, 16 bytes per thread and step; keys past the end as zeros.
void FlashKernelBuilder::stageTf32Rows(Value firstKey, Value base, int64_t width, Value shared) {
  auto floats4 = VectorType::get({4}, f32);
  Value zero4 = b.create<arith::ConstantOp>(loc, DenseElementsAttr::get(floats4, b.getF32FloatAttr(0)));
  int64_t chunksPerRow = width / 4;
  forEachWorkItem(keyTile * chunksPerRow, [&](Value id) {
    Value row = b.create<arith::DivUIOp>(loc, id, index(chunksPerRow));
    Value chunk = b.create<arith::RemUIOp>(loc, id, index(chunksPerRow));
    Value valid;
    Value key = clampedKey(b, loc, add(firstKey, row), keys, valid);
    Value values = loadAt(floats4, base, add(mulc(key, width), mulc(chunk, 4)), 16);
    values = b.create<arith::SelectOp>(loc, valid, values, zero4);
    // Split factors are split as they are read (both parts would take twice the space).
    Value words = split ? b.create<arith::BitcastOp>(loc, VectorType::get({4}, i32), values)
                        : roundToTf32(values);
    b.create<vector::StoreOp>(loc, words, shared, ValueRange{row, mulc(chunk, 4)});
  });
}

/// Copies keys [keyTile * T, + T) of this (batch, head), T = this->keyTile, into shared
/// memory (see kSharedShape and vSharedShape), keys past the end as zeros.
void FlashKernelBuilder::stageKeyTile(Value tileIndex, Value keyBase, Value valueBase,
                                      Value kShared, Value vShared) {
  Value firstKey = mulc(tileIndex, keyTile);
  if (tf32) {
    stageTf32Rows(firstKey, keyBase, headDim, kShared);
    stageTf32Rows(firstKey, valueBase, valueDim, vShared);
    return;
  }
  // K: keyTile rows of headDim / 8 chunks of 16 bytes.
  auto words4 = VectorType::get({4}, i32);
  Value zero4 = b.create<arith::ConstantOp>(loc, DenseElementsAttr::get(words4, b.getI32IntegerAttr(0)));
  int64_t chunksPerRow = headDim / 8;
  forEachWorkItem(keyTile * chunksPerRow, [&](Value id) {
    Value row = b.create<arith::DivUIOp>(loc, id, index(chunksPerRow));
    Value chunk = b.create<arith::RemUIOp>(loc, id, index(chunksPerRow));
    Value valid;
    Value key = clampedKey(b, loc, add(firstKey, row), keys, valid);
    Value words = loadAt(words4, keyBase, add(mulc(key, headDim), mulc(chunk, 8)), 16);
    words = b.create<arith::SelectOp>(loc, valid, words, zero4);
    b.create<vector::StoreOp>(loc, words, kShared, ValueRange{row, mulc(chunk, 4)});
  });
  // V: pairs of keys x valueDim / 8 chunks; each thread interleaves two keys' chunks into
  // 8 words, one per value column, stored at the key pair's swizzled column (see
  // vColumnSwizzle).
  auto halves8 = VectorType::get({8}, f16);
  Value zero8 = b.create<arith::ConstantOp>(loc, DenseElementsAttr::get(halves8, b.getF16FloatAttr(0)));
  int64_t chunksPerKey = valueDim / 8;
  forEachWorkItem(keyTile / 2 * chunksPerKey, [&](Value id) {
    Value keyPair = b.create<arith::DivUIOp>(loc, id, index(chunksPerKey));
    Value chunk = b.create<arith::RemUIOp>(loc, id, index(chunksPerKey));
    Value rows[2];
    for (int64_t r = 0; r < 2; ++r) {
      Value valid;
      Value key = clampedKey(b, loc, addc(add(firstKey, mulc(keyPair, 2)), r), keys, valid);
      rows[r] = b.create<arith::SelectOp>(
          loc, valid, loadAt(halves8, valueBase, add(mulc(key, valueDim), mulc(chunk, 8)), 16),
          zero8);
    }
    Value interleaved = b.create<vector::ShuffleOp>(
        loc, rows[0], rows[1], ArrayRef<int64_t>{0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15});
    Value words = b.create<LLVM::BitcastOp>(loc, VectorType::get({8}, i32), interleaved);
    Value swizzle = b.create<arith::AndIOp>(loc, mulc(chunk, vSwizzleStep()), index(keyTile / 2 - 1));
    Value column = b.create<arith::XOrIOp>(loc, keyPair, swizzle);
    for (int64_t e = 0; e < 8; ++e)
      b.create<memref::StoreOp>(loc, b.create<vector::ExtractOp>(loc, words, e), vShared,
                                ValueRange{addc(mulc(chunk, 8), e), column});
  });
}

gpu::LaunchOp FlashKernelBuilder::build() {
  MLIRContext *ctx = b.getContext();
  auto workgroup = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto [kRows, kColumns] = kSharedShape();
  auto [vRows, vColumns] = vSharedShape();
  auto kSharedType = MemRefType::get({kRows, kColumns}, i32, nullptr, workgroup);
  auto vSharedType = MemRefType::get({vRows, vColumns}, i32, nullptr, workgroup);
  int64_t queryTiles = (queries + queryTile - 1) / queryTile;
  int64_t keyTiles = (keys + keyTile - 1) / keyTile;
  auto launch = b.create<gpu::LaunchOp>(loc, index(queryTiles), index(batch * heads), index(1),
                                        index(threads), index(1), index(1), nullptr, nullptr,
                                        ValueRange{}, TypeRange{kSharedType, vSharedType});
  b.setInsertionPointToEnd(&launch.getBody().front());
  b.create<gpu::TerminatorOp>(loc);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value kShared = launch.getWorkgroupAttributions()[0];
  Value vShared = launch.getWorkgroupAttributions()[1];

  tid = launch.getThreadIds().x;
  bh = launch.getBlockIds().y;
  Value warp = b.create<arith::DivUIOp>(loc, tid, index(kWarp));
  Value lane = b.create<arith::RemUIOp>(loc, tid, index(kWarp));
  g = b.create<arith::DivUIOp>(loc, lane, index(4));
  t = b.create<arith::RemUIOp>(loc, lane, index(4));
  Value queryBase = basePointer(op.getQuery()), keyBase = basePointer(op.getKey()),
        valueBase = basePointer(op.getValue());
  // This (batch, head)'s rows.
  queryBase = b.create<LLVM::GEPOp>(loc, ptr, factor, queryBase,
                                    ValueRange{b.create<arith::IndexCastOp>(loc, i64, mulc(bh, queries * headDim))});
  keyBase = b.create<LLVM::GEPOp>(loc, ptr, factor, keyBase,
                                  ValueRange{b.create<arith::IndexCastOp>(loc, i64, mulc(bh, keys * headDim))});
  valueBase = b.create<LLVM::GEPOp>(loc, ptr, factor, valueBase,
                                    ValueRange{b.create<arith::IndexCastOp>(loc, i64, mulc(bh, keys * valueDim))});

  // The warp's 16 query rows: this thread holds rows g and g + 8 of them. Rows past the end
  // read the last row and are not stored.
  Value row0 = add(add(mulc(launch.getBlockIds().x, queryTile), mulc(warp, kWarpRows)), g);
  Value row1 = addc(row0, 8);
  Value lastRow = index(queries - 1);
  Value qRow0 = b.create<arith::MinUIOp>(loc, row0, lastRow);
  Value qRow1 = b.create<arith::MinUIOp>(loc, row1, lastRow);
  Value twoT = mulc(t, 2);
  // One A fragment per k slice of the head dimension (16 columns for f16, 8 for TF32).
  int64_t slice = tf32 ? 8 : 16;
  // With split factors, queryLowFrags holds the low parts.
  SmallVector<SmallVector<Value, 4>> queryFrags, queryLowFrags;
  for (int64_t c = 0; c < headDim / slice; ++c) {
    if (tf32) {
      SmallVector<Value, 4> high, low;
      for (auto [row, col] : {std::pair{qRow0, 0}, {qRow1, 0}, {qRow0, 4}, {qRow1, 4}}) {
        Value x = loadAt(f32, queryBase, add(mulc(row, headDim), addc(t, 8 * c + col)), 4);
        if (split) {
          auto [h, l] = splitTf32(x);
          high.push_back(h);
          low.push_back(l);
        } else {
          high.push_back(roundToTf32(x));
        }
      }
      queryFrags.push_back(high);
      queryLowFrags.push_back(low);
      continue;
    }
    auto load = [&](Value row, int64_t col) {
      return asPair(loadAt(i32, queryBase, add(mulc(row, headDim), addc(twoT, 16 * c + col)), 4));
    };
    queryFrags.push_back({load(qRow0, 0), load(qRow1, 0), load(qRow0, 8), load(qRow1, 8)});
  }

  // Loop state: the output accumulators (valueDim / 8 tiles of 4), then per row (g, g + 8)
  // the running maximum of the base-2 scores and this thread's part of the running sum.
  int64_t outTiles = valueDim / 8;
  SmallVector<Value> init(outTiles * 4, f32Const(0));
  init.append({f32Const(-INFINITY), f32Const(-INFINITY), f32Const(0), f32Const(0)});
  auto loop = b.create<scf::ForOp>(loc, index(0), index(keyTiles), index(1), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    ValueRange state = loop.getRegionIterArgs();
    Value tileIndex = loop.getInductionVar();
    b.create<gpu::BarrierOp>(loc); // the previous tile's readers are done
    stageKeyTile(tileIndex, keyBase, valueBase, kShared, vShared);
    b.create<gpu::BarrierOp>(loc);

    // S = Q K^T, in base-2 units: scale * log2(e) folded in.
    int64_t scoreTiles = keyTile / 8;
    Value scale = f32Const(op.getScale().convertToDouble() / std::log(2.0));
    SmallVector<SmallVector<Value>> s(scoreTiles);
    for (int64_t n = 0; n < scoreTiles; ++n) {
      s[n].assign(4, f32Const(0));
      Value kRow = addc(g, n * 8);
      // A word is an f16 pair (k = 2t, 2t + 1 and + 8) or one TF32 (k = t and t + 4).
      for (int64_t c = 0; c < headDim / slice; ++c) {
        Value b0 = b.create<memref::LoadOp>(loc, kShared, ValueRange{kRow, addc(t, 8 * c)});
        Value b1 = b.create<memref::LoadOp>(loc, kShared, ValueRange{kRow, addc(t, 8 * c + 4)});
        if (split) {
          auto [b0h, b0l] = splitTf32(b0);
          auto [b1h, b1l] = splitTf32(b1);
          mma(queryLowFrags[c], {b0h, b1h}, s[n]);
          mma(queryFrags[c], {b0l, b1l}, s[n]);
          b0 = b0h;
          b1 = b1h;
        } else if (!tf32) {
          b0 = asPair(b0);
          b1 = asPair(b1);
        }
        mma(queryFrags[c], {b0, b1}, s[n]);
      }
      for (int64_t i = 0; i < 4; ++i)
        s[n][i] = b.create<arith::MulFOp>(loc, s[n][i], scale);
      if (keys % keyTile != 0) {
        // Keys past the end weigh nothing.
        Value key = add(mulc(tileIndex, keyTile), addc(twoT, n * 8));
        for (int64_t i = 0; i < 4; ++i) {
          Value valid = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, addc(key, i % 2),
                                                index(keys));
          s[n][i] = b.create<arith::SelectOp>(loc, valid, s[n][i], f32Const(-INFINITY));
        }
      }
    }
    // Online softmax per row r in {g, g + 8}: its elements are i = 2r', 2r' + 1.
    SmallVector<Value> results(state.begin(), state.begin() + outTiles * 4);
    SmallVector<Value> newMax(2), newSum(2);
    for (int64_t r = 0; r < 2; ++r) {
      Value tileMax = s[0][2 * r];
      for (int64_t n = 0; n < scoreTiles; ++n)
        for (int64_t i = 2 * r; i < 2 * r + 2; ++i)
          if (n || i != 2 * r)
            tileMax = b.create<arith::MaximumFOp>(loc, tileMax, s[n][i]);
      tileMax = quadReduce<arith::MaximumFOp>(tileMax);
      Value oldMax = state[outTiles * 4 + r];
      newMax[r] = b.create<arith::MaximumFOp>(loc, oldMax, tileMax);
      Value correction = b.create<math::Exp2Op>(loc, b.create<arith::SubFOp>(loc, oldMax, newMax[r]));
      Value sum = b.create<arith::MulFOp>(loc, state[outTiles * 4 + 2 + r], correction);
      for (int64_t n = 0; n < scoreTiles; ++n)
        for (int64_t i = 2 * r; i < 2 * r + 2; ++i) {
          s[n][i] = b.create<math::Exp2Op>(loc, b.create<arith::SubFOp>(loc, s[n][i], newMax[r]));
          sum = b.create<arith::AddFOp>(loc, sum, s[n][i]);
        }
      newSum[r] = sum;
      for (int64_t o = 0; o < outTiles; ++o)
        for (int64_t i = 2 * r; i < 2 * r + 2; ++i)
          results[o * 4 + i] = b.create<arith::MulFOp>(loc, results[o * 4 + i], correction);
    }
    // O += P V, P's A fragments straight from the score accumulators.
    if (tf32)
      for (int64_t kc = 0; kc < scoreTiles; ++kc) {
        const SmallVector<Value> &p = s[kc];
        SmallVector<Value, 4> pFrag, pLowFrag;
        for (int64_t i : {0, 2, 1, 3}) {
          if (split) {
            auto [h, l] = splitTf32(p[i]);
            pFrag.push_back(h);
            pLowFrag.push_back(l);
          } else {
            pFrag.push_back(roundToTf32(p[i]));
          }
        }
        Value key0 = addc(twoT, 8 * kc), key1 = addc(key0, 1);
        for (int64_t o = 0; o < outTiles; ++o) {
          Value column = addc(g, o * 8);
          Value b0 = b.create<memref::LoadOp>(loc, vShared, ValueRange{key0, column});
          Value b1 = b.create<memref::LoadOp>(loc, vShared, ValueRange{key1, column});
          SmallVector<Value> acc(results.begin() + o * 4, results.begin() + o * 4 + 4);
          if (split) {
            auto [b0h, b0l] = splitTf32(b0);
            auto [b1h, b1l] = splitTf32(b1);
            mma(pLowFrag, {b0h, b1h}, acc);
            mma(pFrag, {b0l, b1l}, acc);
            b0 = b0h;
            b1 = b1h;
          }
          mma(pFrag, {b0, b1}, acc);
          std::copy(acc.begin(), acc.end(), results.begin() + o * 4);
        }
      }
    for (int64_t kc = 0; !tf32 && kc < keyTile / 16; ++kc) {
      const SmallVector<Value> &lo = s[2 * kc], &hi = s[2 * kc + 1];
      SmallVector<Value, 4> pFrag{packPair(lo[0], lo[1]), packPair(lo[2], lo[3]),
                                  packPair(hi[0], hi[1]), packPair(hi[2], hi[3])};
      for (int64_t o = 0; o < outTiles; ++o) {
        // Rows g + 8o hold value columns of chunk o; t < 4 leaves the swizzle's bits alone.
        Value vRow = addc(g, o * 8);
        int64_t swizzle = vColumnSwizzle(o);
        Value b0 = b.create<memref::LoadOp>(loc, vShared, ValueRange{vRow, addc(t, (8 * kc) ^ swizzle)});
        Value b1 = b.create<memref::LoadOp>(loc, vShared,
                                            ValueRange{vRow, addc(t, (8 * kc + 4) ^ swizzle)});
        SmallVector<Value> acc(results.begin() + o * 4, results.begin() + o * 4 + 4);
        mma(pFrag, {asPair(b0), asPair(b1)}, acc);
        std::copy(acc.begin(), acc.end(), results.begin() + o * 4);
      }
    }
    results.append(newMax);
    results.append(newSum);
    b.create<scf::YieldOp>(loc, results);
  }

  // out[row] = O[row] / sum[row], for the rows that exist.
  Value one = f32Const(1);
  Value bIndex = b.create<arith::DivUIOp>(loc, bh, index(heads));
  Value hIndex = b.create<arith::RemUIOp>(loc, bh, index(heads));
  for (int64_t r = 0; r < 2; ++r) {
    Value sum = quadReduce<arith::AddFOp>(loop.getResult(outTiles * 4 + 2 + r));
    Value inverse = b.create<arith::DivFOp>(loc, one, sum);
    Value row = r ? row1 : row0;
    SmallVector<Value> values;
    for (int64_t o = 0; o < outTiles; ++o)
      for (int64_t i = 0; i < 2; ++i)
        values.push_back(b.create<arith::MulFOp>(loc, loop.getResult(o * 4 + 2 * r + i), inverse));
    for (const OutputSegment &segment : outputs) {
      OpBuilder::InsertionGuard guard(b);
      // Rows past the end (or outside the segment) are not stored.
      Value inside;
      if (segment.offset > 0)
        inside = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::uge, row, index(segment.offset));
      if (segment.offset + segment.count < queryTile * ((queries + queryTile - 1) / queryTile)) {
        Value below = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, row,
                                              index(segment.offset + segment.count));
        inside = inside ? b.create<arith::AndIOp>(loc, inside, below).getResult() : below;
      }
      if (inside) {
        auto exists = b.create<scf::IfOp>(loc, inside, /*withElseRegion=*/false);
        b.setInsertionPointToStart(&exists.getThenRegion().front());
      }
      Type element = cast<MemRefType>(segment.dest.getType()).getElementType();
      Value segmentRow = segment.offset ? b.create<arith::SubIOp>(loc, row, index(segment.offset))
                                        : row;
      for (int64_t o = 0; o < outTiles; ++o)
        for (int64_t i = 0; i < 2; ++i) {
          Value value = values[o * 2 + i];
          if (element != f32)
            value = b.create<arith::TruncFOp>(loc, element, value);
          Value point[] = {bIndex, hIndex, segmentRow, addc(twoT, o * 8 + i)};
          SmallVector<Value> indices;
          for (unsigned dim : segment.order)
            indices.push_back(point[dim]);
          b.create<memref::StoreOp>(loc, value, segment.dest, indices);
        }
    }
  }
  return launch;
}

/// The readers of what `op` writes, when every one only rounds (and transposes) a slice of
/// rows into a fresh buffer: the kernel then stores each slice there itself, rounded, and
/// the f32 output is never stored. The readers are the ops after `op` up to the next write
/// of its output (bufferization reuses one output buffer for the attention of every
/// layer). Returns no segments when some other op reads the output there. `readers` gets
/// the rounding ops, which become dead.
SmallVector<OutputSegment> roundingReaders(msdd::FlashAttentionOp op,
                                           SmallVectorImpl<Operation *> &readers) {
  Value output = op.getInit();
  ArrayRef<int64_t> shape = cast<MemRefType>(output.getType()).getShape();
  SmallVector<OutputSegment> segments;
  SmallVector<Operation *> found;
  for (Operation *next = op->getNextNode(); next; next = next->getNextNode()) {
    if (auto flash = dyn_cast<msdd::FlashAttentionOp>(next); flash && flash.getInit() == output)
      break; // the next layer overwrites it
    if (isa<memref::DeallocOp, gpu::DeallocOp>(next) && next->getOperand(0) == output)
      break;
    if (isa<memref::SubViewOp>(next))
      continue; // a view is not a read
    if (!msdd::touchesBuffer(next, output))
      continue;
    auto reader = dyn_cast<linalg::GenericOp>(next);
    if (!reader || !msdd::isTruncation(reader) || !reader.hasPureBufferSemantics())
      return {};
    // All of the output, or whole rows [offset, offset + count) of every (batch, head).
    Value read = reader.getDpsInputs().front();
    SmallVector<int64_t> offsets(4, 0), sizes(shape);
    if (read != output) {
      auto view = read.getDefiningOp<memref::SubViewOp>();
      if (!view || view.getSource() != output || !view.hasUnitStride() ||
          cast<MemRefType>(view.getType()).getRank() != 4)
        return {};
      offsets.assign(view.getStaticOffsets().begin(), view.getStaticOffsets().end());
      sizes.assign(view.getStaticSizes().begin(), view.getStaticSizes().end());
      if (ShapedType::isDynamicShape(offsets) || ShapedType::isDynamicShape(sizes) ||
          offsets[0] || offsets[1] || offsets[3] || sizes[0] != shape[0] ||
          sizes[1] != shape[1] || sizes[3] != shape[3])
        return {};
    }
    AffineMap in = reader.getMatchingIndexingMap(reader.getDpsInputOperand(0));
    AffineMap out = reader.getMatchingIndexingMap(reader.getDpsInitOperand(0));
    if (!in.isPermutation() || !out.isPermutation())
      return {};
    // The destination: a buffer that nothing touches between the kernel and the reader (it
    // may hold an earlier layer's rows before); one allocated after the kernel must be an
    // allocation that can move up.
    Value dest = reader.getDpsInits().front();
    Operation *destDef = dest.getDefiningOp();
    if (destDef && destDef->getBlock() == op->getBlock() && op->isBeforeInBlock(destDef) &&
        (!isa<memref::AllocOp, gpu::AllocOp>(destDef) || destDef->getNumOperands()))
      return {};
    // The kernel writes it while other blocks read the factors.
    for (Value factor : {op.getQuery(), op.getKey(), op.getValue()})
      if (rootBuffer(factor) == rootBuffer(dest))
        return {};
    for (Operation *between = op->getNextNode(); between != reader;
         between = between->getNextNode())
      if (msdd::touchesBuffer(between, rootBuffer(dest)))
        return {};
    // dest[out(ivs)] = view[in(ivs)]: the output point (b, h, r, c) lands at out(in^-1(.)).
    AffineMap toDest = out.compose(inversePermutation(in));
    OutputSegment segment{dest, offsets[2], sizes[2], {}};
    for (AffineExpr e : toDest.getResults())
      segment.order.push_back(cast<AffineDimExpr>(e).getPosition());
    for (const OutputSegment &other : segments)
      if (segment.offset < other.offset + other.count &&
          other.offset < segment.offset + segment.count)
        return {};
    segments.push_back(segment);
    found.push_back(reader);
  }
  // The destinations exist before the kernel.
  for (const OutputSegment &segment : segments)
    if (Operation *def = segment.dest.getDefiningOp();
        def && def->getBlock() == op->getBlock() && op->isBeforeInBlock(def))
      def->moveBefore(op);
  llvm::append_range(readers, found);
  return segments;
}

/// f16 factors: 128 query rows per block unless that pads more rows than 64 would (short
/// sequences). The f16 kernel takes at most 128 registers a thread (ptxas, sm_90), so two
/// 8-warp blocks fit an SM: as many warps as four 4-warp blocks, each staged tile feeding
/// twice the rows. TF32 kernels take 130-200 registers; 8-warp blocks would leave one per SM.
int64_t defaultQueryTile(msdd::FlashAttentionOp op) {
  if (!cast<MemRefType>(op.getQuery().getType()).getElementType().isF16())
    return 64;
  int64_t queries = cast<MemRefType>(op.getQuery().getType()).getShape()[2];
  auto padded = [&](int64_t tile) { return (queries + tile - 1) / tile * tile; };
  return padded(128) == padded(64) ? 128 : 64;
}

/// Erases `buffer` when what is left of it is views nobody reads and deallocations.
void eraseIfUnread(Value buffer) {
  Operation *alloc = buffer.getDefiningOp();
  if (!isa_and_nonnull<memref::AllocOp, gpu::AllocOp>(alloc))
    return;
  SmallVector<Operation *> users(buffer.getUsers());
  for (Operation *user : users)
    if (auto view = dyn_cast<memref::SubViewOp>(user); view && view->use_empty())
      view->erase();
  if (!llvm::all_of(buffer.getUsers(),
                    [](Operation *user) { return isa<memref::DeallocOp, gpu::DeallocOp>(user); }))
    return;
  users.assign(buffer.getUsers().begin(), buffer.getUsers().end());
  for (Operation *user : users)
    user->erase();
  alloc->erase();
}

struct LowerFlashAttentionToGpuPass
    : msdd::impl::LowerFlashAttentionToGpuBase<LowerFlashAttentionToGpuPass> {
  using Base::Base;

  void runOnOperation() override {
    if (queryTile != 0 && queryTile != 64 && queryTile != 128) {
      getOperation().emitError() << "query-tile must be 0, 64 or 128, not " << queryTile.getValue();
      return signalPassFailure();
    }
    SmallVector<msdd::FlashAttentionOp> ops;
    getOperation().walk([&](msdd::FlashAttentionOp op) { ops.push_back(op); });
    for (msdd::FlashAttentionOp op : ops) {
      if (op.getNumResults())
        return signalPassFailure(), (void)op.emitOpError("is not bufferized");
      for (Value operand : op->getOperands())
        if (!cast<MemRefType>(operand.getType()).getLayout().isIdentity()) {
          op.emitOpError("needs identity-layout buffers");
          return signalPassFailure();
        }
      OpBuilder b(op);
      auto q = cast<MemRefType>(op.getQuery().getType()).getShape();
      std::string name = "flash_attention_" + std::to_string(q[0]) + "x" + std::to_string(q[1]) +
                         "x" + std::to_string(q[2]) + "x" +
                         std::to_string(cast<MemRefType>(op.getKey().getType()).getShape()[2]) +
                         "x" + std::to_string(q[3]);
      Location loc = NameLoc::get(b.getStringAttr(name), op.getLoc());
      SmallVector<Operation *> readers;
      SmallVector<OutputSegment> outputs = roundingReaders(op, readers);
      if (outputs.empty())
        outputs.push_back({op.getInit(), 0, q[2], {0, 1, 2, 3}});
      FlashKernelBuilder builder(b, loc, op, outputs, queryTile ? queryTile : defaultQueryTile(op));
      if (!builder.fitsSharedMemory()) {
        op.emitOpError() << "has key tiles that do not fit in " << kSharedBytes
                         << " bytes of shared memory (head dimension " << q[3]
                         << ", value dimension "
                         << cast<MemRefType>(op.getValue().getType()).getShape()[3] << ")";
        return signalPassFailure();
      }
      builder.build();
      Value output = op.getInit();
      op.erase();
      for (Operation *reader : readers)
        reader->erase();
      eraseIfUnread(output);
    }
  }
};

} // namespace
