//===- CudaEmulator.cpp - Runs the CUDA pipeline's kernels on the CPU -------===//
//
// The module is prepared into a tree of instructions per function: every SSA value gets a
// slot in its function's frame and every operation a decoded kind, so running an operation
// is a switch, not a lookup. A kernel launch runs its blocks one after another; a block's
// threads run one after another too, except in kernels with collective operations, where each
// thread is a fiber that yields at a collective until its warp or block has
// arrived there.
//
//===----------------------------------------------------------------------===//
#include "msdd/Emulation/CudaEmulator.h"

#include "msdd/Runtime/Cuda.h"
#include "msdd/Runtime/Error.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/raw_ostream.h"

#include <array>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <tuple>
#include <unordered_map>
#if !defined(__x86_64__)
#include <ucontext.h>
#endif

using namespace mlir;
using ::msdd::rt::Error;
namespace rt = ::msdd::rt;

namespace msdd::emulation {
namespace {

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

/// A strided view of memory: the aligned pointer, offset and strides in elements.
struct View {
  char *base = nullptr;
  int64_t offset = 0;
  unsigned elementBytes = 4;
  SmallVector<int64_t, 4> sizes, strides;
};

/// A runtime value: integers (zero-extended to 64 bits), pointers and tokens in `i`; floats
/// in `f`, already rounded to their type; memrefs in `view`; vectors and LLVM structs in
/// `elements`.
struct Datum {
  int64_t i = 0;
  double f = 0;
  std::shared_ptr<View> view;
  std::shared_ptr<std::vector<Datum>> elements;
};

enum class Scalar : uint8_t { Int, F16, BF16, F32, F64, Other };

struct ScalarType {
  Scalar kind = Scalar::Other;
  unsigned width = 0; // bits of an Int (index: 64)
};

ScalarType scalarType(Type type) {
  type = getElementTypeOrSelf(type);
  if (type.isIndex())
    return {Scalar::Int, 64};
  if (auto integer = dyn_cast<IntegerType>(type))
    return {Scalar::Int, integer.getWidth()};
  if (type.isF16())
    return {Scalar::F16, 16};
  if (type.isBF16())
    return {Scalar::BF16, 16};
  if (type.isF32())
    return {Scalar::F32, 32};
  if (type.isF64())
    return {Scalar::F64, 64};
  if (isa<LLVM::LLVMPointerType>(type))
    return {Scalar::Int, 64};
  return {};
}

bool isFloat(ScalarType t) { return t.kind != Scalar::Int && t.kind != Scalar::Other; }

int64_t truncate(int64_t v, unsigned width) {
  return width >= 64 ? v : static_cast<int64_t>(static_cast<uint64_t>(v) & ((uint64_t(1) << width) - 1));
}

int64_t signExtend(int64_t v, unsigned width) {
  if (width >= 64)
    return v;
  unsigned shift = 64 - width;
  return static_cast<int64_t>(static_cast<uint64_t>(v) << shift) >> shift;
}

uint16_t floatToBf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if (std::isnan(x))
    return 0x7FC0;
  u += 0x7FFF + ((u >> 16) & 1); // round to nearest even
  return static_cast<uint16_t>(u >> 16);
}

float bf16ToFloat(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

/// TF32 keeps 10 of float's 23 mantissa bits (rounded to nearest even).
float roundTf32(float x) {
  if (!std::isfinite(x))
    return x;
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0xFFF + ((u >> 13) & 1);
  u &= ~0x1FFFu;
  std::memcpy(&x, &u, 4);
  return x;
}

double roundTo(Scalar kind, double x) {
  switch (kind) {
  case Scalar::F16:
    return static_cast<double>(static_cast<_Float16>(x));
  case Scalar::BF16:
    return bf16ToFloat(floatToBf16(static_cast<float>(x)));
  case Scalar::F32:
    return static_cast<float>(x);
  default:
    return x;
  }
}

unsigned byteSize(Type type) {
  if (auto vector = dyn_cast<VectorType>(type))
    return vector.getNumElements() * byteSize(vector.getElementType());
  ScalarType t = scalarType(type);
  if (t.kind == Scalar::Other)
    return 0;
  return (t.width + 7) / 8;
}

Datum loadScalar(ScalarType t, const char *p) {
  Datum d;
  switch (t.kind) {
  case Scalar::F16: {
    _Float16 h;
    std::memcpy(&h, p, 2);
    d.f = static_cast<double>(h);
    break;
  }
  case Scalar::BF16: {
    uint16_t b;
    std::memcpy(&b, p, 2);
    d.f = bf16ToFloat(b);
    break;
  }
  case Scalar::F32: {
    float x;
    std::memcpy(&x, p, 4);
    d.f = x;
    break;
  }
  case Scalar::F64:
    std::memcpy(&d.f, p, 8);
    break;
  case Scalar::Int: {
    uint64_t v = 0;
    std::memcpy(&v, p, (t.width + 7) / 8);
    d.i = truncate(static_cast<int64_t>(v), t.width);
    break;
  }
  case Scalar::Other:
    break;
  }
  return d;
}

void storeScalar(ScalarType t, const Datum &d, char *p) {
  switch (t.kind) {
  case Scalar::F16: {
    _Float16 h = static_cast<_Float16>(d.f);
    std::memcpy(p, &h, 2);
    break;
  }
  case Scalar::BF16: {
    uint16_t b = floatToBf16(static_cast<float>(d.f));
    std::memcpy(p, &b, 2);
    break;
  }
  case Scalar::F32: {
    float x = static_cast<float>(d.f);
    std::memcpy(p, &x, 4);
    break;
  }
  case Scalar::F64:
    std::memcpy(p, &d.f, 8);
    break;
  case Scalar::Int:
    std::memcpy(p, &d.i, (t.width + 7) / 8);
    break;
  case Scalar::Other:
    break;
  }
}

Datum loadValue(Type type, const char *p) {
  if (auto vector = dyn_cast<VectorType>(type)) {
    ScalarType e = scalarType(vector.getElementType());
    unsigned bytes = (e.width + 7) / 8;
    Datum d;
    d.elements = std::make_shared<std::vector<Datum>>();
    for (int64_t k = 0; k < vector.getNumElements(); ++k)
      d.elements->push_back(loadScalar(e, p + k * bytes));
    return d;
  }
  return loadScalar(scalarType(type), p);
}

void storeValue(Type type, const Datum &d, char *p) {
  if (auto vector = dyn_cast<VectorType>(type)) {
    ScalarType e = scalarType(vector.getElementType());
    unsigned bytes = (e.width + 7) / 8;
    for (int64_t k = 0; k < vector.getNumElements(); ++k)
      storeScalar(e, (*d.elements)[k], p + k * bytes);
    return;
  }
  storeScalar(scalarType(type), d, p);
}

Datum aggregate(size_t n) {
  Datum d;
  d.elements = std::make_shared<std::vector<Datum>>(n);
  return d;
}

//===----------------------------------------------------------------------===//
// Fiber contexts
//===----------------------------------------------------------------------===//

#if defined(__x86_64__)
// A switch pushes the callee-saved registers and the floating-point control words, stores
// the stack pointer in *save and pops the same from `resume`'s stack. glibc's swapcontext
// also saves the signal mask, with a system call that took a third of the run time.
extern "C" void msdd_emulation_switch(void **save, void *resume);
asm(R"(
  .text
  .globl msdd_emulation_switch
  .type msdd_emulation_switch, @function
msdd_emulation_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size msdd_emulation_switch, .-msdd_emulation_switch
)");

struct Context {
  void *sp = nullptr;
};

/// Prepares `context` to run `entry` (which must never return) on `stack`.
void startContext(Context &context, std::vector<char> &stack, void (*entry)()) {
  uintptr_t top = (reinterpret_cast<uintptr_t>(stack.data()) + stack.size()) & ~uintptr_t(15);
  auto *slots = reinterpret_cast<uint64_t *>(top);
  slots[-1] = 0;                                     // entry's (unused) return address
  slots[-2] = reinterpret_cast<uint64_t>(entry);     // where the first switch returns to
  for (int k = 3; k <= 8; ++k)
    slots[-k] = 0;                                   // rbp, rbx, r12-r15
  uint32_t mxcsr;
  uint16_t fpucw;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpucw));
  auto *controls = reinterpret_cast<char *>(&slots[-9]);
  std::memcpy(controls, &mxcsr, 4);
  std::memcpy(controls + 4, &fpucw, 2);
  context.sp = &slots[-9];
}

void switchContext(Context &from, Context &to) { msdd_emulation_switch(&from.sp, to.sp); }
#else
struct Context {
  ucontext_t context;
};

void startContext(Context &context, std::vector<char> &stack, void (*entry)()) {
  getcontext(&context.context);
  context.context.uc_stack.ss_sp = stack.data();
  context.context.uc_stack.ss_size = stack.size();
  context.context.uc_link = nullptr;
  makecontext(&context.context, entry, 0);
}

void switchContext(Context &from, Context &to) { swapcontext(&from.context, &to.context); }
#endif

//===----------------------------------------------------------------------===//
// Prepared code
//===----------------------------------------------------------------------===//

enum class Kind : uint16_t {
  Constant, AddI, SubI, MulI, DivUI, DivSI, RemUI, RemSI, AndI, OrI, XOrI, ShLI, ShRUI, ShRSI,
  MinUI, MinSI, MaxUI, MaxSI, CmpI, CmpF, Select, IndexCast, IndexCastUI, ExtUI, ExtSI, TruncI,
  SIToFP, UIToFP, FPToSI, FPToUI, ExtF, TruncF, AddF, SubF, MulF, DivF, NegF, MaximumF,
  MinimumF, MaxNumF, MinNumF, MulUIExtended, Bitcast, Exp, Exp2, Log, Log2, Log1p, ExpM1, Sqrt,
  Rsqrt, Sin, Cos, Tanh, Erf, AbsF, Floor, Ceil, Fma, PowF, AffineApply,
  For, If, Parallel, Yield, Call, Return,
  Load, Store, VectorStore, Alloc, Dealloc, SubView, Cast, ExpandShape, CollapseShape, AlignedPointer,
  StridedMetadata, GetGlobal, Dim, Transpose, Copy,
  GpuAlloc, GpuDealloc, Memcpy, Wait, Launch, ThreadId, BlockId, BlockDim, GridDim, LaneId,
  Shuffle, Barrier, GpuReturn,
  Gep, LlvmLoad, LlvmStore, IntToPtr, PtrToInt, ExtractValue, InsertValue, InsertElement,
  ExtractElement, Undef, VectorExtract, Interleave, Broadcast, Mma,
};

struct Function;
struct Kernel;
struct Code;

struct Instr {
  Operation *op = nullptr;
  Kind kind = Kind::Constant;
  bool vector = false;     // elementwise over vector operands
  ScalarType type;         // of the (first) result's elements
  ScalarType source;       // of the first operand's elements
  int64_t aux = 0;         // predicate, dimension, shuffle mode, ...
  SmallVector<unsigned, 4> in, out;
  std::vector<std::unique_ptr<Code>> regions;
  SmallVector<int64_t, 4> ints; // static positions, dropped dimensions, ...
  Datum constant;
  Function *callee = nullptr;
  Kernel *kernel = nullptr;
  std::string name; // runtime function
};

struct Code {
  SmallVector<unsigned, 4> arguments;
  std::deque<Instr> instrs; // a deque: Instr is move-only
};

struct Function {
  Operation *op = nullptr;
  std::string name;
  unsigned slots = 0;
  Code body;
};

struct Kernel {
  gpu::GPUFuncOp op;
  Function function;
  bool collective = false; // holds shuffles, barriers or mma.sync
  unsigned numArguments = 0;
  SmallVector<MemRefType> workgroup, privates;
  std::optional<SmallVector<int64_t, 3>> knownBlock;
};

/// Per-thread state while a kernel runs.
struct ThreadContext {
  int64_t thread[3] = {0, 0, 0}, block[3] = {0, 0, 0};
  int64_t blockDim[3] = {1, 1, 1}, gridDim[3] = {1, 1, 1};
  int64_t linear = 0; // thread index within the block
  const Kernel *kernel = nullptr;
};

/// Where a fiber stopped.
enum class FiberState { Ready, AtWarp, AtBarrier, Done, Failed };

struct Fiber {
  Context context;
  std::vector<char> stack;
  FiberState state = FiberState::Ready;
  const Instr *at = nullptr;
  SmallVector<Datum, 12> arguments;
  SmallVector<Datum, 2> results;
  std::vector<Datum> frame;
  ThreadContext thread;
  std::string error;
};

std::string describe(Operation *op) {
  // Names the operation and where it came from.
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "'" << op->getName().getStringRef() << "'";
  if (auto loc = dyn_cast<FileLineColLoc>(op->getLoc()))
    os << " at " << loc.getFilename().getValue() << ":" << loc.getLine();
  return os.str();
}

