//===- ImportONNX.cpp - ONNX ModelProto to msdd IR -------------------------===//
//
// Parsing and checking the model, the graph walk, the function's signature and the
// parameters. Op handlers live in Ops*.cpp, IR builders in Builders.cpp.
//
//===----------------------------------------------------------------------===//
#include "Importer.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Transforms/RegionUtils.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <google/protobuf/io/coded_stream.h>

#include <cstring>
#include <fstream>
#include <limits>
#include <set>

using namespace mlir;
using namespace mlir::msdd;
using namespace mlir::msdd::onnx_import;

//===----------------------------------------------------------------------===//
// Small helpers
//===----------------------------------------------------------------------===//

const char *onnx_import::ekName(EK k) {
  switch (k) {
  case EK::F32: return "f32";
  case EK::F64: return "f64";
  case EK::I32: return "i32";
  case EK::I64: return "i64";
  case EK::I1: return "i1";
  }
  return "?";
}

bool onnx_import::ekFromOnnx(int32_t t, EK &k) {
  switch (t) {
  case onnx::TensorProto::FLOAT: k = EK::F32; return true;
  case onnx::TensorProto::DOUBLE: k = EK::F64; return true;
  case onnx::TensorProto::INT32: k = EK::I32; return true;
  case onnx::TensorProto::INT64: k = EK::I64; return true;
  case onnx::TensorProto::BOOL: k = EK::I1; return true;
  default: return false;
  }
}

const char *onnx_import::onnxTypeName(int32_t t) {
  if (onnx::TensorProto::DataType_IsValid(t))
    return onnx::TensorProto::DataType_Name((onnx::TensorProto::DataType)t).c_str();
  return "an unknown type";
}

int64_t onnx_import::numel(ArrayRef<int64_t> shape) {
  // Saturates: shapes come from untrusted files.
  int64_t n = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n))
      return std::numeric_limits<int64_t>::max();
  return n;
}

