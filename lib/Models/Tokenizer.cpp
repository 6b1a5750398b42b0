//===- Tokenizer.cpp - The multi-scale diffusion tokenizer as msdd IR ------===//
//
// One builder emits every function of docs/tokenizer.md from a config, so the encoder, the
// shared decoder, the sampler and the stage-1 loss cannot drift apart. The graphs are plain
// msdd ops: the passes see attention, norms and modulation whole.
//
//===----------------------------------------------------------------------===//
#include "msdd/Models/Tokenizer.h"
#include "msdd/Frontend/ONNX.h"
#include "llvm/Support/Path.h"

#include "msdd/Models/Schedule.h"
#include "msdd/MsddDialect.h"
#include "msdd/Transforms/Inlining.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

#include <cmath>

using namespace mlir;
using namespace mlir::msdd;

//===----------------------------------------------------------------------===//
// Config
//===----------------------------------------------------------------------===//

std::vector<int64_t> TokenizerConfig::resolutions() const {
  std::vector<int64_t> r;
  for (int64_t s = 0; s < numScales; ++s)
    r.push_back(imageSize >> (numScales - 1 - s));
  return r;
}

int64_t TokenizerConfig::nfe() const {
  return numScales * samplerSteps * (guidance == 1.0 ? 1 : 2);
}

int64_t TokenizerConfig::samplesAtScale(int64_t s) const {
  return batchSize / numScales + (s >= numScales - batchSize % numScales ? 1 : 0);
}

namespace {

/// Reads the keys of one JSON object, remembering the first problem.
class ConfigReader {
public:
  ConfigReader(const llvm::json::Object &object, std::string path, std::string &error)
      : object(object), path(std::move(path)), error(error) {}

  void integer(llvm::StringRef key, int64_t &out, bool required = true) {
    seen.push_back(key.str());
    const llvm::json::Value *v = object.get(key);
    if (!v) {
      if (required)
        fail("missing key '" + name(key) + "'");
      return;
    }
    if (auto i = v->getAsInteger())
      out = *i;
    else
      fail("'" + name(key) + "' must be an integer");
  }
  void number(llvm::StringRef key, double &out) {
    seen.push_back(key.str());
    if (const llvm::json::Value *v = object.get(key)) {
      if (auto d = v->getAsNumber())
        out = *d;
      else
        fail("'" + name(key) + "' must be a number");
    }
  }
  void string(llvm::StringRef key, std::string &out) {
    seen.push_back(key.str());
    if (const llvm::json::Value *v = object.get(key)) {
      if (auto s = v->getAsString())
        out = s->str();
      else
        fail("'" + name(key) + "' must be a string");
    }
  }
  /// A nested object (absent: an empty one, so its keys take their defaults).
  const llvm::json::Object *child(llvm::StringRef key, bool required = false) {
    seen.push_back(key.str());
    const llvm::json::Value *v = object.get(key);
    if (!v) {
      if (required)
        fail("missing key '" + name(key) + "'");
      return &empty;
    }
    if (const llvm::json::Object *o = v->getAsObject())
      return o;
    fail("'" + name(key) + "' must be an object");
    return &empty;
  }
  /// Unknown keys are errors: a typo must not silently fall back to a default.
  void rejectUnknown() {
    for (const auto &kv : object)
      if (!llvm::is_contained(seen, kv.first.str()))
        fail("unknown key '" + name(kv.first) + "'");
  }
  std::string name(llvm::StringRef key) const { return path.empty() ? key.str() : path + "." + key.str(); }
  void fail(const std::string &message) {
    if (error.empty())
      error = message;
  }

private:
  const llvm::json::Object &object;
  std::string path;
  std::string &error;
  std::vector<std::string> seen;
  llvm::json::Object empty;
};

} // namespace

std::optional<TokenizerConfig> mlir::msdd::parseTokenizerConfig(llvm::StringRef text,
                                                                std::string &error) {
  error.clear();
  llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(text);
  if (!parsed) {
    error = "not valid JSON: " + llvm::toString(parsed.takeError());
    return std::nullopt;
  }
  const llvm::json::Object *root = parsed->getAsObject();
  if (!root) {
    error = "the config must be a JSON object";
    return std::nullopt;
  }
  TokenizerConfig c;
  ConfigReader top(*root, "", error);
  top.string("name", c.name);
  top.integer("image_size", c.imageSize);
  top.integer("num_scales", c.numScales);
  top.integer("patch_size", c.patchSize);
  top.integer("latent_tokens", c.latentTokens);
  top.integer("latent_channels", c.latentChannels);
  top.integer("mlp_ratio", c.mlpRatio, false);
  top.integer("time_embed_dim", c.timeEmbedDim, false);
  top.number("rope_theta", c.ropeTheta);
  top.string("rope_layout", c.ropeLayout);
  for (auto [key, m] : {std::pair{"encoder", &c.encoder}, std::pair{"decoder", &c.decoder}}) {
    ConfigReader r(*top.child(key, true), key, error);
    r.integer("depth", m->depth);
    r.integer("hidden", m->hidden);
    r.integer("heads", m->heads);
    r.rejectUnknown();
  }
  ConfigReader sampler(*top.child("sampler"), "sampler", error);
  sampler.integer("steps", c.samplerSteps, false);
  sampler.number("guidance", c.guidance);
  sampler.number("gamma", c.gamma);
  sampler.rejectUnknown();
  ConfigReader train(*top.child("train"), "train", error);
  train.integer("batch_size", c.batchSize, false);
  train.number("lr", c.lr);
  train.number("beta1", c.beta1);
  train.number("beta2", c.beta2);
  train.number("weight_decay", c.weightDecay);
  train.number("latent_dropout", c.latentDropout);
  train.number("logit_normal_mean", c.logitNormalMean);
  train.number("logit_normal_std", c.logitNormalStd);
  train.string("loss_weighting", c.lossWeighting);
  train.number("logsnr_bias", c.logsnrBias);
  train.string("perceptual_network", c.perceptualNetwork);
  train.number("perceptual_weight", c.perceptualWeight);
  train.rejectUnknown();
  top.rejectUnknown();
  if (!error.empty())
    return std::nullopt;

  auto check = [&](bool ok, const std::string &message) {
    if (!ok && error.empty())
      error = message;
  };
  check(c.numScales >= 1 && c.numScales <= 8, "num_scales must be between 1 and 8");
  check(c.patchSize >= 1, "patch_size must be positive");
  if (error.empty()) {
    int64_t coarsest = c.imageSize >> (c.numScales - 1);
    check(c.imageSize > 0 && (coarsest << (c.numScales - 1)) == c.imageSize &&
              coarsest % c.patchSize == 0,
          "image_size " + std::to_string(c.imageSize) + " must halve " +
              std::to_string(c.numScales - 1) + " times to a multiple of patch_size " +
              std::to_string(c.patchSize));
  }
  check(c.latentTokens >= 1 && c.latentChannels >= 1,
        "latent_tokens and latent_channels must be positive");
  for (auto [key, m] : {std::pair{"encoder", c.encoder}, std::pair{"decoder", c.decoder}}) {
    std::string k = key;
    check(m.depth >= 1 && m.hidden >= 1 && m.heads >= 1,
          k + ".depth, .hidden and .heads must be positive");
    check(m.heads >= 1 && m.hidden % m.heads == 0 && (m.hidden / m.heads) % 4 == 0,
          k + ".hidden / " + k + ".heads must be a multiple of 4 (2-D RoPE)");
  }
  check(c.mlpRatio >= 1, "mlp_ratio must be positive");
  check(c.timeEmbedDim >= 2 && c.timeEmbedDim % 2 == 0, "time_embed_dim must be even");
  check(c.ropeTheta > 1, "rope_theta must be > 1");
  check(c.ropeLayout == "index" || c.ropeLayout == "aligned",
        "rope_layout must be 'index' or 'aligned'");
  check(c.samplerSteps >= 1, "sampler.steps must be positive");
  check(c.guidance >= 0, "sampler.guidance must be >= 0");
  check(c.gamma > 0 && c.gamma <= 1.0 / 3.0 + 1e-12, "sampler.gamma must be in (0, 1/3]");
  check(c.batchSize >= c.numScales,
        "train.batch_size must be at least num_scales (each scale gets samples)");
  check(c.lr > 0, "train.lr must be positive");
  check(c.latentDropout >= 0 && c.latentDropout < 1, "train.latent_dropout must be in [0, 1)");
  check(c.logitNormalStd > 0, "train.logit_normal_std must be positive");
  check(c.lossWeighting == "none" || c.lossWeighting == "sigmoid_logsnr",
        "train.loss_weighting must be 'none' or 'sigmoid_logsnr'");
  check(c.perceptualWeight >= 0, "train.perceptual_weight must be >= 0");
  if (!error.empty())
    return std::nullopt;
  return c;
}

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