std::string describeType(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return os.str();
}

int64_t evalAffine(AffineExpr expr, ArrayRef<int64_t> dims, ArrayRef<int64_t> symbols) {
  switch (expr.getKind()) {
  case AffineExprKind::Constant:
    return cast<AffineConstantExpr>(expr).getValue();
  case AffineExprKind::DimId:
    return dims[cast<AffineDimExpr>(expr).getPosition()];
  case AffineExprKind::SymbolId:
    return symbols[cast<AffineSymbolExpr>(expr).getPosition()];
  default:
    break;
  }
  auto binary = cast<AffineBinaryOpExpr>(expr);
  int64_t l = evalAffine(binary.getLHS(), dims, symbols);
  int64_t r = evalAffine(binary.getRHS(), dims, symbols);
  switch (expr.getKind()) {
  case AffineExprKind::Add:
    return l + r;
  case AffineExprKind::Mul:
    return l * r;
  case AffineExprKind::Mod:
    return ((l % r) + r) % r;
  case AffineExprKind::FloorDiv:
    return l / r - ((l % r != 0) && ((l < 0) != (r < 0)));
  case AffineExprKind::CeilDiv:
    return l / r + ((l % r != 0) && ((l < 0) == (r < 0)));
  default:
    return 0;
  }
}

} // namespace

//===----------------------------------------------------------------------===//
// The emulator
//===----------------------------------------------------------------------===//

struct CudaEmulator::Impl {
  ModuleOp module;
  EmulationStats stats;
  llvm::StringMap<std::unique_ptr<Function>> functions;
  llvm::DenseMap<Operation *, std::unique_ptr<Kernel>> kernels;
  llvm::StringMap<char *> globals;
  llvm::StringMap<Kernel *> kernelsByName;

  struct Allocation {
    size_t bytes;
    std::string what;
  };
  std::map<uintptr_t, Allocation> live;
  std::vector<char *> owned; // freed at the end of a call

  // The kernel launch running now.
  ThreadContext *current = nullptr;

  // Race checking (optional): the last writer and reader of every 2-byte granule touched in
  // the running launch, as block * kMaxThreads + thread, and the block's barrier phase.
  static constexpr int64_t kMaxThreads = 1024;
  struct Shadow {
    int64_t writer = -1, writerPhase = 0, reader = -1, readerPhase = 0;
  };
  bool checkRaces = false;
  std::unordered_map<uintptr_t, Shadow> shadow;

  // Memory statistics (optional): the running block's shared buffers (where each sits in
  // the block's shared window), and the lanes' accesses grouped into warp accesses: the
  // n-th execution of one load or store by the lanes of one warp.
  bool countMemory = false;
  struct SharedBuffer {
    uintptr_t begin, end, offset;
  };
  SmallVector<SharedBuffer, 4> sharedBuffers;
  struct LaneAccess {
    int64_t lane;
    uint64_t address; // in the shared window, or in device memory
    unsigned bytes;
    bool shared;
  };
  std::map<std::tuple<const Instr *, int64_t, int64_t>, SmallVector<LaneAccess, 32>> warpAccesses;
  llvm::DenseMap<std::pair<const Instr *, int64_t>, int64_t> executions;
  int64_t blockLinear = 0, phase = 0;
  Fiber *fiber = nullptr;
  Context scheduler;
  std::vector<std::unique_ptr<Fiber>> fibers;

  explicit Impl(ModuleOp module) : module(module) {}
  ~Impl() {
    for (auto &entry : live)
      std::free(reinterpret_cast<void *>(entry.first));
  }

  //===--------------------------------------------------------------------===//
  // Errors and memory
  //===--------------------------------------------------------------------===//

  [[noreturn]] void fault(const Instr &instr, const std::string &problem) {
    std::string where;
    if (current) {
      where = "kernel @" + current->kernel->function.name + " block (" +
              std::to_string(current->block[0]) + "," + std::to_string(current->block[1]) + "," +
              std::to_string(current->block[2]) + ") thread (" +
              std::to_string(current->thread[0]) + "," + std::to_string(current->thread[1]) +
              "," + std::to_string(current->thread[2]) + "): ";
    }
    throw Error(where + problem + " (" + describe(instr.op) + ")");
  }

  char *allocate(size_t bytes, std::string what, bool poison) {
    size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
    char *p = static_cast<char *>(std::aligned_alloc(64, rounded));
    if (!p)
      throw Error("out of memory allocating " + std::to_string(bytes) + " bytes");
    // Fresh device memory holds whatever was there: NaN (all ones) makes reads of unwritten
    // elements show in the results.
    std::memset(p, poison ? 0xFF : 0, rounded);
    live[reinterpret_cast<uintptr_t>(p)] = {bytes, std::move(what)};
    return p;
  }

  void release(const Instr &instr, char *p) {
    auto it = live.find(reinterpret_cast<uintptr_t>(p));
    if (it == live.end())
      fault(instr, "frees a buffer that is not live");
    live.erase(it);
    std::free(p);
  }

  /// The live buffer holding [p, p + bytes), or null.
  const Allocation *liveAt(const char *p, size_t bytes) const {
    auto it = live.upper_bound(reinterpret_cast<uintptr_t>(p));
    if (it == live.begin())
      return nullptr;
    --it;
    uintptr_t begin = it->first, address = reinterpret_cast<uintptr_t>(p);
    if (address + bytes > begin + it->second.bytes)
      return nullptr;
    return &it->second;
  }

  /// Checks that every element of `view` lies in one live buffer.
  void checkView(const Instr &instr, const View &view, const std::string &what) {
    if (!viewInLiveBuffer(view))
      fault(instr, what + " is not inside a live buffer (freed, or a view past its end)");
  }

  /// The bytes [first, last) that `view` spans.
  static std::pair<const char *, const char *> span(const View &view) {
    int64_t low = view.offset, high = view.offset;
    for (size_t d = 0; d < view.sizes.size(); ++d) {
      if (view.sizes[d] == 0)
        return {view.base, view.base};
      int64_t extent = (view.sizes[d] - 1) * view.strides[d];
      (extent < 0 ? low : high) += extent;
    }
    return {view.base + low * view.elementBytes, view.base + (high + 1) * view.elementBytes};
  }

  static bool overlaps(const View &x, const View &y) {
    auto [xFirst, xLast] = span(x);
    auto [yFirst, yLast] = span(y);
    return xFirst < yLast && yFirst < xLast;
  }

  bool viewInLiveBuffer(const View &view) const {
    auto [first, last] = span(view);
    return first == last || liveAt(first, static_cast<size_t>(last - first));
  }

  std::shared_ptr<View> contiguousView(MemRefType type, ArrayRef<int64_t> sizes, char *base) {
    auto view = std::make_shared<View>();
    view->base = base;
    view->elementBytes = byteSize(type.getElementType());
    view->sizes.assign(sizes.begin(), sizes.end());
    view->strides.resize(sizes.size());
    int64_t stride = 1;
    for (int d = static_cast<int>(sizes.size()) - 1; d >= 0; --d) {
      view->strides[d] = stride;
      stride *= sizes[d];
    }
    return view;
  }

  static int64_t numElements(const View &view) {
    int64_t n = 1;
    for (int64_t s : view.sizes)
      n *= s;
    return n;
  }

  /// Calls `fn(element pointer)` for every element of `view` in row-major order.
  template <typename Fn> static void forEachElement(const View &view, Fn fn) {
    int64_t n = numElements(view);
    size_t rank = view.sizes.size();
    SmallVector<int64_t, 4> index(rank, 0);
    for (int64_t k = 0; k < n; ++k) {
      int64_t linear = view.offset;
      for (size_t d = 0; d < rank; ++d)
        linear += index[d] * view.strides[d];
      fn(view.base + linear * view.elementBytes);
      for (int d = static_cast<int>(rank) - 1; d >= 0; --d) {
        if (++index[d] < view.sizes[d])
          break;
        index[d] = 0;
      }
    }
  }

  //===--------------------------------------------------------------------===//
  // Preparation
  //===--------------------------------------------------------------------===//

  struct Numbering {
    llvm::DenseMap<Value, unsigned> slots;
    unsigned next = 0;
    unsigned define(Value v) { return slots[v] = next++; }
    unsigned use(Value v, Operation *user) {
      auto it = slots.find(v);
      if (it == slots.end())
        throw Error("a value used by " + describe(user) + " is defined outside its function");
      return it->second;
    }
  };

  Function *hostFunction(StringRef name) {
    auto it = functions.find(name);
    if (it != functions.end())
      return it->second.get();
    auto func = module.lookupSymbol<func::FuncOp>(name);
    if (!func || func.isExternal())
      return nullptr;
    auto fn = std::make_unique<Function>();
    Function *raw = fn.get();
    functions[name] = std::move(fn);
    raw->op = func;
    raw->name = name.str();
    Numbering numbering;
    prepareRegion(func.getBody(), raw->body, numbering);
    raw->slots = numbering.next;
    return raw;
  }

  Kernel *kernelFor(gpu::LaunchFuncOp launch) {
    auto func = SymbolTable::lookupNearestSymbolFrom<gpu::GPUFuncOp>(launch, launch.getKernel());
    if (!func)
      throw Error("kernel " + describe(launch) + " not found");
    return kernelFor(func);
  }

  /// The kernel named `name` in any gpu.module, or null.
  Kernel *kernelNamed(StringRef name) {
    auto it = kernelsByName.find(name);
    if (it != kernelsByName.end())
      return it->second;
    gpu::GPUFuncOp found;
    module.walk([&](gpu::GPUFuncOp func) {
      if (func.isKernel() && func.getName() == name)
        found = func;
    });
    Kernel *kernel = found ? kernelFor(found) : nullptr;
    kernelsByName[name] = kernel;
    return kernel;
  }

  Kernel *kernelFor(gpu::GPUFuncOp func) {
    auto &slot = kernels[func];
    if (slot)
      return slot.get();
    slot = std::make_unique<Kernel>();
    Kernel &k = *slot;
    k.op = func;
    k.function.op = func;
    k.function.name = func.getName().str();
    k.numArguments = func.getNumArguments();
    for (Value v : func.getWorkgroupAttributions())
      k.workgroup.push_back(cast<MemRefType>(v.getType()));
    for (Value v : func.getPrivateAttributions())
      k.privates.push_back(cast<MemRefType>(v.getType()));
    if (auto known = func.getKnownBlockSize())
      k.knownBlock = SmallVector<int64_t, 3>(known->begin(), known->end());
    Numbering numbering;
    prepareRegion(func.getBody(), k.function.body, numbering);
    k.function.slots = numbering.next;
    func.walk([&](Operation *op) {
      if (isa<gpu::ShuffleOp, gpu::BarrierOp, NVVM::MmaOp>(op))
        k.collective = true;
    });
    return &k;
  }

  void prepareRegion(Region &region, Code &code, Numbering &numbering) {
    if (region.empty())
      return;
    if (!region.hasOneBlock())
      throw Error("a region of " + describe(region.getParentOp()) +
                                           " has several blocks (unstructured control flow)");
    Block &block = region.front();
    for (BlockArgument arg : block.getArguments())
      code.arguments.push_back(numbering.define(arg));
    for (Operation &op : block) {
      Instr instr;
      instr.op = &op;
      for (Value v : op.getOperands())
        instr.in.push_back(numbering.use(v, &op));
      for (Value v : op.getResults())
        instr.out.push_back(numbering.define(v));
      if (op.getNumResults())
        instr.type = scalarType(op.getResult(0).getType());
      if (op.getNumOperands())
        instr.source = scalarType(op.getOperand(0).getType());
      instr.vector = op.getNumResults() && isa<VectorType>(op.getResult(0).getType());
      decode(op, instr);
      for (Region &nested : op.getRegions()) {
        instr.regions.push_back(std::make_unique<Code>());
        prepareRegion(nested, *instr.regions.back(), numbering);
      }
      code.instrs.push_back(std::move(instr));
    }
  }