std::string onnx_import::shapeStr(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

bool onnx_import::broadcastShape(ArrayRef<int64_t> a, ArrayRef<int64_t> b, Shape &out) {
  size_t rank = std::max(a.size(), b.size());
  out.assign(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    int64_t x = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t y = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (x != y && x != 1 && y != 1)
      return false;
    out[i] = x == 1 ? y : x;
  }
  return true;
}

Shape onnx_import::stridesOf(ArrayRef<int64_t> shape) {
  Shape s(shape.size(), 1);
  for (int64_t i = (int64_t)shape.size() - 2; i >= 0; --i)
    s[i] = s[i + 1] * shape[i + 1];
  return s;
}

HostTensor::HostTensor(EK kind, ArrayRef<int64_t> shape) : kind(kind), shape(shape) {
  if (isFloat(kind))
    f.assign(size(), 0.0);
  else
    i.assign(size(), 0);
}

void HostTensor::setF(int64_t k, double v) {
  switch (kind) {
  case EK::F32: f[k] = (double)(float)v; return;
  case EK::F64: f[k] = v; return;
  case EK::I1: i[k] = v != 0; return;
  case EK::I32: i[k] = (int32_t)(uint32_t)(uint64_t)saturatingInt(v); return;
  case EK::I64: i[k] = saturatingInt(v); return;
  }
}

void HostTensor::setI(int64_t k, int64_t v) {
  switch (kind) {
  case EK::F32: f[k] = (double)(float)v; return;
  case EK::F64: f[k] = (double)v; return;
  case EK::I1: i[k] = v != 0; return;
  case EK::I32: i[k] = (int32_t)(uint32_t)(uint64_t)v; return;
  case EK::I64: i[k] = v; return;
  }
}

int64_t onnx_import::saturatingInt(double v) {
  if (std::isnan(v))
    return 0;
  if (v >= 9.2233720368547758e18)
    return std::numeric_limits<int64_t>::max();
  if (v <= -9.2233720368547758e18)
    return std::numeric_limits<int64_t>::min();
  return (int64_t)v;
}

std::vector<int64_t> HostTensor::ints() const {
  std::vector<int64_t> r(size());
  for (int64_t k = 0; k < size(); ++k)
    r[k] = getI(k);
  return r;
}

std::map<std::string, Handler> &onnx_import::opHandlers() {
  static std::map<std::string, Handler> handlers;
  return handlers;
}

//===----------------------------------------------------------------------===//
// Importer: node access
//===----------------------------------------------------------------------===//

Importer::Importer(MLIRContext &ctx, const onnx::ModelProto &model, std::string baseDir,
                   const ImportOptions &options)
    : ctx(ctx), b(&ctx), loc(UnknownLoc::get(&ctx)), model(model), graph(model.graph()),
      baseDir(std::move(baseDir)), options(options) {}

std::string Importer::nodeDesc() const {
  if (!node)
    return "graph";
  std::string op = node->op_type();
  if (!node->name().empty())
    return "node '" + node->name() + "' (" + op + ")";
  std::string out = node->output_size() ? " producing '" + node->output(0) + "'" : "";
  return "node #" + std::to_string(nodeIndex) + out + " (" + op + ")";
}

LogicalResult Importer::fail(const Twine &problem) {
  if (error.empty())
    error = node ? nodeDesc() + ": " + problem.str() : problem.str();
  return failure();
}

LogicalResult Importer::checkDims(ArrayRef<int64_t> values, StringRef what) {
  for (int64_t v : values)
    if (v > kMaxDim || v < -kMaxDim)
      return fail(what + " value " + Twine(v) + " is too large (the limit is 2^31)");
  return success();
}

LogicalResult Importer::unsupported(const Twine &what) {
  return fail("unsupported: " + what);
}

Val *Importer::in(size_t i) {
  if (i >= (size_t)node->input_size() || node->input(i).empty())
    return nullptr;
  return lookup(node->input(i));
}

FailureOr<Val *> Importer::need(size_t i) {
  if (Val *v = in(i))
    return v;
  return fail("missing input " + Twine(i));
}

FailureOr<HostRef> Importer::needConst(size_t i, StringRef what) {
  Val *v = in(i);
  if (!v)
    return fail("missing input " + Twine(i) + " (" + what + ")");
  if (!v->host)
    return fail("the " + what + " operand '" + node->input(i) +
                "' is not known at import time (dynamic shapes are not supported: msdd "
                "needs static shapes)");
  return v->host;
}

void Importer::setOut(size_t i, Value v) {
  if (!hasOut(i))
    return;
  Val val;
  val.kind = kindOf(v);
  val.shape = shapeOf(v);
  val.value = v;
  values[node->output(i)] = std::move(val);
}

void Importer::setOut(size_t i, HostTensor t) {
  if (!hasOut(i))
    return;
  Val val;
  val.kind = t.kind;
  val.shape = t.shape;
  val.host = std::make_shared<const HostTensor>(std::move(t));
  values[node->output(i)] = std::move(val);
}

void Importer::setOut(size_t i, const Val &v) {
  if (!hasOut(i))
    return;
  Val copy = v;
  copy.initializer = v.initializer;
  values[node->output(i)] = std::move(copy);
}

const onnx::AttributeProto *Importer::attr(StringRef name) const {
  for (const auto &a : node->attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

int64_t Importer::attrInt(StringRef name, int64_t dflt) const {
  const auto *a = attr(name);
  return a ? a->i() : dflt;
}

double Importer::attrFloat(StringRef name, double dflt) const {
  const auto *a = attr(name);
  return a ? a->f() : dflt;
}

std::string Importer::attrString(StringRef name, StringRef dflt) const {
  const auto *a = attr(name);
  return a ? a->s() : dflt.str();
}

std::optional<std::vector<int64_t>> Importer::attrInts(StringRef name) const {
  const auto *a = attr(name);
  if (!a)
    return std::nullopt;
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

std::optional<std::vector<double>> Importer::attrFloats(StringRef name) const {
  const auto *a = attr(name);
  if (!a)
    return std::nullopt;
  return std::vector<double>(a->floats().begin(), a->floats().end());
}

const onnx::NodeProto *Importer::producer(const std::string &name) const {
  auto it = producers.find(name);
  return it == producers.end() ? nullptr : it->second;
}

Val *Importer::lookup(const std::string &name) {
  auto it = values.find(name);
  return it == values.end() ? nullptr : &it->second;
}

std::optional<double> Importer::scalarValue(const std::string &name) {
  Val *v = lookup(name);
  if (!v || !v->host || v->host->size() != 1)
    return std::nullopt;
  return v->host->getF(0);
}

int Importer::useCount(const std::string &name) const {
  auto it = uses.find(name);
  return it == uses.end() ? 0 : it->second;
}

//===----------------------------------------------------------------------===//
// Tensor data
//===----------------------------------------------------------------------===//

namespace {
template <typename T> T readLE(const char *p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
} // namespace

FailureOr<HostTensor> Importer::tensorFromProto(const onnx::TensorProto &t, StringRef what) {
  EK kind;
  if (!ekFromOnnx(t.data_type(), kind))
    return fail(what + " has element type " + onnxTypeName(t.data_type()) +
                ", which msdd does not support (float, double, int32, int64, bool)");
  Shape shape;
  for (int64_t d : t.dims()) {
    if (d < 0 || d > kMaxDim)
      return fail(what + " has a negative or too large dimension (" + Twine(d) + ")");
    shape.push_back(d);
  }
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d && n > std::numeric_limits<int64_t>::max() / 8 / d)
      return fail(what + " is too large");
    n *= d;
  }
  size_t elemBytes = kind == EK::F32 || kind == EK::I32 ? 4 : kind == EK::I1 ? 1 : 8;

  std::string external;
  const std::string *raw = nullptr;
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    uint64_t offset = 0, length = 0;
    bool hasLength = false;
    for (const auto &kv : t.external_data()) {
      if (kv.key() == "location")
        location = kv.value();
      else if (kv.key() == "offset")
        offset = std::strtoull(kv.value().c_str(), nullptr, 10);
      else if (kv.key() == "length") {
        length = std::strtoull(kv.value().c_str(), nullptr, 10);
        hasLength = true;
      }
    }
    if (baseDir.empty() || location.empty())
      return fail(what + " has external data that cannot be located");
    SmallString<256> path(baseDir);
    llvm::sys::path::append(path, location);
    auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
    if (!buf)
      return fail(what + ": cannot read external data '" + path.str() +
                  "': " + buf.getError().message());
    uint64_t size = (*buf)->getBufferSize();
    if (!hasLength)
      length = size >= offset ? size - offset : 0;
    if (offset > size || length > size - offset)
      return fail(what + ": external data '" + path.str() + "' is shorter than its offset + length");
    external.assign((*buf)->getBufferStart() + offset, length);
    raw = &external;
  } else if (t.has_raw_data()) {
    raw = &t.raw_data();
  }

  auto sizeError = [&](uint64_t have) {
    return fail(what + " holds " + Twine(have) + " values but its shape " + shapeStr(shape) +
                " needs " + Twine(n) + " (truncated or corrupt data)");
  };
  // Check the data's size before allocating anything: dims come from the file.
  int64_t have = raw ? (int64_t)(raw->size() / elemBytes)
                 : kind == EK::F32 ? t.float_data_size()
                 : kind == EK::F64 ? t.double_data_size()
                 : kind == EK::I64 ? t.int64_data_size()
                                   : t.int32_data_size();
  if (have != n || (raw && raw->size() % elemBytes))
    return sizeError(have);
  HostTensor h(kind, shape);
  if (raw) {
    const char *p = raw->data();
    for (int64_t k = 0; k < n; ++k, p += elemBytes) {
      switch (kind) {
      case EK::F32: h.f[k] = readLE<float>(p); break;
      case EK::F64: h.f[k] = readLE<double>(p); break;
      case EK::I32: h.i[k] = readLE<int32_t>(p); break;
      case EK::I64: h.i[k] = readLE<int64_t>(p); break;
      case EK::I1: h.i[k] = *p != 0; break;
      }
    }
    return h;
  }
  switch (kind) {
  case EK::F32:
    if (t.float_data_size() != n)
      return sizeError(t.float_data_size());
    for (int64_t k = 0; k < n; ++k)
      h.f[k] = t.float_data(k);
    break;
  case EK::F64:
    if (t.double_data_size() != n)
      return sizeError(t.double_data_size());
    for (int64_t k = 0; k < n; ++k)
      h.f[k] = t.double_data(k);
    break;
  case EK::I32:
  case EK::I1:
    if (t.int32_data_size() != n)
      return sizeError(t.int32_data_size());
    for (int64_t k = 0; k < n; ++k)
      h.i[k] = kind == EK::I1 ? t.int32_data(k) != 0 : t.int32_data(k);
    break;
  case EK::I64:
    if (t.int64_data_size() != n)
      return sizeError(t.int64_data_size());
    for (int64_t k = 0; k < n; ++k)
      h.i[k] = t.int64_data(k);
    break;
  }
  return h;
}

//===----------------------------------------------------------------------===//
// The graph
//===----------------------------------------------------------------------===//

LogicalResult Importer::checkModel() {
  if (!model.has_graph())
    return fail("not an ONNX model: it has no graph");
  bool found = false;
  for (const auto &op : model.opset_import()) {
    if (!op.domain().empty() && op.domain() != "ai.onnx")
      continue;
    found = true;
    opset = op.version();
  }
  if (!found)
    return fail("the model imports no opset of the default ONNX domain");
  if (opset > kOnnxMaxOpset)
    return fail("opset " + Twine(opset) + " is newer than supported (the newest is " +
                Twine(kOnnxMaxOpset) + ")");
  if (opset < kOnnxMinOpset)
    return fail("opset " + Twine(opset) + " is older than supported (opsets " +
                Twine(kOnnxMinOpset) + " to " + Twine(kOnnxMaxOpset) + ")");
  if (graph.output_size() == 0)
    return fail("the graph has no outputs");
  return success();
}

static std::string sanitize(const std::string &name) {
  std::string s;
  for (char c : name)
    s += (std::isalnum((unsigned char)c) || c == '_') ? c : '_';
  if (s.empty())
    s = "main";
  if (std::isdigit((unsigned char)s[0]))
    s = "g_" + s;
  return s;
}

LogicalResult Importer::addInitializers() {
  for (int k = 0; k < graph.initializer_size(); ++k) {
    const auto &t = graph.initializer(k);
    if (t.name().empty())
      return fail("initializer #" + Twine(k) + " has no name");
    auto h = tensorFromProto(t, "initializer '" + t.name() + "'");
    if (failed(h))
      return failure();
    Val v;
    v.kind = h->kind;
    v.shape = h->shape;
    bool weight = isFloat(h->kind) && h->size() > 1 && !options.inlineWeights;
    v.host = std::make_shared<const HostTensor>(std::move(*h));
    if (weight)
      v.initializer = k;
    values[t.name()] = std::move(v);
  }
  return success();
}

LogicalResult Importer::addInputs() {
  SmallVector<Type> types;
  SmallVector<std::string> names;
  for (const auto &input : graph.input()) {
    if (values.count(input.name()))
      continue; // an initializer (IR < 4 lists them as inputs too)
    const std::string &name = input.name();
    if (!input.type().has_tensor_type())
      return fail("input '" + name + "' is not a tensor (sequences, maps and optionals are "
                  "unsupported)");
    const auto &tt = input.type().tensor_type();
    EK kind;
    if (!ekFromOnnx(tt.elem_type(), kind))
      return fail("unsupported: input '" + name + "' has element type " +
                  onnxTypeName(tt.elem_type()) + " (msdd supports float, double, int32, int64, bool)");
    Shape shape;
    auto given = options.inputShapes.find(name);
    const std::vector<int64_t> *givenShape =
        given != options.inputShapes.end() ? &given->second
        : options.otherInputsShape.empty() ? nullptr
                                           : &options.otherInputsShape;
    if (givenShape) {
      shape.assign(givenShape->begin(), givenShape->end());
      if (failed(checkDims(shape, "--input-shape " + name)))
        return failure();
      if (tt.has_shape() && tt.shape().dim_size() != (int)shape.size())
        return fail("--input-shape gives input '" + name + "' rank " + Twine(shape.size()) +
                    " but the model declares rank " + Twine(tt.shape().dim_size()));
      // A caller's shape for any input (not one the user named) fills only dynamic dims.
      for (int d = 0; given == options.inputShapes.end() && tt.has_shape() &&
                      d < tt.shape().dim_size(); ++d)
        if (tt.shape().dim(d).has_dim_value() && tt.shape().dim(d).dim_value() != shape[d])
          return fail("input '" + name + "' must have shape " + shapeStr(shape) +
                      " here, but the model fixes dimension " + Twine(d) + " to " +
                      Twine(tt.shape().dim(d).dim_value()));
    } else {
      if (!tt.has_shape())
        return fail("input '" + name + "' has no shape (dynamic shapes are not supported; give "
                    "one with --input-shape " + name + "=D0xD1...)");
      for (int d = 0; d < tt.shape().dim_size(); ++d) {
        const auto &dim = tt.shape().dim(d);
        if (dim.has_dim_value() && dim.dim_value() > kMaxDim)
          return fail("input '" + name + "' has a too large dimension (" +
                      Twine(dim.dim_value()) + ")");
        if (!dim.has_dim_value() || dim.dim_value() < 0) {
          std::string sym = dim.has_dim_param() ? " ('" + dim.dim_param() + "')" : "";
          return fail("input '" + name + "' has a dynamic dimension " + std::to_string(d) + sym +
                      " (dynamic shapes are not supported; give a static shape with "
                      "--input-shape " + name + "=D0xD1...)");
        }
        shape.push_back(dim.dim_value());
      }
    }
    Val v;
    v.kind = kind;
    v.shape = shape;
    types.push_back(tensorType(shape, kind));
    names.push_back(name);
    values[name] = std::move(v);
  }
  for (const auto &[name, _] : options.inputShapes)
    if (!llvm::is_contained(names, name))
      return fail("--input-shape names '" + name + "', which is not a graph input");

  module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  func = b.create<func::FuncOp>(loc, sanitize(graph.name()), b.getFunctionType(types, {}));
  entry = func.addEntryBlock();
  for (size_t k = 0; k < names.size(); ++k) {
    values[names[k]].value = entry->getArgument(k);
    inputArgs.emplace_back(entry->getArgument(k), names[k]);
  }
  b.setInsertionPointToStart(entry);
  return success();
}

Value Importer::parameter(Val &v) {
  // Parameters follow the graph inputs in initializer order.
  size_t before = 0;
  for (auto &[index, arg] : params)
    if (index < v.initializer)
      ++before;
  unsigned pos = entry->getNumArguments() - params.size() + before;
  BlockArgument arg = entry->insertArgument(pos, tensorType(v.shape, v.kind), loc);
  params.emplace_back(v.initializer, arg);
  paramData[v.initializer] = v.host;
  return arg;
}

Value Importer::get(Val &v) {
  if (v.value)
    return v.value;
  if (v.initializer >= 0) {
    for (auto &[index, arg] : params)
      if (index == v.initializer)
        return v.value = arg;
    v.value = parameter(v);
  } else {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(entry, entry->begin()); // constants dominate every use
    v.value = constant(*v.host);
  }
  return v.value;
}

LogicalResult Importer::importGraph() {
  // Which node produces each value, and how often each value is used.
  for (int k = 0; k < graph.node_size(); ++k) {
    const auto &n = graph.node(k);
    for (const auto &o : n.output())
      if (!o.empty())
        producers[o] = &n;
    for (const auto &i : n.input())
      if (!i.empty())
        ++uses[i];
  }
  for (const auto &o : graph.output())
    ++uses[o.name()];

  auto &handlers = opHandlers();
  for (nodeIndex = 0; nodeIndex < graph.node_size(); ++nodeIndex) {
    node = &graph.node(nodeIndex);
    const std::string &domain = node->domain();
    std::string op = node->op_type();
    if (!domain.empty() && domain != "ai.onnx")
      op = domain + "." + op;
    auto it = handlers.find(op);
    if (it == handlers.end()) {
      std::string n = node->name().empty()
                          ? "#" + std::to_string(nodeIndex) +
                                (node->output_size() ? " producing '" + node->output(0) + "'" : "")
                          : "'" + node->name() + "'";
      error = "unsupported op '" + op + "' (node " + n + ")";
      return failure();
    }
    for (int k = 0; k < node->input_size(); ++k) {
      const std::string &name = node->input(k);
      if (!name.empty() && !values.count(name))
        return fail("input '" + name +
                    "' is not defined: not a graph input, initializer or earlier node output "
                    "(missing initializer?)");
    }
    for (const std::string &out : node->output())
      if (!out.empty() && values.count(out))
        return fail("value '" + out + "' is defined twice (the graph is not in SSA form)");
    // Later diagnostics (a compile error in an op from this node) name the node.
    loc = NameLoc::get(b.getStringAttr(
        node->name().empty() ? node->op_type() + " node " + std::to_string(nodeIndex)
                             : node->name()));
    LogicalResult handled = failure();
    try {
      handled = it->second(*this);
    } catch (const std::bad_alloc &) {
      return fail("a value is too large to compute at import time");
    } catch (const std::length_error &) {
      return fail("a value is too large to compute at import time");
    }
    if (failed(handled))
      return failure();
    for (int k = 0; k < node->output_size(); ++k) {
      if (node->output(k).empty())
        continue;
      Val *out = lookup(node->output(k));
      if (!out)
        return fail("output " + Twine(k) + " is not supported");
      for (int64_t d : out->shape)
        if (d < 0 || d > kMaxDim)
          return fail("output " + Twine(k) + " would have dimension " + Twine(d) +
                      " (negative or larger than 2^31)");
    }
  }
  node = nullptr;
  loc = UnknownLoc::get(&ctx);
  return success();
}

LogicalResult Importer::finish(std::vector<OnnxWeight> &weights) {
  b.setInsertionPointToEnd(entry);
  SmallVector<Value> results;
  SmallVector<Type> resultTypes;
  std::set<void *> returned;
  for (const auto &out : graph.output()) {
    Val *v = lookup(out.name());
    if (!v)
      return fail("graph output '" + out.name() + "' is not produced by any node");
    if (out.type().has_tensor_type()) {
      const auto &tt = out.type().tensor_type();
      EK declared;
      if (tt.elem_type() != 0 && (!ekFromOnnx(tt.elem_type(), declared) || declared != v->kind))
        return fail("graph output '" + out.name() + "' is declared " +
                    onnxTypeName(tt.elem_type()) + " but computes " + ekName(v->kind));
      if (tt.has_shape()) {
        bool mismatch = tt.shape().dim_size() != (int)v->shape.size();
        for (int d = 0; !mismatch && d < tt.shape().dim_size(); ++d)
          if (tt.shape().dim(d).has_dim_value() && tt.shape().dim(d).dim_value() != v->shape[d])
            mismatch = true;
        if (mismatch) {
          Shape decl;
          for (const auto &dim : tt.shape().dim())
            decl.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
          return fail("graph output '" + out.name() + "' is declared with shape " +
                      shapeStr(decl) + " but computes " + shapeStr(v->shape));
        }
      }
    }
    Value r = get(*v);
    // A result must be neither a function argument nor returned twice
    // (buffer-results-to-out-params cannot place either in the caller's buffer).
    if (llvm::isa<BlockArgument>(r) || !returned.insert(r.getAsOpaquePointer()).second)
      r = copy(r);
    returned.insert(r.getAsOpaquePointer());
    results.push_back(r);
    resultTypes.push_back(r.getType());
  }
  b.create<func::ReturnOp>(loc, results);

  // Remove what pattern matching (gelu, attention) left unused.
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(*entry)))
    if (isOpTriviallyDead(&op))
      op.erase();

  func.setFunctionType(b.getFunctionType(entry->getArgumentTypes(), resultTypes));
  // Argument attributes: graph inputs kept theirs by name; set all again by position.
  // (Values in `values` may have been erased above: name arguments from inputArgs.)
  std::map<unsigned, std::string> argNames;
  for (auto &[arg, name] : inputArgs)
    argNames[arg.getArgNumber()] = name;
  std::sort(params.begin(), params.end(),
            [](const auto &x, const auto &y) { return x.first < y.first; });
  for (auto &[index, arg] : params) {
    const auto &t = graph.initializer(index);
    argNames[arg.getArgNumber()] = t.name();
    const HostTensor &h = *paramData[index];
    OnnxWeight w;
    w.name = t.name();
    w.dtype = ekName(h.kind);
    w.shape.assign(h.shape.begin(), h.shape.end());
    if (h.kind == EK::F32) {
      w.data.resize(h.size() * 4);
      for (int64_t k = 0; k < h.size(); ++k) {
        float x = (float)h.f[k];
        std::memcpy(w.data.data() + 4 * k, &x, 4);
      }
    } else {
      w.data.resize(h.size() * 8);
      std::memcpy(w.data.data(), h.f.data(), w.data.size());
    }
    weights.push_back(std::move(w));
  }
  SmallVector<DictionaryAttr> argAttrs, resultAttrs;
  for (unsigned k = 0; k < entry->getNumArguments(); ++k) {
    SmallVector<NamedAttribute> attrs;
    if (argNames.count(k))
      attrs.push_back(b.getNamedAttr("msdd.name", b.getStringAttr(argNames[k])));
    argAttrs.push_back(b.getDictionaryAttr(attrs));
  }
  for (int k = 0; k < graph.output_size(); ++k)
    resultAttrs.push_back(b.getDictionaryAttr(
        {b.getNamedAttr("msdd.name", b.getStringAttr(graph.output(k).name()))}));
  func.setAllArgAttrs(argAttrs);
  func.setAllResultAttrs(resultAttrs);
  return success();
}