namespace {

using Shape = SmallVector<int64_t>;

enum class Init { Fan, Zero, One, Small };

struct ParamSpec {
  std::string name;
  Shape shape;
  Init init;
};

enum class Part { Encoder, Decoder };

bool isPreOnly(Part part, int64_t block, int64_t depth, bool latentStream) {
  // The last block's stream whose output nobody reads: the encoder's image tokens, the
  // decoder's latent tokens.
  return block == depth - 1 && (part == Part::Encoder ? !latentStream : latentStream);
}

std::string blockPrefix(Part part, int64_t block, bool latentStream) {
  return std::string(part == Part::Encoder ? "encoder" : "decoder") + ".blocks." +
         std::to_string(block) + (latentStream ? ".lat" : ".img");
}

std::vector<ParamSpec> parameterSpecs(const TokenizerConfig &c) {
  std::vector<ParamSpec> specs;
  auto linear = [&](const std::string &name, int64_t out, int64_t in, bool zero = false) {
    specs.push_back({name + ".weight", {out, in}, zero ? Init::Zero : Init::Fan});
    specs.push_back({name + ".bias", {out}, Init::Zero});
  };
  auto norm = [&](const std::string &name, int64_t dim) {
    specs.push_back({name + ".weight", {dim}, Init::One});
    specs.push_back({name + ".bias", {dim}, Init::Zero});
  };
  int64_t patchFeatures = 3 * c.patchSize * c.patchSize;
  auto blocks = [&](Part part, const MmditConfig &m) {
    int64_t h = m.hidden, dh = m.hidden / m.heads, hm = c.mlpRatio * m.hidden;
    for (int64_t i = 0; i < m.depth; ++i)
      for (bool lat : {false, true}) {
        std::string p = blockPrefix(part, i, lat);
        bool preOnly = isPreOnly(part, i, m.depth, lat);
        if (part == Part::Decoder)
          linear(p + ".mod", (preOnly ? 2 : 6) * h, h, /*zero=*/true);
        linear(p + ".q", h, h);
        linear(p + ".k", h, h);
        linear(p + ".v", h, h);
        norm(p + ".q_norm", dh);
        norm(p + ".k_norm", dh);
        if (preOnly)
          continue;
        linear(p + ".proj", h, h);
        linear(p + ".mlp.gate", hm, h);
        linear(p + ".mlp.up", hm, h);
        linear(p + ".mlp.down", h, hm);
      }
  };
  const MmditConfig &e = c.encoder, &d = c.decoder;
  linear("encoder.patch_embed", e.hidden, patchFeatures);
  specs.push_back({"encoder.latent_tokens", {c.latentTokens, e.hidden}, Init::Small});
  blocks(Part::Encoder, e);
  linear("encoder.out", c.latentChannels, e.hidden);
  linear("decoder.patch_embed", d.hidden, patchFeatures);
  linear("decoder.latent_embed", d.hidden, c.latentChannels);
  linear("decoder.time_embed.fc1", d.hidden, c.timeEmbedDim);
  linear("decoder.time_embed.fc2", d.hidden, d.hidden);
  blocks(Part::Decoder, d);
  linear("decoder.final.mod", 2 * d.hidden, d.hidden, /*zero=*/true);
  linear("decoder.final.linear", patchFeatures, d.hidden, /*zero=*/true);
  specs.push_back({"null_latent", {c.latentTokens, c.latentChannels}, Init::Small});
  return specs;
}

/// The latent tokens' RoPE grid: gh the largest divisor of N that is <= sqrt(N).
std::pair<int64_t, int64_t> latentGrid(int64_t n) {
  int64_t gh = 1;
  for (int64_t d = 1; d * d <= n; ++d)
    if (n % d == 0)
      gh = d;
  return {gh, n / gh};
}

/// x with P(N(0, 1) < x) = p, by bisection on erfc (only for config constants).
double normalQuantile(double p) {
  double lo = -40, hi = 40;
  for (int i = 0; i < 200; ++i) {
    double mid = 0.5 * (lo + hi);
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

//===----------------------------------------------------------------------===//
// Graph emission
//===----------------------------------------------------------------------===//

/// Emits msdd ops with result shapes worked out from the operands.
class Graph {
public:
  Graph(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  OpBuilder &b;
  Location loc;
  llvm::StringMap<Value> params;

  RankedTensorType type(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, b.getF32Type());
  }
  static ArrayRef<int64_t> shape(Value v) { return cast<RankedTensorType>(v.getType()).getShape(); }

  Value param(const std::string &name) {
    auto it = params.find(name);
    assert(it != params.end() && "parameter not passed to this function");
    return it->second;
  }
  Value linear(Value x, const std::string &name) {
    Value w = param(name + ".weight");
    Shape s(shape(x));
    s.back() = shape(w)[0];
    return b.create<LinearOp>(loc, type(s), x, w, param(name + ".bias"));
  }
  template <typename OpT> Value binary(Value x, Value y) {
    auto s = broadcastShapes(shape(x), shape(y));
    assert(succeeded(s) && "operands must broadcast");
    return b.create<OpT>(loc, type(*s), x, y);
  }
  Value add(Value x, Value y) { return binary<AddOp>(x, y); }
  Value sub(Value x, Value y) { return binary<SubOp>(x, y); }
  Value mul(Value x, Value y) { return binary<MulOp>(x, y); }
  template <typename OpT> Value unary(Value x) { return b.create<OpT>(loc, x.getType(), x); }
  /// x * factor + bias.
  Value affine(Value x, double factor, double bias = 0.0) {
    return b.create<ScaleOp>(loc, x.getType(), x, b.getF64FloatAttr(factor),
                             b.getF64FloatAttr(bias));
  }
  Value reshape(Value x, ArrayRef<int64_t> s) {
    return shape(x) == s ? x : b.create<ReshapeOp>(loc, type(s), x).getResult();
  }
  Value transpose(Value x, ArrayRef<int64_t> perm) {
    Shape s;
    for (int64_t p : perm)
      s.push_back(shape(x)[p]);
    return b.create<TransposeOp>(loc, type(s), x, perm);
  }
  Value broadcastTo(Value x, ArrayRef<int64_t> s) {
    return shape(x) == s ? x : b.create<BroadcastOp>(loc, type(s), x).getResult();
  }
  Value slice(Value x, int64_t axis, int64_t start, int64_t size) {
    Shape s(shape(x));
    if (start == 0 && s[axis] == size)
      return x;
    s[axis] = size;
    return b.create<SliceOp>(loc, type(s), x, axis, start);
  }
  Value concat(ValueRange xs, int64_t axis) {
    Shape s(shape(xs[0]));
    s[axis] = 0;
    for (Value x : xs)
      s[axis] += shape(x)[axis];
    return b.create<ConcatOp>(loc, type(s), xs, axis);
  }
  Value layerNorm(Value x) {
    return b.create<LayerNormOp>(loc, x.getType(), x, Value(), Value(), b.getF64FloatAttr(1e-6));
  }
  Value layerNorm(Value x, const std::string &name) {
    return b.create<LayerNormOp>(loc, x.getType(), x, param(name + ".weight"),
                                 param(name + ".bias"), b.getF64FloatAttr(1e-6));
  }
  Value normal(Value seed, int64_t step, uint32_t stream, ArrayRef<int64_t> s) {
    Value stepValue = b.create<arith::ConstantIntOp>(loc, step, 64);
    return b.create<RandomNormalOp>(loc, type(s), seed, stepValue, stream);
  }
  Value constant(ArrayRef<int64_t> s, double value) {
    return b.create<arith::ConstantOp>(loc, DenseElementsAttr::get(type(s), b.getF32FloatAttr(value)));
  }
};

/// One stream of an MMDiT block while it is being built.
struct Stream {
  Value x;
  int64_t gridHeight, gridWidth;
  std::string prefix;
  bool preOnly;
  SmallVector<Value, 6> modulation; // shift1 scale1 gate1 shift2 scale2 gate2
  Value q, k, v;
  /// RoPE positions: offset + step * grid index, per axis.
  double rowStep = 1, rowOffset = 0, colStep = 1, colOffset = 0;
};

class TokenizerGraph : public Graph {
public:
  TokenizerGraph(OpBuilder &b, Location loc, const TokenizerConfig &c) : Graph(b, loc), c(c) {}

  /// images [n, 3, R, R] in [0, 1] -> latent [n, N, C].
  Value encode(Value images) {
    const MmditConfig &m = c.encoder;
    Value x = affine(images, 2.0, -1.0);
    int64_t n = shape(x)[0], grid = shape(x)[2] / c.patchSize;
    auto [gh, gw] = latentGrid(c.latentTokens);
    Stream img{linear(patchify(x), "encoder.patch_embed"), grid, grid, "", false, {}, {}, {}, {}};
    Stream lat{broadcastTo(param("encoder.latent_tokens"), {n, c.latentTokens, m.hidden}),
               gh, gw, "", false, {}, {}, {}, {}};
    placeOnImage(lat);
    for (int64_t i = 0; i < m.depth; ++i)
      block(Part::Encoder, i, img, lat, Value());
    return linear(layerNorm(lat.x), "encoder.out");
  }

  /// x [n, 3, r, r], tau [n], latent [n, N, C] -> velocity [n, 3, r, r].
  Value denoise(Value x, Value tau, Value latent) {
    const MmditConfig &m = c.decoder;
    int64_t n = shape(x)[0], r = shape(x)[2], grid = r / c.patchSize;
    auto [gh, gw] = latentGrid(c.latentTokens);
    Stream img{linear(patchify(x), "decoder.patch_embed"), grid, grid, "", false, {}, {}, {}, {}};
    Stream lat{linear(latent, "decoder.latent_embed"), gh, gw, "", false, {}, {}, {}, {}};
    placeOnImage(img);
    placeOnImage(lat);
    Value temb = b.create<TimestepEmbeddingOp>(loc, type({n, c.timeEmbedDim}), tau,
                                               b.getF64FloatAttr(10000.0),
                                               b.getF64FloatAttr(1000.0));
    Value cond = linear(unary<SiluOp>(linear(temb, "decoder.time_embed.fc1")),
                        "decoder.time_embed.fc2");
    Value activeCond = unary<SiluOp>(cond);
    for (int64_t i = 0; i < m.depth; ++i)
      block(Part::Decoder, i, img, lat, activeCond);
    Value mod = linear(activeCond, "decoder.final.mod");
    Value h = modulate(layerNorm(img.x), slice(mod, 1, 0, m.hidden),
                       slice(mod, 1, m.hidden, m.hidden));
    Value patches = linear(h, "decoder.final.linear");
    return b.create<UnpatchifyOp>(loc, type({n, 3, r, r}), patches, c.patchSize);
  }

private:
  const TokenizerConfig &c;

  Value patchify(Value x) {
    ArrayRef<int64_t> s = shape(x);
    int64_t p = c.patchSize;
    return b.create<PatchifyOp>(loc, type({s[0], (s[2] / p) * (s[3] / p), s[1] * p * p}), x, p);
  }
  Value modulate(Value x, Value shift, Value scale) {
    return b.create<ModulateOp>(loc, x.getType(), x, shift, scale);
  }
  /// [n, L, H] -> [n, heads, L, H / heads]
  Value splitHeads(Value x, int64_t heads) {
    ArrayRef<int64_t> s = shape(x);
    return transpose(reshape(x, {s[0], s[1], heads, s[2] / heads}), {0, 2, 1, 3});
  }
  Value mergeHeads(Value x) {
    Value t = transpose(x, {0, 2, 1, 3});
    ArrayRef<int64_t> s = shape(t);
    return reshape(t, {s[0], s[1], s[2] * s[3]});
  }
  /// x * gate, gate [n, H] applying to every token.
  Value gated(Value x, Value gate) {
    return mul(x, reshape(gate, {shape(gate)[0], 1, shape(gate)[1]}));
  }
  Value rope(Value x, const Stream &s) {
    return b.create<Rope2dOp>(loc, x.getType(), x, s.gridHeight, s.gridWidth,
                              llvm::APFloat(c.ropeTheta), /*inverse=*/false,
                              llvm::APFloat(s.rowStep), llvm::APFloat(s.rowOffset),
                              llvm::APFloat(s.colStep), llvm::APFloat(s.colOffset));
  }
  /// With rope_layout "aligned", spreads the stream's grid over the full-resolution patch
  /// grid: a token sits at the centre of the area it covers, so a latent token keeps the
  /// same place relative to the image's patches at every scale.
  void placeOnImage(Stream &s) const {
    if (c.ropeLayout != "aligned")
      return;
    double full = double(c.imageSize / c.patchSize);
    s.rowStep = full / double(s.gridHeight);
    s.colStep = full / double(s.gridWidth);
    s.rowOffset = (s.rowStep - 1) / 2;
    s.colOffset = (s.colStep - 1) / 2;
  }

  /// One MMDiT block over both streams; `cond` (silu of the conditioning) is null in the
  /// encoder, which has no modulation.
  void block(Part part, int64_t index, Stream &img, Stream &lat, Value cond) {
    const MmditConfig &m = part == Part::Encoder ? c.encoder : c.decoder;
    int64_t h = m.hidden;
    for (auto [stream, isLatent] : {std::pair{&img, false}, std::pair{&lat, true}}) {
      Stream &s = *stream;
      s.prefix = blockPrefix(part, index, isLatent);
      s.preOnly = isPreOnly(part, index, m.depth, isLatent);
      s.modulation.clear();
      Value normed = layerNorm(s.x);
      if (cond) {
        Value mod = linear(cond, s.prefix + ".mod");
        for (int64_t i = 0, e = s.preOnly ? 2 : 6; i < e; ++i)
          s.modulation.push_back(slice(mod, 1, i * h, h));
        normed = modulate(normed, s.modulation[0], s.modulation[1]);
      }
      s.q = rope(layerNorm(splitHeads(linear(normed, s.prefix + ".q"), m.heads), s.prefix + ".q_norm"), s);
      s.k = rope(layerNorm(splitHeads(linear(normed, s.prefix + ".k"), m.heads), s.prefix + ".k_norm"), s);
      s.v = splitHeads(linear(normed, s.prefix + ".v"), m.heads);
    }
    Value q = concat({img.q, lat.q}, 2), k = concat({img.k, lat.k}, 2),
          v = concat({img.v, lat.v}, 2);
    Value attended = b.create<AttentionOp>(loc, q.getType(), q, k, v, Value(), FloatAttr());
    int64_t imgTokens = shape(img.q)[2], latTokens = shape(lat.q)[2];
    Value parts[2] = {slice(attended, 2, 0, imgTokens), slice(attended, 2, imgTokens, latTokens)};
    for (auto [stream, part] : llvm::zip(std::array<Stream *, 2>{&img, &lat}, parts)) {
      Stream &s = *stream;
      if (s.preOnly)
        continue;
      Value out = linear(mergeHeads(part), s.prefix + ".proj");
      s.x = add(s.x, cond ? gated(out, s.modulation[2]) : out);
      Value normed = layerNorm(s.x);
      if (cond)
        normed = modulate(normed, s.modulation[3], s.modulation[4]);
      Value gate = linear(normed, s.prefix + ".mlp.gate");
      Value up = linear(normed, s.prefix + ".mlp.up");
      Value hidden = b.create<SwigluOp>(loc, gate.getType(), gate, up);
      Value mlp = linear(hidden, s.prefix + ".mlp.down");
      s.x = add(s.x, cond ? gated(mlp, s.modulation[5]) : mlp);
    }
  }
};

//===----------------------------------------------------------------------===//
// Functions
//===----------------------------------------------------------------------===//

struct Input {
  std::string name;
  Type type;
};

class ModuleBuilder {
public:
  ModuleBuilder(MLIRContext *ctx, const TokenizerConfig &c, func::FuncOp featureNetwork)
      : c(c), loc(UnknownLoc::get(ctx)), b(ctx), specs(parameterSpecs(c)),
        featureNetwork(featureNetwork) {
    module = ModuleOp::create(loc);
    b.setInsertionPointToEnd(module->getBody());
  }

  OwningOpRef<ModuleOp> build(TokenizerLoss loss, bool pairCfg) {
    pairCfg_ = pairCfg;
    buildInit();
    buildEncode();
    std::vector<int64_t> res = c.resolutions();
    for (size_t s = 0; s < res.size(); ++s)
      buildDenoise(s, res[s]);
    if (pairCfg_)
      for (size_t s = 0; s < res.size(); ++s)
        buildPairDenoise(s, res[s]);
    buildDecode();
    buildReconstruct();
    if (loss == TokenizerLoss::Stage1)
      buildLoss();
    else if (loss == TokenizerLoss::Distill)
      buildDistillLoss();
    return std::move(module);
  }

private:
  const TokenizerConfig &c;
  Location loc;
  bool pairCfg_ = false;
  OpBuilder b;
  std::vector<ParamSpec> specs;
  func::FuncOp featureNetwork;
  OwningOpRef<ModuleOp> module;

  RankedTensorType f32(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, b.getF32Type());
  }
  Type seedType() { return RankedTensorType::get({}, b.getI64Type()); }
  Type imagesType(int64_t n) { return f32({n, 3, c.imageSize, c.imageSize}); }
  Type latentType(int64_t n) { return f32({n, c.latentTokens, c.latentChannels}); }

  std::vector<const ParamSpec *> select(llvm::StringRef prefix) {
    std::vector<const ParamSpec *> out;
    for (const ParamSpec &p : specs)
      if (llvm::StringRef(p.name).starts_with(prefix))
        out.push_back(&p);
    return out;
  }
  std::vector<const ParamSpec *> decoderParams() {
    std::vector<const ParamSpec *> out = select("decoder.");
    out.push_back(&specs.back()); // null_latent
    return out;
  }

  /// A public function: `inputs` then `params` as arguments, named; returns the graph with
  /// the parameters bound and the builder inside the body.
  func::FuncOp function(llvm::StringRef name, ArrayRef<Input> inputs,
                        ArrayRef<const ParamSpec *> params, ArrayRef<Input> results,
                        TokenizerGraph &g, bool trainable = false) {
    SmallVector<Type> argTypes, resultTypes;
    for (const Input &in : inputs)
      argTypes.push_back(in.type);
    for (const ParamSpec *p : params)
      argTypes.push_back(f32(p->shape));
    for (const Input &r : results)
      resultTypes.push_back(r.type);
    b.setInsertionPointToEnd(module->getBody());
    auto fn = b.create<func::FuncOp>(loc, name, b.getFunctionType(argTypes, resultTypes));
    Block *body = fn.addEntryBlock();
    for (auto [i, in] : llvm::enumerate(inputs))
      fn.setArgAttr(i, "msdd.name", b.getStringAttr(in.name));
    for (auto [i, p] : llvm::enumerate(params)) {
      unsigned arg = inputs.size() + i;
      fn.setArgAttr(arg, "msdd.name", b.getStringAttr(p->name));
      if (trainable)
        fn.setArgAttr(arg, "msdd.param", b.getUnitAttr());
      g.params[p->name] = body->getArgument(arg);
    }
    for (auto [i, r] : llvm::enumerate(results))
      fn.setResultAttr(i, "msdd.name", b.getStringAttr(r.name));
    b.setInsertionPointToStart(body);
    return fn;
  }

  Value seedScalar(Value seed) { return b.create<tensor::ExtractOp>(loc, seed, ValueRange{}); }

  void buildInit() {
    TokenizerGraph g(b, loc, c);
    SmallVector<Input> results;
    for (const ParamSpec &p : specs)
      results.push_back({p.name, f32(p.shape)});
    func::FuncOp fn = function("init", {{"seed", seedType()}}, {}, results, g);
    Value seed = seedScalar(fn.getArgument(0));
    SmallVector<Value> values;
    for (auto [i, p] : llvm::enumerate(specs)) {
      switch (p.init) {
      case Init::Fan:
        values.push_back(g.affine(g.normal(seed, 0, (uint32_t)i, p.shape), 1.0 / std::sqrt((double)p.shape.back())));
        break;
      case Init::Small:
        values.push_back(g.affine(g.normal(seed, 0, (uint32_t)i, p.shape), 0.02));
        break;
      case Init::Zero:
        values.push_back(g.constant(p.shape, 0.0));
        break;
      case Init::One:
        values.push_back(g.constant(p.shape, 1.0));
        break;
      }
    }
    b.create<func::ReturnOp>(loc, values);
  }

  void buildEncode() {
    TokenizerGraph g(b, loc, c);
    int64_t n = c.batchSize;
    func::FuncOp fn = function("encode", {{"images", imagesType(n)}}, select("encoder."),
                               {{"latent", latentType(n)}}, g);
    fn->setAttr(kOutlineAttr, b.getUnitAttr());
    b.create<func::ReturnOp>(loc, g.encode(fn.getArgument(0)));
  }

  std::string denoiserName(size_t scale) { return "denoise_s" + std::to_string(scale); }
  std::string pairDenoiserName(size_t scale) { return "denoise_cfg_s" + std::to_string(scale); }

  /// The sampler's CFG pair in one call: the denoiser at batch 2B, private to decode.
  void buildPairDenoise(size_t scale, int64_t r) {
    TokenizerGraph g(b, loc, c);
    int64_t n = 2 * c.batchSize;
    func::FuncOp fn = function(pairDenoiserName(scale),
                               {{"x", f32({n, 3, r, r})}, {"tau", f32({n})}, {"latent", latentType(n)}},
                               select("decoder."), {{"velocity", f32({n, 3, r, r})}}, g);
    fn.setPrivate();
    fn->setAttr(kOutlineAttr, b.getUnitAttr());
    b.create<func::ReturnOp>(loc, g.denoise(fn.getArgument(0), fn.getArgument(1), fn.getArgument(2)));
  }

  void buildDenoise(size_t scale, int64_t r) {
    TokenizerGraph g(b, loc, c);
    int64_t n = c.batchSize;
    func::FuncOp fn = function(denoiserName(scale),
                               {{"x", f32({n, 3, r, r})}, {"tau", f32({n})}, {"latent", latentType(n)}},
                               select("decoder."), {{"velocity", f32({n, 3, r, r})}}, g);
    // Called at every sampler step: one copy of the code.
    fn->setAttr(kOutlineAttr, b.getUnitAttr());
    b.create<func::ReturnOp>(loc, g.denoise(fn.getArgument(0), fn.getArgument(1), fn.getArgument(2)));
  }

  /// The sampler's batch-2B denoisers for the CFG pair, if built.
  ArrayAttr pairDenoisers() {
    if (!pairCfg_)
      return nullptr;
    SmallVector<Attribute> names;
    for (int64_t s = 0; s < c.numScales; ++s)
      names.push_back(FlatSymbolRefAttr::get(b.getContext(), pairDenoiserName(s)));
    return b.getArrayAttr(names);
  }

  void buildDecode() {
    TokenizerGraph g(b, loc, c);
    int64_t n = c.batchSize;
    func::FuncOp fn = function("decode", {{"latent", latentType(n)}, {"seed", seedType()}},
                               decoderParams(), {{"images", imagesType(n)}}, g);
    fn->setAttr("msdd.nfe", b.getI64IntegerAttr(c.nfe()));
    fn->setAttr(kOutlineAttr, b.getUnitAttr());
    Value nullLatent = g.broadcastTo(g.param("null_latent"), {n, c.latentTokens, c.latentChannels});
    SmallVector<Value> weights;
    for (const ParamSpec *p : select("decoder."))
      weights.push_back(g.param(p->name));
    SmallVector<Attribute> denoisers;
    for (int64_t s = 0; s < c.numScales; ++s)
      denoisers.push_back(FlatSymbolRefAttr::get(b.getContext(), denoiserName(s)));
    ::msdd::MultiscaleSchedule sched = ::msdd::computeMultiscaleSchedule(c.numScales, c.gamma);
    std::vector<int64_t> steps(c.numScales, c.samplerSteps);
    Value x = b.create<MultiscaleSampleOp>(
        loc, imagesType(n), fn.getArgument(0), nullLatent, seedScalar(fn.getArgument(1)), weights,
        b.getArrayAttr(denoisers), c.resolutions(), steps, sched.windowStart, sched.windowEnd,
        sched.tauStart, sched.tauEnd, sched.alpha, sched.beta, llvm::APFloat(c.guidance),
        llvm::APFloat(c.gamma), pairDenoisers());
    b.create<func::ReturnOp>(loc, g.affine(x, 0.5, 0.5));
  }

  void buildReconstruct() {
    TokenizerGraph g(b, loc, c);
    int64_t n = c.batchSize;
    std::vector<const ParamSpec *> all;
    for (const ParamSpec &p : specs)
      all.push_back(&p);
    func::FuncOp fn = function("reconstruct", {{"images", imagesType(n)}, {"seed", seedType()}},
                               all, {{"reconstruction", imagesType(n)}}, g);
    fn->setAttr("msdd.nfe", b.getI64IntegerAttr(c.nfe()));
    auto call = [&](llvm::StringRef callee, SmallVector<Value> args,
                    ArrayRef<const ParamSpec *> params, Type result) {
      for (const ParamSpec *p : params)
        args.push_back(g.param(p->name));
      return b.create<func::CallOp>(loc, callee, TypeRange{result}, args).getResult(0);
    };
    Value latent = call("encode", {fn.getArgument(0)}, select("encoder."), latentType(n));
    Value images = call("decode", {latent, fn.getArgument(1)}, decoderParams(), imagesType(n));
    b.create<func::ReturnOp>(loc, images);
  }

  /// The results of a `loss`: the total, one metric per scale, the perceptual term's.
  SmallVector<Input> lossResults(bool perceptual) {
    SmallVector<Input> results{{"loss", f32({})}};
    for (int64_t s = 0; s < c.numScales; ++s)
      results.push_back({"loss_s" + std::to_string(s), f32({})});
    if (perceptual)
      results.push_back({"loss_perceptual", f32({})});
    return results;
  }

  /// Stage 1: the batch is split evenly over the scales (the coarsest get the remainder
  /// last); each group is trained on its scale's window.
  void buildLoss() {
    TokenizerGraph g(b, loc, c);
    int64_t batch = c.batchSize, S = c.numScales;
    std::vector<const ParamSpec *> all;
    for (const ParamSpec &p : specs)
      all.push_back(&p);
    func::FuncOp distance = featureNetwork ? buildPerceptualDistance() : func::FuncOp();
    SmallVector<Input> results = lossResults(bool(distance));
    func::FuncOp fn = function("loss", {{"images", imagesType(batch)}, {"seed", seedType()}}, all,
                               results, g, /*trainable=*/true);
    Value seed = seedScalar(fn.getArgument(1));
    Value latent = g.encode(fn.getArgument(0));
    Value x = g.affine(fn.getArgument(0), 2.0, -1.0);
    ::msdd::MultiscaleSchedule sched = ::msdd::computeMultiscaleSchedule(S, c.gamma);
    std::vector<int64_t> res = c.resolutions();
    double dropThreshold = c.latentDropout > 0 ? normalQuantile(c.latentDropout) : 0.0;
    Value total, perceptual;
    SmallVector<Value> perScale;
    int64_t offset = 0;
    for (int64_t s = 0; s < S; ++s) {
      int64_t n = c.samplesAtScale(s);
      int64_t r = res[s], factor = c.imageSize / r;
      double startT = sched.windowStart[s], endT = sched.windowEnd[s];
      Value xs = g.slice(x, 0, offset, n);
      Value xEnd = factor > 1 ? b.create<DownsampleOp>(loc, g.type({n, 3, r, r}), xs, factor).getResult() : xs;
      Value e = g.normal(seed, 1, 10 + s, {n, 3, r, r});
      Value xEndNoisy = g.add(g.affine(xEnd, 1.0 - endT), g.affine(e, endT));
      Value xStartNoisy = e;
      if (s > 0) {
        Value coarse = b.create<DownsampleOp>(loc, g.type({n, 3, r / 2, r / 2}), xs, 2 * factor);
        Value up = b.create<UpsampleNearestOp>(loc, g.type({n, 3, r, r}), coarse, 2);
        xStartNoisy = g.add(g.affine(up, 1.0 - startT), g.affine(e, startT));
      }
      // u ~ logit-normal: the local position inside the window (1 = its start).
      Value u = g.unary<SigmoidOp>(
          g.affine(g.normal(seed, 1, 20 + s, {n}), c.logitNormalStd, c.logitNormalMean));
      Value delta = g.sub(xStartNoisy, xEndNoisy);
      Value xu = g.add(xEndNoisy, g.mul(g.reshape(u, {n, 1, 1, 1}), delta));
      Value tau = g.affine(u, sched.tauStart[s] - sched.tauEnd[s], sched.tauEnd[s]);
      // The flow-time velocity e - x: the window's displacement over its length.
      Value target = g.affine(delta, 1.0 / (startT - endT));
      Value cond = g.slice(latent, 0, offset, n);
      if (c.latentDropout > 0) {
        // Keep the latent where a normal sample is above the dropout quantile.
        Value keep = g.unary<StepOp>(g.affine(g.normal(seed, 1, 30 + s, {n}), 1.0, -dropThreshold));
        Value nullLatent = g.param("null_latent");
        cond = g.add(g.broadcastTo(nullLatent, {n, c.latentTokens, c.latentChannels}),
                     g.mul(g.reshape(keep, {n, 1, 1}), g.sub(cond, nullLatent)));
      }
      Value velocity = g.denoise(xu, tau, cond);
      Value weight = g.constant({n}, 1.0);
      if (c.lossWeighting == "sigmoid_logsnr") {
        Value t = g.affine(u, startT - endT, endT);
        Value logSnr = g.affine(g.sub(g.unary<LogOp>(g.affine(t, -1.0, 1.0)), g.unary<LogOp>(t)), 2.0);
        weight = g.unary<SigmoidOp>(g.affine(logSnr, -1.0, c.logsnrBias));
      }
      Value scaleLoss = b.create<WeightedMseOp>(loc, g.type({}), velocity, target, weight);
      perScale.push_back(scaleLoss);
      if (distance && s == S - 1) {
        // The image the prediction implies (the window ends at t = 0) against the real one.
        Value predicted = g.sub(xu, g.mul(g.reshape(u, {n, 1, 1, 1}),
                                          g.affine(velocity, startT - endT)));
        perceptual = b.create<func::CallOp>(loc, distance, ValueRange{predicted, xEnd})
                         .getResult(0);
        scaleLoss = g.add(scaleLoss, g.affine(perceptual, c.perceptualWeight));
      }
      Value share = g.affine(scaleLoss, (double)n / batch);
      total = total ? g.add(total, share) : share;
      offset += n;
    }
    SmallVector<Value> values{total};
    values.append(perScale.begin(), perScale.end());
    if (perceptual)
      values.push_back(perceptual);
    b.create<func::ReturnOp>(loc, values);
  }

  /// Stage 2: the one-step student's loss (docs/tokenizer.md, "Stage 2"). The student (the
  /// decoder and null latent, trained) decodes the batch from noise through every scale with
  /// one guided Euler step per window. Each scale's output is re-noised towards the window's
  /// start to a local level u ~ U(0, 1), and the frozen teacher (`teacher.*`, the stage-1
  /// decoder) takes one guided Euler step from there to the window's end: that is the target,
  /// weighted 1 / (1 + u). The encoder is frozen too.
  void buildDistillLoss() {
    TokenizerGraph g(b, loc, c);
    int64_t n = c.batchSize, S = c.numScales;
    std::vector<const ParamSpec *> student = decoderParams(), params = decoderParams();
    std::vector<const ParamSpec *> encoder = select("encoder.");
    params.insert(params.end(), encoder.begin(), encoder.end());
    std::vector<ParamSpec> teacher;
    for (const ParamSpec *p : student)
      teacher.push_back({"teacher." + p->name, p->shape, p->init});
    for (const ParamSpec &p : teacher)
      params.push_back(&p);
    func::FuncOp distance = featureNetwork ? buildPerceptualDistance() : func::FuncOp();
    SmallVector<Input> results = lossResults(bool(distance));
    func::FuncOp fn =
        function("loss", {{"images", imagesType(n)}, {"seed", seedType()}}, params, results, g);
    for (size_t i = 0; i < student.size(); ++i)
      fn.setArgAttr(2 + i, "msdd.param", b.getUnitAttr());
    Value seed = seedScalar(fn.getArgument(1));

    auto call = [&](llvm::StringRef callee, SmallVector<Value> args, Type result) {
      return b.create<func::CallOp>(loc, callee, TypeRange{result}, args).getResult(0);
    };
    SmallVector<Value> encoderArgs{fn.getArgument(0)};
    for (const ParamSpec *p : encoder)
      encoderArgs.push_back(g.param(p->name));
    Value latent = call("encode", encoderArgs, latentType(n));
    // v_uncond + w (v_cond - v_uncond) of the decoder whose parameters are named prefix + p.
    auto guided = [&](int64_t s, Value x, Value tau, const std::string &prefix) -> Value {
      auto velocity = [&](Value cond) {
        SmallVector<Value> args{x, tau, cond};
        for (const ParamSpec *p : select("decoder."))
          args.push_back(g.param(prefix + p->name));
        return call(denoiserName(s), args, x.getType());
      };
      Value v = velocity(latent);
      if (c.guidance == 1.0)
        return v;
      Value null = g.broadcastTo(g.param(prefix + "null_latent"),
                                 {n, c.latentTokens, c.latentChannels});
      return b.create<CfgCombineOp>(loc, x.getType(), velocity(null), v,
                                    b.getF64FloatAttr(c.guidance));
    };

    ::msdd::MultiscaleSchedule sched = ::msdd::computeMultiscaleSchedule(S, c.gamma);
    std::vector<int64_t> res = c.resolutions();
    Value x = g.normal(seed, 1, 10, {n, 3, res[0], res[0]});
    Value total;
    SmallVector<Value> perScale;
    for (int64_t s = 0; s < S; ++s) {
      int64_t r = res[s];
      double startT = sched.windowStart[s], endT = sched.windowEnd[s];
      if (s > 0) { // the sampler's scale transition, op by op so that it is differentiable
        Value up = b.create<UpsampleNearestOp>(loc, g.type({n, 3, r, r}), x, b.getI64IntegerAttr(2));
        Value noise = b.create<BlockNoiseOp>(loc, g.type({n, 3, r, r}),
                                             g.normal(seed, 1, 10 + s, {n, 3, r, r}),
                                             b.getF64FloatAttr(c.gamma), b.getStringAttr("pyramidal"));
        x = b.create<NoiseMixOp>(loc, up.getType(), up, noise, b.getF64FloatAttr(sched.alpha[s - 1]),
                                 b.getF64FloatAttr(sched.beta[s - 1]));
      }
      Value start = x;
      Value v = guided(s, start, g.constant({n}, sched.tauStart[s]), "");
      x = b.create<EulerStepOp>(loc, start.getType(), start, v, b.getF64FloatAttr(startT),
                                b.getF64FloatAttr(endT));
      // u ~ U(0, 1) as the normal CDF of a normal sample.
      Value u = g.affine(g.unary<ErfOp>(g.affine(g.normal(seed, 1, 20 + s, {n}), M_SQRT1_2)), 0.5, 0.5);
      Value u4 = g.reshape(u, {n, 1, 1, 1});
      Value renoised = g.add(x, g.mul(u4, g.sub(start, x)));
      Value tauU = g.affine(u, sched.tauStart[s] - sched.tauEnd[s], sched.tauEnd[s]);
      Value vTeacher = guided(s, renoised, tauU, "teacher.");
      Value target = g.sub(renoised, g.mul(u4, g.affine(vTeacher, startT - endT)));
      target = g.unary<StopGradientOp>(target);
      Value weight = b.create<DivOp>(loc, u.getType(), g.constant({n}, 1.0), g.affine(u, 1.0, 1.0));
      Value scaleLoss = b.create<WeightedMseOp>(loc, g.type({}), x, target, weight);
      perScale.push_back(scaleLoss);
      total = total ? g.add(total, scaleLoss) : scaleLoss;
    }
    Value perceptual;
    if (distance) {
      // The feature network takes the stage-1 loss's last-scale batch: the first samples.
      int64_t m = c.samplesAtScale(S - 1);
      Value real = g.slice(g.affine(fn.getArgument(0), 2.0, -1.0), 0, 0, m);
      perceptual = b.create<func::CallOp>(loc, distance, ValueRange{g.slice(x, 0, 0, m), real})
                       .getResult(0);
      total = g.add(total, g.affine(perceptual, c.perceptualWeight));
    }
    SmallVector<Value> values{total};
    values.append(perScale.begin(), perScale.end());
    if (perceptual)
      values.push_back(perceptual);
    b.create<func::ReturnOp>(loc, values);
  }

  /// `perceptual_distance(predicted, real)`, images [n, 3, R, R] in [-1, 1] at the last
  /// scale: LPIPS without its learned channel weights. Every feature map of the network
  /// (the private `perceptual_features`) is unit-normalized over channels; squared
  /// differences are summed over channels, averaged over positions and images, and summed
  /// over the network's outputs. Public, so that the distance can be checked and used alone.
  func::FuncOp buildPerceptualDistance() {
    auto features = cast<func::FuncOp>(featureNetwork->clone());
    features.setName("perceptual_features");
    features.setPrivate();
    module->push_back(features);
    int64_t n = c.samplesAtScale(c.numScales - 1);
    TokenizerGraph g(b, loc, c);
    func::FuncOp fn = function("perceptual_distance",
                               {{"predicted", imagesType(n)}, {"real", imagesType(n)}}, {},
                               {{"distance", f32({})}}, g);
    auto normalized = [&](Value f) {
      Shape summed(Graph::shape(f));
      summed[1] = 1;
      Value sq = b.create<ReduceSumOp>(loc, g.type(summed), g.mul(f, f),
                                       b.getDenseI64ArrayAttr({1}), /*keepDims=*/true);
      return g.mul(f, g.unary<RsqrtOp>(g.affine(sq, 1.0, 1e-8)));
    };
    // Two calls: the real images' features need no gradient and stay out of the backward pass.
    auto a = b.create<func::CallOp>(loc, features, ValueRange{fn.getArgument(0)}).getResults();
    auto r = b.create<func::CallOp>(loc, features, ValueRange{fn.getArgument(1)}).getResults();
    Value total;
    for (auto [fa, fr] : llvm::zip(a, r)) {
      Value d = b.create<MseOp>(loc, g.type({}), normalized(fa), normalized(fr));
      d = g.affine(d, double(Graph::shape(fa)[1]));
      total = total ? g.add(total, d) : d;
    }
    b.create<func::ReturnOp>(loc, total);
    return fn;
  }
};

} // namespace

OwningOpRef<ModuleOp> mlir::msdd::buildTokenizer(MLIRContext *context,
                                                 const TokenizerConfig &config, TokenizerLoss loss,
                                                 bool pairCfg, func::FuncOp featureNetwork) {
  context->loadDialect<MsddDialect, arith::ArithDialect, func::FuncDialect, tensor::TensorDialect>();
  // A distilled decoder takes one step per scale.
  TokenizerConfig built = config;
  if (loss == TokenizerLoss::Distill)
    built.samplerSteps = 1;
  return ModuleBuilder(context, built, featureNetwork)
      .build(loss, pairCfg && config.guidance != 1.0);
}

static LogicalResult checkFeatureNetwork(func::FuncOp fn, const TokenizerConfig &config,
                                         std::string &error) {
  int64_t n = config.samplesAtScale(config.numScales - 1), r = config.imageSize;
  auto describe = [](Type t) {
    std::string s;
    llvm::raw_string_ostream os(s);
    os << t;
    return s;
  };
  FunctionType type = fn.getFunctionType();
  auto image = RankedTensorType::get({n, 3, r, r}, Float32Type::get(fn.getContext()));
  if (type.getNumInputs() != 1 || type.getInput(0) != image) {
    error = "the feature network must take one input " + describe(image) + " (got " +
            std::to_string(type.getNumInputs()) + " inputs" +
            (type.getNumInputs() ? ", the first " + describe(type.getInput(0)) : "") + ")";
    return failure();
  }
  if (type.getNumResults() == 0) {
    error = "the feature network has no outputs";
    return failure();
  }
  for (Type t : type.getResults()) {
    auto feature = dyn_cast<RankedTensorType>(t);
    if (!feature || !feature.getElementType().isF32() || feature.getRank() < 2 ||
        feature.getDimSize(0) != n) {
      error = "feature network outputs must be float32 [" + std::to_string(n) +
              ", C, ...] tensors, got " + describe(t);
      return failure();
    }
  }
  return success();
}

func::FuncOp mlir::msdd::featureNetworkOf(ModuleOp module) {
  auto fns = module.getOps<func::FuncOp>();
  return fns.empty() ? func::FuncOp() : *fns.begin();
}

FailureOr<OwningOpRef<ModuleOp>> mlir::msdd::loadFeatureNetwork(MLIRContext &context,
                                                               const TokenizerConfig &config,
                                                               llvm::StringRef configPath,
                                                               std::string &error) {
  if (config.perceptualNetwork.empty())
    return OwningOpRef<ModuleOp>();
  llvm::SmallString<256> path(config.perceptualNetwork);
  if (!llvm::sys::path::is_absolute(path)) {
    path = llvm::sys::path::parent_path(configPath);
    llvm::sys::path::append(path, config.perceptualNetwork);
  }
  OnnxImportOptions options;
  options.inlineWeights = true; // frozen: constants, not parameters
  options.otherInputsShape = {config.samplesAtScale(config.numScales - 1), 3, config.imageSize,
                              config.imageSize};
  auto imported = importOnnx(context, path, options, error);
  if (failed(imported) || !featureNetworkOf(**imported) ||
      failed(checkFeatureNetwork(featureNetworkOf(**imported), config, error))) {
    if (error.empty())
      error = "the model has no graph";
    error = path.str().str() + ": " + error;
    return failure();
  }
  return std::move(*imported);
}