  Datum constantOf(Attribute attr, Type type) {
    if (auto integer = dyn_cast<IntegerAttr>(attr)) {
      Datum d;
      d.i = truncate(integer.getValue().getSExtValue(), scalarType(type).width);
      return d;
    }
    if (auto fp = dyn_cast<FloatAttr>(attr)) {
      Datum d;
      d.f = fp.getValueAsDouble();
      return d;
    }
    if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
      auto shaped = cast<ShapedType>(type);
      Type element = shaped.getElementType();
      Datum d = aggregate(shaped.getNumElements());
      int64_t k = 0;
      if (isa<FloatType>(element)) {
        for (APFloat v : dense.getValues<APFloat>())
          (*d.elements)[k++].f = v.convertToDouble();
      } else {
        for (APInt v : dense.getValues<APInt>())
          (*d.elements)[k++].i = truncate(v.getSExtValue(), scalarType(element).width);
      }
      return d;
    }
    throw Error("unsupported constant");
  }

  char *globalBuffer(memref::GetGlobalOp get) {
    auto it = globals.find(get.getName());
    if (it != globals.end())
      return it->second;
    auto global = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(get, get.getNameAttr());
    if (!global)
      throw Error("global @" + get.getName().str() + " not found");
    MemRefType type = global.getType();
    unsigned bytes = byteSize(type.getElementType());
    int64_t n = type.getNumElements();
    char *p = allocate(n * bytes, "constant @" + get.getName().str(), false);
    if (auto init = dyn_cast_or_null<DenseElementsAttr>(global.getInitialValueAttr())) {
      Datum values = constantOf(init, type);
      ScalarType e = scalarType(type.getElementType());
      for (int64_t k = 0; k < n; ++k)
        storeScalar(e, (*values.elements)[k], p + k * bytes);
    }
    globals[get.getName()] = p;
    return p;
  }

  void decode(Operation &op, Instr &instr) {
    Kind &k = instr.kind;
    if (auto c = dyn_cast<arith::ConstantOp>(op)) {
      k = Kind::Constant;
      instr.constant = constantOf(c.getValue(), c.getType());
    } else if (auto c = dyn_cast<LLVM::ConstantOp>(op)) {
      k = Kind::Constant;
      instr.constant = constantOf(c.getValue(), c.getType());
    } else if (isa<arith::AddIOp>(op)) k = Kind::AddI;
    else if (isa<arith::SubIOp>(op)) k = Kind::SubI;
    else if (isa<arith::MulIOp>(op)) k = Kind::MulI;
    else if (isa<arith::DivUIOp>(op)) k = Kind::DivUI;
    else if (isa<arith::DivSIOp>(op)) k = Kind::DivSI;
    else if (isa<arith::RemUIOp>(op)) k = Kind::RemUI;
    else if (isa<arith::RemSIOp>(op)) k = Kind::RemSI;
    else if (isa<arith::AndIOp>(op)) k = Kind::AndI;
    else if (isa<arith::OrIOp>(op)) k = Kind::OrI;
    else if (isa<arith::XOrIOp>(op)) k = Kind::XOrI;
    else if (isa<arith::ShLIOp>(op)) k = Kind::ShLI;
    else if (isa<arith::ShRUIOp>(op)) k = Kind::ShRUI;
    else if (isa<arith::ShRSIOp>(op)) k = Kind::ShRSI;
    else if (isa<arith::MinUIOp>(op)) k = Kind::MinUI;
    else if (isa<arith::MinSIOp>(op)) k = Kind::MinSI;
    else if (isa<arith::MaxUIOp>(op)) k = Kind::MaxUI;
    else if (isa<arith::MaxSIOp>(op)) k = Kind::MaxSI;
    else if (auto c = dyn_cast<arith::CmpIOp>(op)) {
      k = Kind::CmpI;
      instr.aux = static_cast<int64_t>(c.getPredicate());
    } else if (auto c = dyn_cast<arith::CmpFOp>(op)) {
      k = Kind::CmpF;
      instr.aux = static_cast<int64_t>(c.getPredicate());
    } else if (isa<arith::SelectOp>(op)) {
      k = Kind::Select;
      instr.source = scalarType(op.getOperand(1).getType());
      Type type = op.getResult(0).getType();
      instr.aux = !type.isIntOrIndexOrFloat() && !isa<VectorType>(type); // selects whole values
    } else if (isa<arith::IndexCastOp>(op)) k = Kind::IndexCast;
    else if (isa<arith::IndexCastUIOp>(op)) k = Kind::IndexCastUI;
    else if (isa<arith::ExtUIOp>(op)) k = Kind::ExtUI;
    else if (isa<arith::ExtSIOp>(op)) k = Kind::ExtSI;
    else if (isa<arith::TruncIOp>(op)) k = Kind::TruncI;
    else if (isa<arith::SIToFPOp>(op)) k = Kind::SIToFP;
    else if (isa<arith::UIToFPOp>(op)) k = Kind::UIToFP;
    else if (isa<arith::FPToSIOp>(op)) k = Kind::FPToSI;
    else if (isa<arith::FPToUIOp>(op)) k = Kind::FPToUI;
    else if (isa<arith::ExtFOp>(op)) k = Kind::ExtF;
    else if (isa<arith::TruncFOp>(op)) k = Kind::TruncF;
    else if (isa<arith::AddFOp>(op)) k = Kind::AddF;
    else if (isa<arith::SubFOp>(op)) k = Kind::SubF;
    else if (isa<arith::MulFOp>(op)) k = Kind::MulF;
    else if (isa<arith::DivFOp>(op)) k = Kind::DivF;
    else if (isa<arith::NegFOp>(op)) k = Kind::NegF;
    else if (isa<arith::MaximumFOp>(op)) k = Kind::MaximumF;
    else if (isa<arith::MinimumFOp>(op)) k = Kind::MinimumF;
    else if (isa<arith::MaxNumFOp>(op)) k = Kind::MaxNumF;
    else if (isa<arith::MinNumFOp>(op)) k = Kind::MinNumF;
    else if (isa<arith::MulUIExtendedOp>(op)) k = Kind::MulUIExtended;
    else if (isa<arith::BitcastOp, LLVM::BitcastOp>(op)) k = Kind::Bitcast;
    else if (isa<math::ExpOp>(op)) k = Kind::Exp;
    else if (isa<math::Exp2Op>(op)) k = Kind::Exp2;
    else if (isa<math::LogOp>(op)) k = Kind::Log;
    else if (isa<math::Log2Op>(op)) k = Kind::Log2;
    else if (isa<math::Log1pOp>(op)) k = Kind::Log1p;
    else if (isa<math::ExpM1Op>(op)) k = Kind::ExpM1;
    else if (isa<math::SqrtOp>(op)) k = Kind::Sqrt;
    else if (isa<math::RsqrtOp>(op)) k = Kind::Rsqrt;
    else if (isa<math::SinOp>(op)) k = Kind::Sin;
    else if (isa<math::CosOp>(op)) k = Kind::Cos;
    else if (isa<math::TanhOp>(op)) k = Kind::Tanh;
    else if (isa<math::ErfOp>(op)) k = Kind::Erf;
    else if (isa<math::AbsFOp>(op)) k = Kind::AbsF;
    else if (isa<math::FloorOp>(op)) k = Kind::Floor;
    else if (isa<math::CeilOp>(op)) k = Kind::Ceil;
    else if (isa<math::FmaOp>(op)) k = Kind::Fma;
    else if (isa<math::PowFOp>(op)) k = Kind::PowF;
    else if (isa<affine::AffineApplyOp>(op)) k = Kind::AffineApply;
    else if (isa<scf::ForOp>(op)) k = Kind::For;
    else if (isa<scf::IfOp>(op)) k = Kind::If;
    else if (auto p = dyn_cast<scf::ParallelOp>(op)) {
      if (!p.getInitVals().empty())
        throw Error(std::string("scf.parallel with reductions is not supported") + " (" + describe(&op) + ")");
      k = Kind::Parallel;
      instr.aux = p.getNumLoops();
    } else if (isa<scf::YieldOp, scf::ReduceOp>(op)) {
      if (isa<scf::ReduceOp>(op) && op.getNumOperands())
        throw Error(std::string("scf.reduce with operands is not supported") + " (" + describe(&op) + ")");
      k = Kind::Yield;
    } else if (auto call = dyn_cast<func::CallOp>(op)) {
      k = Kind::Call;
      instr.name = call.getCallee().str();
      auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee());
      if (callee && !callee.isExternal())
        instr.callee = hostFunction(call.getCallee());
      else if (!StringRef(instr.name).starts_with("msdd_rt_cuda_"))
        throw Error("call of unknown function @" + instr.name + " (" + describe(&op) + ")");
    } else if (isa<func::ReturnOp>(op)) k = Kind::Return;
    else if (isa<memref::LoadOp>(op)) k = Kind::Load;
    else if (isa<memref::StoreOp>(op)) {
      k = Kind::Store;
      instr.source = scalarType(op.getOperand(0).getType());
    } else if (auto store = dyn_cast<vector::StoreOp>(op)) {
      k = Kind::VectorStore;
      if (store.getVectorType().getRank() != 1)
        throw Error("vector.store of more than one dimension (" + describe(&op) + ")");
    } else if (isa<memref::AllocOp, memref::AllocaOp>(op)) k = Kind::Alloc;
    else if (isa<memref::DeallocOp>(op)) k = Kind::Dealloc;
    else if (auto s = dyn_cast<memref::SubViewOp>(op)) {
      k = Kind::SubView;
      llvm::SmallBitVector dropped = s.getDroppedDims();
      for (unsigned d = 0; d < dropped.size(); ++d)
        instr.ints.push_back(dropped.test(d));
    } else if (isa<memref::CastOp>(op)) k = Kind::Cast;
    else if (isa<memref::ExpandShapeOp>(op)) k = Kind::ExpandShape;
    else if (isa<memref::CollapseShapeOp>(op)) k = Kind::CollapseShape;
    else if (isa<memref::ExtractAlignedPointerAsIndexOp>(op)) k = Kind::AlignedPointer;
    else if (isa<memref::ExtractStridedMetadataOp>(op)) k = Kind::StridedMetadata;
    else if (auto g = dyn_cast<memref::GetGlobalOp>(op)) {
      k = Kind::GetGlobal;
      instr.constant.i = reinterpret_cast<int64_t>(globalBuffer(g));
    } else if (isa<memref::DimOp>(op)) k = Kind::Dim;
    else if (auto t = dyn_cast<memref::TransposeOp>(op)) {
      k = Kind::Transpose;
      for (AffineExpr e : t.getPermutation().getResults())
        instr.ints.push_back(cast<AffineDimExpr>(e).getPosition());
    } else if (isa<memref::CopyOp>(op)) k = Kind::Copy;
    else if (isa<gpu::AllocOp>(op)) {
      if (cast<gpu::AllocOp>(op).getHostShared())
        throw Error(std::string("host_shared gpu.alloc is not supported") + " (" + describe(&op) + ")");
      k = Kind::GpuAlloc;
    } else if (isa<gpu::DeallocOp>(op)) k = Kind::GpuDealloc;
    else if (isa<gpu::MemcpyOp>(op)) k = Kind::Memcpy;
    else if (isa<gpu::WaitOp>(op)) k = Kind::Wait;
    else if (auto launch = dyn_cast<gpu::LaunchFuncOp>(op)) {
      k = Kind::Launch;
      if (launch.hasClusterSize())
        throw Error(std::string("thread block clusters are not supported") + " (" + describe(&op) + ")");
      instr.kernel = kernelFor(launch);
    } else if (auto id = dyn_cast<gpu::ThreadIdOp>(op)) {
      k = Kind::ThreadId;
      instr.aux = static_cast<int64_t>(id.getDimension());
    } else if (auto id = dyn_cast<gpu::BlockIdOp>(op)) {
      k = Kind::BlockId;
      instr.aux = static_cast<int64_t>(id.getDimension());
    } else if (auto id = dyn_cast<gpu::BlockDimOp>(op)) {
      k = Kind::BlockDim;
      instr.aux = static_cast<int64_t>(id.getDimension());
    } else if (auto id = dyn_cast<gpu::GridDimOp>(op)) {
      k = Kind::GridDim;
      instr.aux = static_cast<int64_t>(id.getDimension());
    } else if (isa<gpu::LaneIdOp>(op)) k = Kind::LaneId;
    else if (auto s = dyn_cast<gpu::ShuffleOp>(op)) {
      k = Kind::Shuffle;
      instr.aux = static_cast<int64_t>(s.getMode());
    } else if (isa<gpu::BarrierOp>(op)) k = Kind::Barrier;
    else if (isa<gpu::ReturnOp>(op)) k = Kind::GpuReturn;
    else if (auto gep = dyn_cast<LLVM::GEPOp>(op)) {
      k = Kind::Gep;
      auto indices = gep.getRawConstantIndices();
      if (indices.size() != 1)
        throw Error(std::string("llvm.getelementptr with several indices is not supported") + " (" + describe(&op) + ")");
      instr.ints.push_back(indices[0]);
      instr.aux = byteSize(gep.getElemType());
      if (!instr.aux)
        throw Error(std::string("llvm.getelementptr of an unsupported element type") + " (" + describe(&op) + ")");
    } else if (isa<LLVM::LoadOp>(op)) k = Kind::LlvmLoad;
    else if (isa<LLVM::StoreOp>(op)) k = Kind::LlvmStore;
    else if (isa<LLVM::IntToPtrOp>(op)) k = Kind::IntToPtr;
    else if (isa<LLVM::PtrToIntOp>(op)) k = Kind::PtrToInt;
    else if (auto e = dyn_cast<LLVM::ExtractValueOp>(op)) {
      k = Kind::ExtractValue;
      instr.ints.assign(e.getPosition().begin(), e.getPosition().end());
    } else if (auto e = dyn_cast<LLVM::InsertValueOp>(op)) {
      k = Kind::InsertValue;
      instr.ints.assign(e.getPosition().begin(), e.getPosition().end());
    } else if (isa<LLVM::InsertElementOp>(op)) k = Kind::InsertElement;
    else if (isa<LLVM::ExtractElementOp>(op)) k = Kind::ExtractElement;
    else if (isa<LLVM::UndefOp, LLVM::PoisonOp, LLVM::ZeroOp>(op)) k = Kind::Undef;
    else if (auto e = dyn_cast<vector::ExtractOp>(op)) {
      k = Kind::VectorExtract;
      if (!e.getDynamicPosition().empty() || e.getStaticPosition().size() != 1 ||
          isa<VectorType>(e.getResult().getType()))
        throw Error(std::string("only vector.extract of one element at a constant position is supported") + " (" + describe(&op) + ")");
      instr.ints.push_back(e.getStaticPosition()[0]);
    } else if (isa<vector::InterleaveOp>(op)) k = Kind::Interleave;
    else if (isa<vector::BroadcastOp, vector::SplatOp>(op)) {
      if (isa<VectorType>(op.getOperand(0).getType()))
        throw Error(std::string("vector.broadcast of a vector is not supported") + " (" + describe(&op) + ")");
      k = Kind::Broadcast;
    } else if (auto mma = dyn_cast<NVVM::MmaOp>(op)) {
      k = Kind::Mma;
      NVVM::MMAShapeAttr shape = mma.getShapeAttr();
      if (shape.getM() != 16 || shape.getN() != 8 || (shape.getK() != 16 && shape.getK() != 8) ||
          mma.getLayoutA() != NVVM::MMALayout::row || mma.getLayoutB() != NVVM::MMALayout::col ||
          mma.getOperandC().size() != 4 || !mma.getOperandC()[0].getType().isF32())
        throw Error(std::string("only nvvm.mma.sync m16n8k16/m16n8k8 row.col with f32 accumulators is supported") + " (" + describe(&op) + ")");
      instr.ints = {static_cast<int64_t>(mma.getOperandA().size()),
                    static_cast<int64_t>(mma.getOperandB().size()), shape.getK()};
      // f16 pairs arrive as vector<2xf16>, bf16 pairs packed in an i32, TF32 one per i32.
      instr.aux = isa<VectorType>(mma.getOperandA()[0].getType()) ? 0 : 1;
      if (mma.getMultiplicandAPtxType() == NVVM::MMATypes::tf32) {
        if (shape.getK() != 8)
          throw Error(std::string("only nvvm.mma.sync m16n8k8 takes TF32 factors here") + " (" + describe(&op) + ")");
        instr.aux = 2;
      }
    } else {
      throw Error("unsupported operation " + describe(&op));
    }
  }

  //===--------------------------------------------------------------------===//
  // Running
  //===--------------------------------------------------------------------===//

  /// The scalar parts of a result (a slot of scalar type never holds a view or elements).
  struct Bits {
    int64_t i = 0;
    double f = 0;
  };

  Bits scalarOp(const Instr &instr, const Datum &a, const Datum *b, const Datum *c) {
    const ScalarType t = instr.type, s = instr.source;
    Bits r;
    auto fp = [&](double x) {
      r.f = roundTo(t.kind, x);
      return r;
    };
    auto in = [&](int64_t x) {
      r.i = truncate(x, t.width);
      return r;
    };
    // Math functions of f32 values are computed in float, as on the GPU.
    auto math = [&](float (*f32)(float), double (*f64)(double)) {
      return fp(t.kind == Scalar::F64 ? f64(a.f) : f32(static_cast<float>(a.f)));
    };
    int64_t sa = signExtend(a.i, s.width), sb = b ? signExtend(b->i, s.width) : 0;
    uint64_t ua = static_cast<uint64_t>(a.i), ub = b ? static_cast<uint64_t>(b->i) : 0;
    switch (instr.kind) {
    case Kind::AddI: return in(a.i + b->i);
    case Kind::SubI: return in(a.i - b->i);
    case Kind::MulI: return in(static_cast<int64_t>(ua * ub));
    case Kind::DivUI:
      if (!ub) fault(instr, "division by zero");
      return in(static_cast<int64_t>(ua / ub));
    case Kind::DivSI:
      if (!sb) fault(instr, "division by zero");
      return in(sa / sb);
    case Kind::RemUI:
      if (!ub) fault(instr, "division by zero");
      return in(static_cast<int64_t>(ua % ub));
    case Kind::RemSI:
      if (!sb) fault(instr, "division by zero");
      return in(sa % sb);
    case Kind::AndI: return in(a.i & b->i);
    case Kind::OrI: return in(a.i | b->i);
    case Kind::XOrI: return in(a.i ^ b->i);
    case Kind::ShLI: return in(ub >= t.width ? 0 : static_cast<int64_t>(ua << ub));
    case Kind::ShRUI: return in(ub >= t.width ? 0 : static_cast<int64_t>(ua >> ub));
    case Kind::ShRSI: return in(ub >= t.width ? (sa < 0 ? -1 : 0) : sa >> ub);
    case Kind::MinUI: return in(static_cast<int64_t>(std::min(ua, ub)));
    case Kind::MaxUI: return in(static_cast<int64_t>(std::max(ua, ub)));
    case Kind::MinSI: return in(std::min(sa, sb));
    case Kind::MaxSI: return in(std::max(sa, sb));
    case Kind::CmpI: {
      bool v = false;
      switch (static_cast<arith::CmpIPredicate>(instr.aux)) {
      case arith::CmpIPredicate::eq: v = ua == ub; break;
      case arith::CmpIPredicate::ne: v = ua != ub; break;
      case arith::CmpIPredicate::slt: v = sa < sb; break;
      case arith::CmpIPredicate::sle: v = sa <= sb; break;
      case arith::CmpIPredicate::sgt: v = sa > sb; break;
      case arith::CmpIPredicate::sge: v = sa >= sb; break;
      case arith::CmpIPredicate::ult: v = ua < ub; break;
      case arith::CmpIPredicate::ule: v = ua <= ub; break;
      case arith::CmpIPredicate::ugt: v = ua > ub; break;
      case arith::CmpIPredicate::uge: v = ua >= ub; break;
      }
      r.i = v;
      return r;
    }
    case Kind::CmpF: {
      double x = a.f, y = b->f;
      bool unordered = std::isnan(x) || std::isnan(y);
      bool v = false;
      using P = arith::CmpFPredicate;
      switch (static_cast<P>(instr.aux)) {
      case P::AlwaysFalse: v = false; break;
      case P::OEQ: v = !unordered && x == y; break;
      case P::OGT: v = !unordered && x > y; break;
      case P::OGE: v = !unordered && x >= y; break;
      case P::OLT: v = !unordered && x < y; break;
      case P::OLE: v = !unordered && x <= y; break;
      case P::ONE: v = !unordered && x != y; break;
      case P::ORD: v = !unordered; break;
      case P::UEQ: v = unordered || x == y; break;
      case P::UGT: v = unordered || x > y; break;
      case P::UGE: v = unordered || x >= y; break;
      case P::ULT: v = unordered || x < y; break;
      case P::ULE: v = unordered || x <= y; break;
      case P::UNE: v = unordered || x != y; break;
      case P::UNO: v = unordered; break;
      case P::AlwaysTrue: v = true; break;
      }
      r.i = v;
      return r;
    }
    case Kind::Select: {
      const Datum &chosen = (a.i & 1) ? *b : *c;
      r.i = chosen.i;
      r.f = chosen.f;
      return r;
    }
    case Kind::IndexCast:
      return in(t.width > s.width ? signExtend(a.i, s.width) : a.i);
    case Kind::IndexCastUI:
    case Kind::ExtUI:
    case Kind::TruncI:
      return in(a.i);
    case Kind::ExtSI: return in(sa);
    case Kind::SIToFP: return fp(static_cast<double>(sa));
    case Kind::UIToFP: return fp(static_cast<double>(ua));
    case Kind::FPToSI: return in(static_cast<int64_t>(a.f));
    case Kind::FPToUI: return in(static_cast<int64_t>(static_cast<uint64_t>(a.f)));
    case Kind::ExtF:
    case Kind::TruncF: return fp(a.f);
    case Kind::AddF: return fp(a.f + b->f);
    case Kind::SubF: return fp(a.f - b->f);
    case Kind::MulF: return fp(a.f * b->f);
    case Kind::DivF: return fp(a.f / b->f);
    case Kind::NegF: return fp(-a.f);
    case Kind::MaximumF:
      if (std::isnan(a.f) || std::isnan(b->f)) return fp(NAN);
      return fp(a.f == b->f ? (std::signbit(a.f) ? b->f : a.f) : std::max(a.f, b->f));
    case Kind::MinimumF:
      if (std::isnan(a.f) || std::isnan(b->f)) return fp(NAN);
      return fp(a.f == b->f ? (std::signbit(a.f) ? a.f : b->f) : std::min(a.f, b->f));
    case Kind::MaxNumF: return fp(std::fmax(a.f, b->f));
    case Kind::MinNumF: return fp(std::fmin(a.f, b->f));
    case Kind::Exp: return math(expf, exp);
    case Kind::Exp2: return math(exp2f, exp2);
    case Kind::Log: return math(logf, log);
    case Kind::Log2: return math(log2f, log2);
    case Kind::Log1p: return math(log1pf, log1p);
    case Kind::ExpM1: return math(expm1f, expm1);
    case Kind::Sqrt: return math(sqrtf, sqrt);
    case Kind::Rsqrt: return fp(1.0 / std::sqrt(a.f));
    case Kind::Sin: return math(sinf, sin);
    case Kind::Cos: return math(cosf, cos);
    case Kind::Tanh: return math(tanhf, tanh);
    case Kind::Erf: return math(erff, erf);
    case Kind::AbsF: return fp(std::fabs(a.f));
    case Kind::Floor: return fp(std::floor(a.f));
    case Kind::Ceil: return fp(std::ceil(a.f));
    case Kind::Fma: return fp(std::fma(a.f, b->f, c->f));
    case Kind::PowF: return fp(t.kind == Scalar::F64 ? std::pow(a.f, b->f) : powf(a.f, b->f));
    default:
      fault(instr, "not an elementwise operation");
    }
  }

  /// Reinterprets `d` (of type `from`) as `to`, through its bytes.
  Datum bitcast(const Datum &d, Type from, Type to) {
    char bytes[64];
    storeValue(from, d, bytes);
    return loadValue(to, bytes);
  }

  /// The address of `view[indices]`, checked against the view's shape.
  char *elementAddress(const Instr &instr, const View &view, const std::vector<Datum> &frame,
                       unsigned firstIndex) {
    int64_t linear = view.offset;
    size_t rank = view.sizes.size();
    if (instr.in.size() - firstIndex != rank)
      fault(instr, "index count does not match the memref's rank");
    for (size_t d = 0; d < rank; ++d) {
      int64_t v = frame[instr.in[firstIndex + d]].i;
      if (static_cast<uint64_t>(v) >= static_cast<uint64_t>(view.sizes[d]))
        fault(instr, "index " + std::to_string(v) + " of dimension " + std::to_string(d) +
                         " is outside [0, " + std::to_string(view.sizes[d]) + ")");
      linear += v * view.strides[d];
    }
    return view.base + linear * view.elementBytes;
  }

  /// Reports two threads of a launch touching the same bytes, one of them writing, without a
  /// barrier between them (or from different blocks). Only the last reader of a granule is
  /// kept, so some read-write races go unseen; none is reported falsely.
  void recordAccess(const Instr &instr, const char *p, unsigned bytes, bool write) {
    if (!checkRaces || !current)
      return;
    int64_t me = blockLinear * kMaxThreads + current->linear;
    auto conflicts = [&](int64_t other, int64_t otherPhase) {
      if (other < 0 || other == me)
        return false;
      return other / kMaxThreads != blockLinear || otherPhase == phase;
    };
    unsigned granule = bytes == 1 ? 1 : 2;
    for (unsigned b = 0; b < bytes; b += granule) {
      Shadow &s = shadow[reinterpret_cast<uintptr_t>(p + b)];
      bool race = conflicts(s.writer, s.writerPhase) || (write && conflicts(s.reader, s.readerPhase));
      if (race) {
        int64_t other = conflicts(s.writer, s.writerPhase) ? s.writer : s.reader;
        const Allocation *buffer = liveAt(p, bytes);
        fault(instr, std::string("data race: ") + (write ? "writes" : "reads") + " bytes of " +
                         (buffer ? buffer->what : "a buffer") + " that thread " +
                         std::to_string(other % kMaxThreads) + " of block " +
                         std::to_string(other / kMaxThreads) + " (linear) " +
                         (other == s.writer ? "wrote" : "read") +
                         (other / kMaxThreads == blockLinear ? " with no barrier between"
                                                             : " in the same launch"));
      }
      if (write) {
        s.writer = me;
        s.writerPhase = phase;
      } else {
        s.reader = me;
        s.readerPhase = phase;
      }
    }
  }

  /// Notes a lane's access to shared or device memory for the statistics (not to its
  /// private memory).
  void recordMemoryAccess(const Instr &instr, const char *p, unsigned bytes) {
    if (!countMemory || !current)
      return;
    auto address = reinterpret_cast<uintptr_t>(p);
    LaneAccess access{current->linear % 32, address, bytes, false};
    for (const SharedBuffer &buffer : sharedBuffers)
      if (address >= buffer.begin && address < buffer.end) {
        access.address = buffer.offset + (address - buffer.begin);
        access.shared = true;
      }
    if (!access.shared) {
      const Allocation *buffer = liveAt(p, bytes);
      if (buffer && buffer->what == "private memory")
        return;
    }
    int64_t n = executions[{&instr, current->linear}]++;
    warpAccesses[{&instr, current->linear / 32, n}].push_back(access);
  }

  /// Adds the block's warp accesses to its kernel's statistics. Shared memory: per phase of
  /// the warp (all 32 lanes for accesses up to 4 bytes, 16 for 8, 8 for 16), as many
  /// wavefronts as the most different 4-byte words in one bank, at least one. Device
  /// memory: the distinct 32-byte sectors, against the sectors of the distinct bytes.
  void countMemoryAccesses(const std::string &kernel) {
    MemoryStats &total = stats.memory[kernel];
    for (auto &[key, lanes] : warpAccesses) {
      if (!lanes.front().shared) {
        ++total.deviceAccesses;
        llvm::SmallDenseSet<uint64_t, 32> sectors, bytes;
        for (const LaneAccess &access : lanes)
          for (uint64_t b = access.address; b < access.address + access.bytes; ++b) {
            bytes.insert(b);
            sectors.insert(b / 32);
          }
        total.sectors += sectors.size();
        total.idealSectors += (bytes.size() + 31) / 32;
        continue;
      }
      ++total.sharedAccesses;
      int64_t lanesPerPhase = lanes.front().bytes <= 4 ? 32 : 128 / lanes.front().bytes;
      std::map<int64_t, std::array<llvm::SmallDenseSet<uint64_t, 4>, 32>> phases;
      for (const LaneAccess &access : lanes)
        for (uint64_t word = access.address / 4; word <= (access.address + access.bytes - 1) / 4; ++word)
          phases[access.lane / lanesPerPhase][word % 32].insert(word);
      for (auto &[phase, banks] : phases) {
        size_t worst = 1;
        for (const auto &words : banks)
          worst = std::max<size_t>(worst, words.size());
        total.wavefronts += worst;
        ++total.idealWavefronts;
      }
    }
    warpAccesses.clear();
    executions.clear();
  }

  /// Forgets the accesses to [p, p + bytes): block-local memory that the next block reuses.
  void forgetAccesses(const char *p, size_t bytes) {
    if (!checkRaces)
      return;
    for (size_t b = 0; b < bytes; ++b)
      shadow.erase(reinterpret_cast<uintptr_t>(p + b));
  }

  /// Runs `code`; a terminator's operands land in `results`.
  void run(const Code &code, std::vector<Datum> &frame, SmallVectorImpl<Datum> *results) {
    for (const Instr &instr : code.instrs)
      step(instr, frame, results);
  }

  void runRegion(const Code &code, std::vector<Datum> &frame, ArrayRef<Datum> arguments,
                 SmallVectorImpl<Datum> &results) {
    for (size_t k = 0; k < arguments.size(); ++k)
      frame[code.arguments[k]] = arguments[k];
    results.clear();
    run(code, frame, &results);
  }

  const View &viewOf(const Instr &instr, const Datum &d) {
    if (!d.view)
      fault(instr, "operand is not a memref");
    return *d.view;
  }

  void step(const Instr &instr, std::vector<Datum> &frame, SmallVectorImpl<Datum> *results) {
    auto operand = [&](unsigned k) -> const Datum & { return frame[instr.in[k]]; };
    auto set = [&](unsigned k, Datum d) { frame[instr.out[k]] = std::move(d); };
    Operation *op = instr.op;
    switch (instr.kind) {
    case Kind::Constant:
      set(0, instr.constant);
      return;
    case Kind::Bitcast:
      set(0, bitcast(operand(0), op->getOperand(0).getType(), op->getResult(0).getType()));
      return;
    case Kind::MulUIExtended: {
      unsigned w = instr.type.width;
      unsigned __int128 p = static_cast<unsigned __int128>(static_cast<uint64_t>(operand(0).i)) *
                            static_cast<uint64_t>(operand(1).i);
      Datum lo, hi;
      lo.i = truncate(static_cast<int64_t>(static_cast<uint64_t>(p)), w);
      hi.i = truncate(static_cast<int64_t>(static_cast<uint64_t>(p >> w)), w);
      set(0, lo);
      set(1, hi);
      return;
    }
    case Kind::AffineApply: {
      auto apply = cast<affine::AffineApplyOp>(op);
      AffineMap map = apply.getAffineMap();
      SmallVector<int64_t, 4> dims, symbols;
      for (unsigned k = 0; k < instr.in.size(); ++k)
        (k < map.getNumDims() ? dims : symbols).push_back(operand(k).i);
      Datum d;
      d.i = evalAffine(map.getResult(0), dims, symbols);
      set(0, d);
      return;
    }
    case Kind::For: {
      int64_t lb = signExtend(operand(0).i, instr.source.width);
      int64_t ub = signExtend(operand(1).i, instr.source.width);
      int64_t st = signExtend(operand(2).i, instr.source.width);
      if (st <= 0)
        fault(instr, "scf.for with a step that is not positive");
      SmallVector<Datum, 8> iters, next;
      for (unsigned k = 3; k < instr.in.size(); ++k)
        iters.push_back(operand(k));
      const Code &body = *instr.regions[0];
      for (int64_t iv = lb; iv < ub; iv += st) {
        frame[body.arguments[0]].i = truncate(iv, instr.source.width);
        for (size_t k = 0; k < iters.size(); ++k)
          frame[body.arguments[k + 1]] = iters[k];
        next.clear();
        run(body, frame, &next);
        std::swap(iters, next);
      }
      for (size_t k = 0; k < iters.size(); ++k)
        set(k, iters[k]);
      return;
    }
    case Kind::If: {
      SmallVector<Datum, 4> out;
      const Code &branch = *instr.regions[(operand(0).i & 1) ? 0 : 1];
      run(branch, frame, &out);
      for (size_t k = 0; k < instr.out.size(); ++k)
        set(k, out[k]);
      return;
    }
    case Kind::Parallel: {
      unsigned n = instr.aux;
      SmallVector<int64_t, 4> lb, ub, st, iv;
      for (unsigned d = 0; d < n; ++d) {
        lb.push_back(operand(d).i);
        ub.push_back(operand(n + d).i);
        st.push_back(operand(2 * n + d).i);
        if (lb[d] >= ub[d])
          return;
      }
      iv = lb;
      const Code &body = *instr.regions[0];
      SmallVector<Datum, 1> none;
      while (true) {
        for (unsigned d = 0; d < n; ++d)
          frame[body.arguments[d]].i = iv[d];
        run(body, frame, &none);
        int d = static_cast<int>(n) - 1;
        for (; d >= 0; --d) {
          iv[d] += st[d];
          if (iv[d] < ub[d])
            break;
          iv[d] = lb[d];
        }
        if (d < 0)
          return;
      }
    }
    case Kind::Yield:
    case Kind::Return:
    case Kind::GpuReturn:
      if (results)
        for (unsigned k = 0; k < instr.in.size(); ++k)
          results->push_back(operand(k));
      return;
    case Kind::Call: {
      SmallVector<Datum, 8> arguments, out;
      for (unsigned k = 0; k < instr.in.size(); ++k)
        arguments.push_back(operand(k));
      if (instr.callee)
        callFunction(*instr.callee, arguments, out);
      else
        runtimeCall(instr, arguments);
      for (size_t k = 0; k < instr.out.size(); ++k)
        set(k, out[k]);
      return;
    }
    case Kind::Load: {
      const View &view = viewOf(instr, operand(0));
      char *address = elementAddress(instr, view, frame, 1);
      recordAccess(instr, address, view.elementBytes, /*write=*/false);
      recordMemoryAccess(instr, address, view.elementBytes);
      Datum loaded = loadScalar(instr.type, address);
      Datum &out = frame[instr.out[0]];
      out.i = loaded.i;
      out.f = loaded.f;
      return;
    }
    case Kind::VectorStore: {
      // Consecutive elements along the last dimension, all inside it.
      const View &view = viewOf(instr, operand(1));
      char *address = elementAddress(instr, view, frame, 2);
      Type type = op->getOperand(0).getType();
      int64_t count = cast<VectorType>(type).getNumElements();
      if (view.strides.back() != 1 || frame[instr.in.back()].i + count > view.sizes.back())
        fault(instr, "stores " + std::to_string(count) + " elements past the end of the "
                     "last dimension, or along a strided one");
      unsigned bytes = byteSize(type);
      recordAccess(instr, address, bytes, /*write=*/true);
      recordMemoryAccess(instr, address, bytes);
      storeValue(type, operand(0), address);
      return;
    }
    case Kind::Store: {
      const View &view = viewOf(instr, operand(1));
      char *address = elementAddress(instr, view, frame, 2);
      recordAccess(instr, address, view.elementBytes, /*write=*/true);
      recordMemoryAccess(instr, address, view.elementBytes);
      storeScalar(instr.source, operand(0), address);
      return;
    }
    case Kind::Alloc:
    case Kind::GpuAlloc: {
      auto type = cast<MemRefType>(op->getResult(0).getType());
      SmallVector<int64_t, 4> sizes;
      unsigned dynamic = instr.kind == Kind::GpuAlloc
                             ? cast<gpu::AllocOp>(op).getAsyncDependencies().size()
                             : 0;
      for (int64_t s : type.getShape())
        sizes.push_back(s == ShapedType::kDynamic ? operand(dynamic++).i : s);
      int64_t n = 1;
      for (int64_t s : sizes)
        n *= s;
      char *p = allocate(n * byteSize(type.getElementType()),
                         describe(op), /*poison=*/true);
      Datum d;
      d.view = contiguousView(type, sizes, p);
      set(0, d);
      if (instr.out.size() > 1)
        set(1, Datum());
      return;
    }
    case Kind::Dealloc:
      release(instr, viewOf(instr, operand(0)).base);
      return;
    case Kind::GpuDealloc: {
      auto dealloc = cast<gpu::DeallocOp>(op);
      release(instr, viewOf(instr, operand(dealloc.getAsyncDependencies().size())).base);
      if (!instr.out.empty())
        set(0, Datum());
      return;
    }
    case Kind::Wait:
      if (!instr.out.empty())
        set(0, Datum());
      return;
    case Kind::Memcpy: {
      auto copy = cast<gpu::MemcpyOp>(op);
      unsigned deps = copy.getAsyncDependencies().size();
      copyView(instr, /*dst=*/ viewOf(instr, operand(deps)), /*src=*/ viewOf(instr, operand(deps + 1)));
      if (!instr.out.empty())
        set(0, Datum());
      return;
    }
    case Kind::Copy:
      copyView(instr, viewOf(instr, operand(0)), viewOf(instr, operand(1)));
      return;
    case Kind::SubView: {
      auto sub = cast<memref::SubViewOp>(op);
      const View &src = viewOf(instr, operand(0));
      unsigned next = 1;
      auto value = [&](int64_t s) { return ShapedType::isDynamic(s) ? operand(next++).i : s; };
      SmallVector<int64_t, 4> offsets, sizes, strides;
      for (int64_t s : sub.getStaticOffsets())
        offsets.push_back(value(s));
      for (int64_t s : sub.getStaticSizes())
        sizes.push_back(value(s));
      for (int64_t s : sub.getStaticStrides())
        strides.push_back(value(s));
      auto view = std::make_shared<View>();
      view->base = src.base;
      view->elementBytes = src.elementBytes;
      view->offset = src.offset;
      for (size_t d = 0; d < offsets.size(); ++d) {
        if (offsets[d] < 0 || (sizes[d] > 0 && offsets[d] + (sizes[d] - 1) * strides[d] >= src.sizes[d]))
          fault(instr, "subview dimension " + std::to_string(d) + " reaches past the source's size " +
                           std::to_string(src.sizes[d]));
        view->offset += offsets[d] * src.strides[d];
        if (instr.ints[d])
          continue;
        view->sizes.push_back(sizes[d]);
        view->strides.push_back(src.strides[d] * strides[d]);
      }
      Datum d;
      d.view = view;
      set(0, d);
      return;
    }
    case Kind::Cast:
      set(0, operand(0));
      return;
    case Kind::ExpandShape: {
      auto expand = cast<memref::ExpandShapeOp>(op);
      const View &src = viewOf(instr, operand(0));
      auto view = std::make_shared<View>(src);
      view->sizes.clear();
      view->strides.clear();
      unsigned next = 1;
      SmallVector<int64_t, 4> shape;
      for (int64_t s : expand.getStaticOutputShape())
        shape.push_back(ShapedType::isDynamic(s) ? operand(next++).i : s);
      view->sizes = SmallVector<int64_t, 4>(shape.begin(), shape.end());
      view->strides.resize(shape.size());
      auto groups = expand.getReassociationIndices();
      for (size_t g = 0; g < groups.size(); ++g) {
        int64_t stride = src.strides[g];
        for (int k = static_cast<int>(groups[g].size()) - 1; k >= 0; --k) {
          view->strides[groups[g][k]] = stride;
          stride *= shape[groups[g][k]];
        }
      }
      Datum d;
      d.view = view;
      set(0, d);
      return;
    }
    case Kind::CollapseShape: {
      auto collapse = cast<memref::CollapseShapeOp>(op);
      const View &src = viewOf(instr, operand(0));
      auto view = std::make_shared<View>(src);
      view->sizes.clear();
      view->strides.clear();
      for (const auto &group : collapse.getReassociationIndices()) {
        int64_t size = 1;
        for (int64_t d : group)
          size *= src.sizes[d];
        view->sizes.push_back(size);
        view->strides.push_back(group.empty() ? 1 : src.strides[group.back()]);
      }
      Datum d;
      d.view = view;
      set(0, d);
      return;
    }
    case Kind::Transpose: {
      const View &src = viewOf(instr, operand(0));
      auto view = std::make_shared<View>(src);
      for (size_t d = 0; d < instr.ints.size(); ++d) {
        view->sizes[d] = src.sizes[instr.ints[d]];
        view->strides[d] = src.strides[instr.ints[d]];
      }
      Datum d;
      d.view = view;
      set(0, d);
      return;
    }
    case Kind::AlignedPointer: {
      Datum d;
      d.i = reinterpret_cast<int64_t>(viewOf(instr, operand(0)).base);
      set(0, d);
      return;
    }
    case Kind::StridedMetadata: {
      const View &src = viewOf(instr, operand(0));
      Datum base;
      base.view = std::make_shared<View>();
      base.view->base = src.base;
      base.view->elementBytes = src.elementBytes;
      set(0, base);
      Datum offset;
      offset.i = src.offset;
      set(1, offset);
      size_t rank = src.sizes.size();
      for (size_t d = 0; d < rank; ++d) {
        Datum s, t;
        s.i = src.sizes[d];
        t.i = src.strides[d];
        set(2 + d, s);
        set(2 + rank + d, t);
      }
      return;
    }
    case Kind::GetGlobal: {
      auto type = cast<MemRefType>(op->getResult(0).getType());
      Datum d;
      d.view = contiguousView(type, type.getShape(), reinterpret_cast<char *>(instr.constant.i));
      set(0, d);
      return;
    }
    case Kind::Dim: {
      Datum d;
      d.i = viewOf(instr, operand(0)).sizes[operand(1).i];
      set(0, d);
      return;
    }
    case Kind::Launch:
      launch(instr, frame);
      if (!instr.out.empty())
        set(0, Datum());
      return;
    case Kind::ThreadId:
    case Kind::BlockId:
    case Kind::BlockDim:
    case Kind::GridDim: {
      if (!current)
        fault(instr, "used outside a kernel");
      const int64_t *values = instr.kind == Kind::ThreadId  ? current->thread
                              : instr.kind == Kind::BlockId ? current->block
                              : instr.kind == Kind::BlockDim ? current->blockDim
                                                             : current->gridDim;
      Datum d;
      d.i = values[instr.aux];
      set(0, d);
      return;
    }
    case Kind::LaneId: {
      Datum d;
      d.i = current->linear % 32;
      set(0, d);
      return;
    }
    case Kind::Shuffle:
    case Kind::Barrier:
    case Kind::Mma: {
      if (!fiber)
        fault(instr, "collective operation outside a kernel");
      fiber->arguments.clear();
      for (unsigned k = 0; k < instr.in.size(); ++k)
        fiber->arguments.push_back(operand(k));
      fiber->at = &instr;
      fiber->state = instr.kind == Kind::Barrier ? FiberState::AtBarrier : FiberState::AtWarp;
      switchContext(fiber->context, scheduler);
      for (size_t k = 0; k < instr.out.size(); ++k)
        set(k, fiber->results[k]);
      return;
    }
    case Kind::Gep: {
      int64_t index = instr.ints[0] == LLVM::GEPOp::kDynamicIndex
                          ? signExtend(operand(1).i, scalarType(op->getOperand(1).getType()).width)
                          : instr.ints[0];
      Datum d;
      d.i = operand(0).i + index * instr.aux;
      set(0, d);
      return;
    }
    case Kind::LlvmLoad: {
      Type type = op->getResult(0).getType();
      const char *p = reinterpret_cast<const char *>(operand(0).i);
      if (!liveAt(p, byteSize(type)))
        fault(instr, "loads " + std::to_string(byteSize(type)) + " bytes outside every live buffer");
      recordAccess(instr, p, byteSize(type), /*write=*/false);
      recordMemoryAccess(instr, p, byteSize(type));
      set(0, loadValue(type, p));
      return;
    }
    case Kind::LlvmStore: {
      Type type = op->getOperand(0).getType();
      char *p = reinterpret_cast<char *>(operand(1).i);
      if (!liveAt(p, byteSize(type)))
        fault(instr, "stores " + std::to_string(byteSize(type)) + " bytes outside every live buffer");
      recordAccess(instr, p, byteSize(type), /*write=*/true);
      recordMemoryAccess(instr, p, byteSize(type));
      storeValue(type, operand(0), p);
      return;
    }
    case Kind::IntToPtr:
    case Kind::PtrToInt:
      set(0, operand(0));
      return;
    case Kind::ExtractValue:
      set(0, (*operand(0).elements)[instr.ints[0]]);
      return;
    case Kind::InsertValue: {
      Datum d = aggregate(0);
      *d.elements = *operand(0).elements;
      (*d.elements)[instr.ints[0]] = operand(1);
      set(0, d);
      return;
    }
    case Kind::InsertElement: {
      Datum d = aggregate(0);
      *d.elements = *operand(0).elements;
      int64_t position = operand(2).i;
      if (position < 0 || position >= static_cast<int64_t>(d.elements->size()))
        fault(instr, "position out of range");
      (*d.elements)[position] = operand(1);
      set(0, d);
      return;
    }
    case Kind::ExtractElement: {
      int64_t position = operand(1).i;
      if (position < 0 || position >= static_cast<int64_t>(operand(0).elements->size()))
        fault(instr, "position out of range");
      set(0, (*operand(0).elements)[position]);
      return;
    }
    case Kind::Undef: {
      Type type = op->getResult(0).getType();
      if (auto vector = dyn_cast<VectorType>(type))
        set(0, aggregate(vector.getNumElements()));
      else if (auto structure = dyn_cast<LLVM::LLVMStructType>(type))
        set(0, aggregate(structure.getBody().size()));
      else
        set(0, Datum());
      return;
    }
    case Kind::VectorExtract:
      set(0, (*operand(0).elements)[instr.ints[0]]);
      return;
    case Kind::Interleave: {
      const auto &l = *operand(0).elements, &r = *operand(1).elements;
      Datum d = aggregate(0);
      for (size_t k = 0; k < l.size(); ++k) {
        d.elements->push_back(l[k]);
        d.elements->push_back(r[k]);
      }
      set(0, d);
      return;
    }
    case Kind::Broadcast:
      set(0, aggregate(0));
      frame[instr.out[0]].elements->assign(cast<VectorType>(op->getResult(0).getType()).getNumElements(),
                                           operand(0));
      return;
    default:
      break;
    }
    // Elementwise arithmetic and math.
    if (instr.kind == Kind::Select && instr.aux) {
      set(0, (operand(0).i & 1) ? operand(1) : operand(2)); // memrefs, pointers, ...
      return;
    }
    if (!instr.vector) {
      const Datum *b = instr.in.size() > 1 ? &operand(1) : nullptr;
      const Datum *c = instr.in.size() > 2 ? &operand(2) : nullptr;
      Bits r = scalarOp(instr, operand(0), b, c);
      Datum &out = frame[instr.out[0]];
      out.i = r.i;
      out.f = r.f;
      return;
    }
    size_t n = cast<VectorType>(op->getResult(0).getType()).getNumElements();
    Datum d = aggregate(n);
    auto element = [&](unsigned k, size_t e) -> const Datum & {
      const Datum &v = operand(k);
      return v.elements ? (*v.elements)[e] : v; // a scalar select condition
    };
    for (size_t e = 0; e < n; ++e) {
      const Datum *b = instr.in.size() > 1 ? &element(1, e) : nullptr;
      const Datum *c = instr.in.size() > 2 ? &element(2, e) : nullptr;
      Bits r = scalarOp(instr, element(0, e), b, c);
      (*d.elements)[e].i = r.i;
      (*d.elements)[e].f = r.f;
    }
    set(0, d);
  }

  void copyView(const Instr &instr, const View &dst, const View &src) {
    if (dst.sizes != src.sizes || dst.elementBytes != src.elementBytes)
      fault(instr, "copy between memrefs of different shapes");
    checkView(instr, src, "the copy's source");
    checkView(instr, dst, "the copy's destination");
    std::vector<char *> targets;
    targets.reserve(numElements(dst));
    forEachElement(dst, [&](char *p) { targets.push_back(p); });
    size_t k = 0;
    forEachElement(src, [&](char *p) { std::memcpy(targets[k++], p, src.elementBytes); });
  }

  void callFunction(Function &fn, ArrayRef<Datum> arguments, SmallVectorImpl<Datum> &results) {
    std::vector<Datum> frame(fn.slots);
    runRegion(fn.body, frame, arguments, results);
  }

  //===--------------------------------------------------------------------===//
  // cuBLAS calls
  //===--------------------------------------------------------------------===//

  void runtimeCall(const Instr &instr, ArrayRef<Datum> arguments) {
    StringRef name = instr.name;
    bool batched = name.contains("batch_matmul");
    if (!name.contains("matmul") || arguments.size() < 5)
      fault(instr, "unknown runtime function @" + name.str());
    ++stats.matmuls;
    const View &a = viewOf(instr, arguments[0]), &b = viewOf(instr, arguments[1]),
               &c = viewOf(instr, arguments[2]);
    bool transposeB = arguments[3].i, accumulate = arguments[4].i;
    int64_t mathMode = arguments.size() > 5 ? arguments[5].i : 0;
    ScalarType abType = scalarType(cast<MemRefType>(instr.op->getOperand(0).getType()).getElementType());
    ScalarType cType = scalarType(cast<MemRefType>(instr.op->getOperand(2).getType()).getElementType());
    if (name.ends_with("bf16_to_bf16") && accumulate)
      fault(instr, "a bf16 result cannot accumulate");
    checkView(instr, a, "matrix A");
    checkView(instr, b, "matrix B");
    checkView(instr, c, "matrix C");
    unsigned r = batched ? 1 : 0;
    int64_t batch = batched ? c.sizes[0] : 1;
    int64_t m = c.sizes[r], n = c.sizes[r + 1], k = a.sizes[r + 1];
    int64_t bRows = transposeB ? b.sizes[r + 1] : b.sizes[r];
    int64_t bCols = transposeB ? b.sizes[r] : b.sizes[r + 1];
    int64_t bRowStride = transposeB ? b.strides[r + 1] : b.strides[r];
    int64_t bColStride = transposeB ? b.strides[r] : b.strides[r + 1];
    if (a.sizes[r] != m || bRows != k || bCols != n)
      fault(instr, "matrix shapes do not agree");
    // lib/Runtime/Cuda.cpp's test; C must be row-major.
    if (!rt::cuda::gemmAddressable(a.sizes[r], k, a.strides[r], a.strides[r + 1]) ||
        !rt::cuda::gemmAddressable(bRows, bCols, bRowStride, bColStride) ||
        !(n == 1 || c.strides[r + 1] == 1) || !(m == 1 || c.strides[r] >= n))
      fault(instr, "operand layout not addressable by cuBLAS");
    // cuBLAS's tiles read A and B while others write C: a result over a factor is a race.
    if (overlaps(c, a) || overlaps(c, b))
      fault(instr, std::string("the result overlaps matrix ") + (overlaps(c, a) ? "A" : "B") +
                       " (cuBLAS products are not in place)");
    auto batchOffset = [&](const View &v, int64_t i) {
      return batched && v.sizes[0] != 1 ? i * v.strides[0] : 0;
    };
    auto factor = [&](const View &v, int64_t off) {
      Datum d = loadScalar(abType, v.base + off * v.elementBytes);
      if (abType.kind == Scalar::F32 && mathMode == 1)
        return static_cast<double>(roundTf32(static_cast<float>(d.f)));
      if (abType.kind == Scalar::F32 && mathMode == 2)
        return roundTo(Scalar::BF16, d.f);
      return d.f;
    };
    std::vector<double> lhs(m * k), rhs(k * n);
    for (int64_t i = 0; i < batch; ++i) {
      int64_t ao = a.offset + batchOffset(a, i), bo = b.offset + batchOffset(b, i),
              co = c.offset + batchOffset(c, i);
      for (int64_t x = 0; x < m; ++x)
        for (int64_t y = 0; y < k; ++y)
          lhs[x * k + y] = factor(a, ao + x * a.strides[r] + y * a.strides[r + 1]);
      for (int64_t x = 0; x < k; ++x)
        for (int64_t y = 0; y < n; ++y)
          rhs[x * n + y] = factor(b, bo + x * bRowStride + y * bColStride);
      for (int64_t x = 0; x < m; ++x)
        for (int64_t y = 0; y < n; ++y) {
          double sum = 0;
          for (int64_t z = 0; z < k; ++z)
            sum += lhs[x * k + z] * rhs[z * n + y];
          char *p = c.base + (co + x * c.strides[r] + y * c.strides[r + 1]) * c.elementBytes;
          Datum out;
          out.f = roundTo(cType.kind, sum + (accumulate ? loadScalar(cType, p).f : 0.0));
          storeScalar(cType, out, p);
        }
    }
  }

  //===--------------------------------------------------------------------===//
  // Kernel launches
  //===--------------------------------------------------------------------===//

  void launch(const Instr &instr, std::vector<Datum> &frame) {
    auto launchOp = cast<gpu::LaunchFuncOp>(instr.op);
    auto value = [&](Value v) {
      return frame[instr.in[std::find(instr.op->operand_begin(), instr.op->operand_end(), v) -
                            instr.op->operand_begin()]];
    };
    int64_t grid[3] = {value(launchOp.getGridSizeX()).i, value(launchOp.getGridSizeY()).i,
                       value(launchOp.getGridSizeZ()).i};
    int64_t block[3] = {value(launchOp.getBlockSizeX()).i, value(launchOp.getBlockSizeY()).i,
                        value(launchOp.getBlockSizeZ()).i};
    int64_t sharedBytes = 0;
    if (launchOp.getDynamicSharedMemorySize())
      sharedBytes = value(launchOp.getDynamicSharedMemorySize()).i;
    SmallVector<Datum, 16> arguments;
    for (Value v : launchOp.getKernelOperands())
      arguments.push_back(value(v));
    runLaunch(&instr, *instr.kernel, grid, block, sharedBytes, arguments);
  }

  /// Runs every block of a launch. Faults in the launch itself name `where` (the
  /// gpu.launch_func), or the kernel when the launch came from outside the module.
  void runLaunch(const Instr *where, Kernel &kernel, const int64_t grid[3],
                 const int64_t block[3], int64_t sharedBytes, ArrayRef<Datum> arguments) {
    auto launchFault = [&](const std::string &problem) {
      if (where)
        fault(*where, problem);
      throw Error("launch of kernel @" + kernel.function.name + ": " + problem);
    };
    if (sharedBytes)
      launchFault("dynamic shared memory is not supported");
    int64_t threadsPerBlock = block[0] * block[1] * block[2];
    if (threadsPerBlock <= 0 || threadsPerBlock > 1024 || grid[0] <= 0 || grid[1] <= 0 || grid[2] <= 0)
      launchFault("launch of " + std::to_string(grid[0]) + "x" + std::to_string(grid[1]) + "x" +
                  std::to_string(grid[2]) + " blocks of " + std::to_string(threadsPerBlock) +
                  " threads");
    if (kernel.knownBlock && ((*kernel.knownBlock)[0] != block[0] ||
                              (*kernel.knownBlock)[1] != block[1] ||
                              (*kernel.knownBlock)[2] != block[2]))
      launchFault("block size differs from the kernel's known_block_size");
    for (size_t k = 0; k < arguments.size(); ++k)
      if (arguments[k].view && !viewInLiveBuffer(*arguments[k].view))
        launchFault("kernel argument " + std::to_string(k) +
                    " is not inside a live buffer (freed, or a view past its end)");
    ++stats.launches;
    shadow.clear(); // launches on one stream are ordered
    stats.threads += threadsPerBlock * grid[0] * grid[1] * grid[2];
    ThreadContext context;
    context.kernel = &kernel;
    for (int d = 0; d < 3; ++d) {
      context.blockDim[d] = block[d];
      context.gridDim[d] = grid[d];
    }
    std::vector<Datum> kernelFrame(kernel.function.slots); // shared by the threads of non-collective kernels
    for (int64_t bz = 0; bz < grid[2]; ++bz)
      for (int64_t by = 0; by < grid[1]; ++by)
        for (int64_t bx = 0; bx < grid[0]; ++bx) {
          context.block[0] = bx;
          context.block[1] = by;
          context.block[2] = bz;
          blockLinear = bx + grid[0] * (by + grid[1] * bz);
          phase = 0;
          runBlock(kernel, context, arguments, kernelFrame);
        }
  }

  /// Binds a thread's arguments, private buffers and the block's shared buffers.
  void bindArguments(const Kernel &kernel, std::vector<Datum> &frame, ArrayRef<Datum> arguments,
                     ArrayRef<Datum> shared, SmallVectorImpl<char *> &privateBuffers) {
    const Code &body = kernel.function.body;
    for (size_t k = 0; k < arguments.size(); ++k)
      frame[body.arguments[k]] = arguments[k];
    for (size_t k = 0; k < shared.size(); ++k)
      frame[body.arguments[arguments.size() + k]] = shared[k];
    for (size_t k = 0; k < kernel.privates.size(); ++k) {
      MemRefType type = kernel.privates[k];
      char *p = allocate(type.getNumElements() * byteSize(type.getElementType()), "private memory", true);
      privateBuffers.push_back(p);
      Datum d;
      d.view = contiguousView(type, type.getShape(), p);
      frame[body.arguments[arguments.size() + shared.size() + k]] = d;
    }
  }

  void runBlock(const Kernel &kernel, ThreadContext &context, ArrayRef<Datum> arguments,
                std::vector<Datum> &frame) {
    SmallVector<Datum, 2> shared;
    SmallVector<char *, 4> buffers;
    sharedBuffers.clear();
    uint64_t window = 0; // the buffers one after another, 16-byte aligned, as the GPU lays them
    for (MemRefType type : kernel.workgroup) {
      size_t bytes = type.getNumElements() * byteSize(type.getElementType());
      char *p = allocate(bytes, "shared memory", true);
      buffers.push_back(p);
      auto begin = reinterpret_cast<uintptr_t>(p);
      sharedBuffers.push_back({begin, begin + bytes, window});
      window = (window + bytes + 15) / 16 * 16;
      Datum d;
      d.view = contiguousView(type, type.getShape(), p);
      shared.push_back(d);
    }
    int64_t n = context.blockDim[0] * context.blockDim[1] * context.blockDim[2];
    auto setThread = [&](ThreadContext &t, int64_t linear) {
      t = context;
      t.linear = linear;
      t.thread[0] = linear % context.blockDim[0];
      t.thread[1] = (linear / context.blockDim[0]) % context.blockDim[1];
      t.thread[2] = linear / (context.blockDim[0] * context.blockDim[1]);
    };
    struct Reset {
      Impl &impl;
      ~Reset() {
        impl.current = nullptr;
        impl.fiber = nullptr;
      }
    } reset{*this};
    if (!kernel.collective) {
      // Arguments are never redefined: bind them once for the block's threads.
      ThreadContext thread;
      SmallVector<Datum, 1> none;
      for (int64_t t = 0; t < n; ++t) {
        setThread(thread, t);
        current = &thread;
        if (t == 0 || !kernel.privates.empty())
          bindArguments(kernel, frame, arguments, shared, buffers);
        run(kernel.function.body, frame, &none);
      }
    } else {
      runFibers(kernel, n, setThread, arguments, shared, buffers);
    }
    current = nullptr;
    if (countMemory)
      countMemoryAccesses(kernel.function.name);
    sharedBuffers.clear();
    for (char *p : buffers) {
      forgetAccesses(p, live[reinterpret_cast<uintptr_t>(p)].bytes);
      release(kernel.function.body.instrs.front(), p);
    }
  }

  [[noreturn]] static void fiberMain() {
    Impl *self = running;
    Fiber &f = *self->fiber;
    try {
      SmallVector<Datum, 1> none;
      self->run(f.thread.kernel->function.body, f.frame, &none);
      f.state = FiberState::Done;
    } catch (const std::exception &e) {
      f.error = e.what();
      f.state = FiberState::Failed;
    }
    switchContext(f.context, self->scheduler); // never resumed
    __builtin_unreachable();
  }
  static inline thread_local Impl *running = nullptr;

  template <typename SetThread>
  void runFibers(const Kernel &kernel, int64_t n, SetThread &setThread, ArrayRef<Datum> arguments,
                 ArrayRef<Datum> shared, SmallVectorImpl<char *> &buffers) {
    constexpr size_t kStack = 256 * 1024;
    while (static_cast<int64_t>(fibers.size()) < n) {
      fibers.push_back(std::make_unique<Fiber>());
      fibers.back()->stack.resize(kStack);
    }
    running = this;
    for (int64_t t = 0; t < n; ++t) {
      Fiber &f = *fibers[t];
      f.state = FiberState::Ready;
      f.error.clear();
      f.frame.assign(kernel.function.slots, Datum());
      setThread(f.thread, t);
      current = &f.thread;
      bindArguments(kernel, f.frame, arguments, shared, buffers);
      startContext(f.context, f.stack, &Impl::fiberMain);
    }
    int64_t warps = (n + 31) / 32;
    while (true) {
      for (int64_t t = 0; t < n; ++t) {
        Fiber &f = *fibers[t];
        if (f.state != FiberState::Ready)
          continue;
        fiber = &f;
        current = &f.thread;
        switchContext(scheduler, f.context);
        fiber = nullptr;
        if (f.state == FiberState::Failed)
          throw Error(f.error);
      }
      bool progress = false, allDone = true, allAtBarrier = true;
      const Instr *barrier = nullptr;
      for (int64_t w = 0; w < warps; ++w) {
        int64_t first = w * 32, last = std::min(n, first + 32);
        const Instr *at = nullptr;
        bool waiting = false, mixed = false;
        for (int64_t t = first; t < last; ++t) {
          Fiber &f = *fibers[t];
          if (f.state != FiberState::Done)
            allDone = false;
          if (f.state == FiberState::AtBarrier) {
            if (barrier && barrier != f.at)
              allAtBarrier = false; // different barriers: a deadlock unless resolved below
            barrier = f.at;
          } else if (f.state != FiberState::Done) {
            allAtBarrier = false;
          }
          if (f.state == FiberState::AtWarp) {
            if (at && at != f.at)
              mixed = true;
            at = f.at;
            waiting = true;
          }
        }
        if (!waiting)
          continue;
        for (int64_t t = first; t < last; ++t)
          if (fibers[t]->state != FiberState::AtWarp || fibers[t]->at != at)
            mixed = true;
        if (mixed) {
          current = &fibers[first]->thread;
          fault(*at, "warp " + std::to_string(w) +
                         ": not every lane reached this collective operation (divergence or exited lanes)");
        }
        resolveWarp(*at, first, last);
        progress = true;
      }
      if (allDone)
        break;
      if (!progress && allAtBarrier && barrier) {
        ++stats.collectives;
        ++phase;
        for (int64_t t = 0; t < n; ++t)
          if (fibers[t]->state == FiberState::AtBarrier) {
            fibers[t]->state = FiberState::Ready;
            fibers[t]->results.clear();
          }
        progress = true;
      }
      if (!progress) {
        for (int64_t t = 0; t < n; ++t)
          if (fibers[t]->state != FiberState::Done) {
            current = &fibers[t]->thread;
            fault(*fibers[t]->at, "deadlock: the block's threads wait at different barriers");
          }
      }
    }
  }

  void resolveWarp(const Instr &instr, int64_t first, int64_t last) {
    ++stats.collectives;
    int64_t lanes = last - first;
    auto lane = [&](int64_t l) -> Fiber & { return *fibers[first + l]; };
    if (instr.kind == Kind::Shuffle) {
      SmallVector<Datum, 32> values;
      for (int64_t l = 0; l < lanes; ++l)
        values.push_back(lane(l).arguments[0]);
      for (int64_t l = 0; l < lanes; ++l) {
        Fiber &f = lane(l);
        int64_t offset = f.arguments[1].i, width = f.arguments[2].i;
        int64_t source = l;
        switch (static_cast<gpu::ShuffleMode>(instr.aux)) {
        case gpu::ShuffleMode::XOR: source = l ^ offset; break;
        case gpu::ShuffleMode::DOWN: source = l + offset; break;
        case gpu::ShuffleMode::UP: source = l - offset; break;
        case gpu::ShuffleMode::IDX: source = offset; break;
        }
        bool valid = source >= 0 && source < width && width <= 32;
        if (valid && source >= lanes) {
          current = &f.thread;
          fault(instr, "reads lane " + std::to_string(source) + ", which does not exist (block of " +
                           std::to_string(lanes) + " lanes in this warp)");
        }
        f.results.clear();
        f.results.push_back(valid ? values[source] : values[l]);
        Datum v;
        v.i = valid;
        f.results.push_back(v);
        f.state = FiberState::Ready;
      }
      return;
    }
    // nvvm.mma.sync: D = A * B + C over the warp's fragments (PTX ISA, "Matrix Fragments for
    // mma.m16n8k16 / m16n8k8 with floating point type").
    if (lanes != 32) {
      current = &lane(0).thread;
      fault(instr, "mma.sync needs a full warp");
    }
    int64_t aRegs = instr.ints[0], bRegs = instr.ints[1], K = instr.ints[2];
    bool packedBf16 = instr.aux == 1, tf32 = instr.aux == 2;
    auto pair = [&](const Datum &reg, int half) -> double {
      if (!packedBf16)
        return (*reg.elements)[half].f;
      return bf16ToFloat(static_cast<uint16_t>(static_cast<uint64_t>(reg.i) >> (16 * half)));
    };
    // A TF32 register holds an f32's bits, of which the tensor cores read the top 19.
    auto tf32Value = [](const Datum &reg) -> double {
      uint32_t bits = static_cast<uint32_t>(reg.i) & 0xFFFFE000u;
      float v;
      std::memcpy(&v, &bits, sizeof v);
      return v;
    };
    double A[16][16] = {}, B[16][8] = {}, C[16][8] = {};
    for (int64_t l = 0; l < 32; ++l) {
      Fiber &f = lane(l);
      int64_t group = l >> 2, inGroup = l % 4;
      if (tf32) {
        // A: a0 (g, t), a1 (g + 8, t), a2 (g, t + 4), a3 (g + 8, t + 4); B: b0 (t, g), b1 (t + 4, g).
        for (int64_t i = 0; i < 4; ++i)
          A[i % 2 ? group + 8 : group][inGroup + (i >= 2 ? 4 : 0)] = tf32Value(f.arguments[i]);
        for (int64_t i = 0; i < 2; ++i)
          B[inGroup + 4 * i][group] = tf32Value(f.arguments[aRegs + i]);
      }
      for (int64_t i = 0; !tf32 && i < 2 * aRegs; ++i) {
        int64_t row = (i % 4 < 2) ? group : group + 8;
        int64_t col = inGroup * 2 + (i & 1) + (i >= 4 ? 8 : 0);
        A[row][col] = pair(f.arguments[i / 2], i & 1);
      }
      for (int64_t i = 0; !tf32 && i < 2 * bRegs; ++i) {
        int64_t row = inGroup * 2 + (i & 1) + (i >= 2 ? 8 : 0);
        B[row][group] = pair(f.arguments[aRegs + i / 2], i & 1);
      }
      for (int64_t i = 0; i < 4; ++i)
        C[i < 2 ? group : group + 8][inGroup * 2 + (i & 1)] = f.arguments[aRegs + bRegs + i].f;
    }
    for (int64_t l = 0; l < 32; ++l) {
      Fiber &f = lane(l);
      int64_t group = l >> 2, inGroup = l % 4;
      Datum d = aggregate(4);
      for (int64_t i = 0; i < 4; ++i) {
        int64_t row = i < 2 ? group : group + 8, col = inGroup * 2 + (i & 1);
        double sum = C[row][col];
        for (int64_t z = 0; z < K; ++z)
          sum += A[row][z] * B[z][col];
        (*d.elements)[i].f = static_cast<float>(sum);
      }
      f.results.clear();
      f.results.push_back(d);
      f.state = FiberState::Ready;
    }
  }
};