FailureOr<OwningOpRef<ModuleOp>> Importer::run(std::vector<OnnxWeight> &weights) {
  if (failed(checkModel()) || failed(addInitializers()) || failed(addInputs()) ||
      failed(importGraph()) || failed(finish(weights)))
    return failure();
  return std::move(module);
}

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

void mlir::msdd::registerOnnxImportDialects(DialectRegistry &registry) {
  registry.insert<func::FuncDialect, arith::ArithDialect, tensor::TensorDialect,
                  linalg::LinalgDialect, math::MathDialect, MsddDialect>();
}

static void registerHandlersOnce() {
  static bool done = [] {
    registerElementwiseOps();
    registerShapeOps();
    registerNNOps();
    registerMiscOps();
    return true;
  }();
  (void)done;
}

std::vector<std::string> mlir::msdd::supportedOnnxOps() {
  registerHandlersOnce();
  std::vector<std::string> ops;
  for (const auto &[name, _] : opHandlers())
    ops.push_back(name);
  return ops;
}

FailureOr<OwningOpRef<ModuleOp>>
mlir::msdd::importOnnxBuffer(MLIRContext &context, StringRef bytes, StringRef baseDir,
                             const ImportOptions &options, std::vector<OnnxWeight> &weights,
                             std::string &error) {
  registerHandlersOnce();
  DialectRegistry registry;
  registerOnnxImportDialects(registry);
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();

  onnx::ModelProto model;
  if (bytes.size() > (size_t)std::numeric_limits<int>::max()) {
    error = "the model is larger than 2 GiB (protobuf's limit; use external data)";
    return failure();
  }
  google::protobuf::io::CodedInputStream stream(
      reinterpret_cast<const uint8_t *>(bytes.data()), (int)bytes.size());
  stream.SetTotalBytesLimit(std::numeric_limits<int>::max());
  stream.SetRecursionLimit(64);
  if (!model.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage()) {
    error = "not a valid ONNX model (protobuf parsing failed: not protobuf, or truncated)";
    return failure();
  }
  if (!model.has_ir_version() || !model.has_graph()) {
    error = "not an ONNX model (no " + std::string(model.has_graph() ? "ir_version" : "graph") +
            "; not protobuf, or truncated)";
    return failure();
  }

  // Diagnostics (the verifier) become the error line.
  std::string diag;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
    if (d.getSeverity() == DiagnosticSeverity::Error && diag.empty())
      diag = d.str();
    return success();
  });
  Importer importer(context, model, baseDir.str(), options);
  auto module = importer.run(weights);
  if (failed(module)) {
    error = importer.error.empty() ? (diag.empty() ? "import failed" : diag) : importer.error;
    weights.clear();
    return failure();
  }
  if (failed(verify(**module))) {
    error = "internal error: the imported IR does not verify: " + diag;
    weights.clear();
    return failure();
  }
  return module;
}

FailureOr<OwningOpRef<ModuleOp>> mlir::msdd::importOnnx(MLIRContext &context, StringRef path,
                                                        const ImportOptions &options,
                                                        std::vector<OnnxWeight> &weights,
                                                        std::string &error) {
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buf) {
    error = "cannot open: " + buf.getError().message();
    return failure();
  }
  if (llvm::sys::fs::is_directory(path)) {
    error = "is a directory";
    return failure();
  }
  SmallString<256> dir(path);
  llvm::sys::path::remove_filename(dir);
  if (dir.empty())
    dir = ".";
  return importOnnxBuffer(context, (*buf)->getBuffer(), dir, options, weights, error);
}

FailureOr<OwningOpRef<ModuleOp>> mlir::msdd::importOnnx(MLIRContext &context, StringRef path,
                                                        const ImportOptions &options,
                                                        std::string &error) {
  std::vector<OnnxWeight> weights;
  return importOnnx(context, path, options, weights, error);
}