//===----------------------------------------------------------------------===//
// Public interface
//===----------------------------------------------------------------------===//

namespace {
bool dtypeOf(Type element, rt::DType &dtype) {
  if (element.isF32())
    dtype = rt::DType::F32;
  else if (element.isF64())
    dtype = rt::DType::F64;
  else if (element.isInteger(64) || element.isIndex())
    dtype = rt::DType::I64;
  else if (element.isInteger(32))
    dtype = rt::DType::I32;
  else if (element.isInteger(1))
    dtype = rt::DType::I1;
  else
    return false;
  return true;
}
} // namespace

CudaEmulator::CudaEmulator(ModuleOp module) : impl_(std::make_unique<Impl>(module)) {}
CudaEmulator::~CudaEmulator() = default;

std::vector<CudaEmulator::Argument> CudaEmulator::arguments(const std::string &function) const {
  auto func = impl_->module.lookupSymbol<func::FuncOp>(function);
  if (!func || func.isExternal())
    throw Error("no function @" + function + " in the module");
  std::vector<Argument> result;
  for (unsigned k = 0; k < func.getNumArguments(); ++k) {
    auto type = dyn_cast<MemRefType>(func.getArgument(k).getType());
    Argument arg;
    auto name = func.getArgAttrOfType<StringAttr>(k, "msdd.name");
    arg.name = name ? name.str() : "arg" + std::to_string(k);
    if (!type || !type.hasStaticShape() || !dtypeOf(type.getElementType(), arg.dtype))
      throw Error("argument '" + arg.name + "' of @" + function +
                                           " is not a statically shaped memref of f32, f64, i64, i32 or i1");
    arg.shape.assign(type.getShape().begin(), type.getShape().end());
    result.push_back(std::move(arg));
  }
  return result;
}

std::vector<rt::Tensor> CudaEmulator::call(const std::string &function,
                                           const std::vector<const rt::Tensor *> &inputs) {
  Impl &impl = *impl_;
  std::vector<Argument> args = arguments(function);
  if (inputs.size() > args.size())
    throw Error("@" + function + " takes " + std::to_string(args.size()) +
                                         " arguments, got " + std::to_string(inputs.size()));
  Function *fn = impl.hostFunction(function);
  auto func = impl.module.lookupSymbol<func::FuncOp>(function);
  std::vector<Datum> frame(fn->slots);
  SmallVector<Datum, 16> values;
  for (size_t k = 0; k < args.size(); ++k) {
    auto type = cast<MemRefType>(func.getArgument(k).getType());
    size_t bytes = type.getNumElements() * byteSize(type.getElementType());
    char *p;
    if (k < inputs.size()) {
      const rt::Tensor &t = *inputs[k];
      if (t.dtype() != args[k].dtype || t.shape() != args[k].shape)
        throw Error("input '" + args[k].name + "': expected " +
                                             rt::typeToString(args[k].dtype, args[k].shape) +
                                             ", got " + rt::typeToString(t.dtype(), t.shape()));
      p = impl.allocate(bytes, "input '" + args[k].name + "'", false);
      std::memcpy(p, t.rawData(), bytes);
    } else {
      p = impl.allocate(bytes, "output '" + args[k].name + "'", true);
    }
    Datum d;
    d.view = impl.contiguousView(type, args[k].shape, p);
    values.push_back(d);
  }
  SmallVector<Datum, 4> results;
  impl.runRegion(fn->body, frame, values, results);
  // Returned memrefs, then the output arguments.
  SmallVector<std::pair<Datum, Type>, 4> outputs;
  for (size_t k = 0; k < results.size(); ++k)
    outputs.push_back({results[k], func.getResultTypes()[k]});
  for (size_t k = inputs.size(); k < args.size(); ++k)
    outputs.push_back({values[k], func.getArgument(k).getType()});
  std::vector<rt::Tensor> tensors;
  for (auto &[datum, type] : outputs) {
    rt::DType dtype;
    auto memref = dyn_cast<MemRefType>(type);
    if (!datum.view || !memref || !dtypeOf(memref.getElementType(), dtype))
      throw Error("an output of @" + function +
                                           " is not a memref of f32, f64, i64, i32 or i1");
    const View &view = *datum.view;
    rt::Tensor t(dtype, std::vector<int64_t>(view.sizes.begin(), view.sizes.end()));
    char *out = static_cast<char *>(t.rawData());
    size_t bytes = view.elementBytes;
    Impl::forEachElement(view, [&](char *p) {
      std::memcpy(out, p, bytes);
      out += bytes;
    });
    tensors.push_back(std::move(t));
  }
  return tensors;
}

const EmulationStats &CudaEmulator::stats() const { return impl_->stats; }

void *CudaEmulator::allocateDevice(size_t bytes) {
  return impl_->allocate(bytes, "device buffer", true);
}

void CudaEmulator::freeDevice(void *p) {
  auto it = impl_->live.find(reinterpret_cast<uintptr_t>(p));
  if (it == impl_->live.end())
    throw Error("frees a device pointer that is not a live buffer");
  impl_->live.erase(it);
  std::free(p);
}

bool CudaEmulator::isDevice(const void *p, size_t bytes) const {
  return impl_->liveAt(static_cast<const char *>(p), bytes) != nullptr;
}

bool CudaEmulator::hasKernel(const std::string &name) { return impl_->kernelNamed(name); }

std::function<void()> CudaEmulator::prepareLaunch(const std::string &name,
                                                  const int64_t grid[3],
                                                  const int64_t block[3],
                                                  int64_t sharedBytes, void **params) {
  Impl &impl = *impl_;
  Kernel *kernel = impl.kernelNamed(name);
  if (!kernel)
    throw Error("no kernel @" + name + " in the kernels file");
  gpu::GPUFuncOp func = kernel->op;
  SmallVector<Datum, 16> arguments;
  size_t next = 0;
  auto word = [&]() -> void * { return params[next++]; };
  for (Type type : func.getArgumentTypes()) {
    Datum d;
    if (auto memref = dyn_cast<MemRefType>(type)) {
      auto view = std::make_shared<View>();
      word(); // the allocated pointer: only deallocation uses it
      view->base = *static_cast<char **>(word());
      view->offset = *static_cast<int64_t *>(word());
      view->elementBytes = byteSize(memref.getElementType());
      for (int64_t k = 0; k < memref.getRank(); ++k)
        view->sizes.push_back(*static_cast<int64_t *>(word()));
      for (int64_t k = 0; k < memref.getRank(); ++k)
        view->strides.push_back(*static_cast<int64_t *>(word()));
      for (int64_t k = 0; k < memref.getRank(); ++k)
        if (!memref.isDynamicDim(k) && memref.getDimSize(k) != view->sizes[k])
          throw Error("kernel @" + name + ": argument of type " + describeType(type) +
                      " launched with size " + std::to_string(view->sizes[k]) + " in dimension " +
                      std::to_string(k));
      d.view = std::move(view);
    } else {
      ScalarType t = scalarType(type);
      if (t.kind == Scalar::Other)
        throw Error("kernel @" + name + ": unsupported parameter type " + describeType(type));
      d = loadScalar(t, static_cast<const char *>(word()));
    }
    arguments.push_back(std::move(d));
  }
  std::array<int64_t, 3> gridSize = {grid[0], grid[1], grid[2]};
  std::array<int64_t, 3> blockSize = {block[0], block[1], block[2]};
  return [&impl, kernel, gridSize, blockSize, sharedBytes,
          arguments = std::vector<Datum>(arguments.begin(), arguments.end())] {
    impl.runLaunch(nullptr, *kernel, gridSize.data(), blockSize.data(), sharedBytes, arguments);
  };
}

float roundToTf32(float x) { return ::msdd::emulation::roundTf32(x); }
float roundToBf16(float x) { return bf16ToFloat(floatToBf16(x)); }

void CudaEmulator::setCheckRaces(bool check) { impl_->checkRaces = check; }
void CudaEmulator::setMemoryStats(bool count) { impl_->countMemory = count; }

} // namespace msdd::emulation
