//===- Tensor.cpp ---------------------------------------------------------===//
#include "msdd/Runtime/Tensor.h"

#include "msdd/Runtime/Error.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

namespace msdd::rt {

namespace {
struct DTypeInfo {
  DType dtype;
  const char *name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {{DType::F32, "f32", 4},
                                 {DType::F64, "f64", 8},
                                 {DType::I32, "i32", 4},
                                 {DType::I64, "i64", 8},
                                 {DType::I1, "i1", 1}};
const DTypeInfo &info(DType dtype) { return kDTypes[static_cast<int>(dtype)]; }
} // namespace

const char *dtypeName(DType dtype) { return info(dtype).name; }
size_t dtypeSize(DType dtype) { return info(dtype).size; }

bool parseDType(const std::string &name, DType &dtype) {
  for (const DTypeInfo &candidate : kDTypes)
    if (name == candidate.name) {
      dtype = candidate.dtype;
      return true;
    }
  return false;
}

int64_t shapeNumel(const std::vector<int64_t> &shape) {
  int64_t numel = 1;
  for (int64_t dim : shape) {
    if (dim < 0)
      throw Error("tensor", "negative dimension in shape " + shapeToString(shape));
    if (dim != 0 && numel > std::numeric_limits<int64_t>::max() / dim)
      throw Error("tensor", "shape " + shapeToString(shape) + " has too many elements");
    numel *= dim;
  }
  return numel;
}

std::optional<uint64_t> denseByteSize(DType dtype, const std::vector<int64_t> &shape) {
  uint64_t bytes = dtypeSize(dtype);
  for (int64_t dim : shape) {
    if (dim < 0)
      return std::nullopt;
    if (dim != 0 && bytes > std::numeric_limits<int64_t>::max() / static_cast<uint64_t>(dim))
      return std::nullopt;
    bytes *= static_cast<uint64_t>(dim);
  }
  return bytes;
}

std::string shapeToString(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string typeToString(DType dtype, const std::vector<int64_t> &shape) {
  return dtypeName(dtype) + shapeToString(shape);
}

void Tensor::AlignedFree::operator()(void *p) const { std::free(p); }

Tensor::Tensor() : Tensor(DType::F32, {}) {}

Tensor::Tensor(DType dtype, std::vector<int64_t> shape)
    : dtype_(dtype), shape_(std::move(shape)), numel_(shapeNumel(shape_)) {
  size_t elementSize = dtypeSize(dtype_);
  if (static_cast<uint64_t>(numel_) > std::numeric_limits<size_t>::max() / 2 / elementSize)
    throw Error("tensor", typeToString(dtype_, shape_) + " is too large");
  // aligned_alloc wants a non-zero multiple of the alignment.
  size_t bytes = (nbytes() + kAlignment - 1) / kAlignment * kAlignment;
  if (bytes == 0)
    bytes = kAlignment;
  void *p = std::aligned_alloc(kAlignment, bytes);
  if (!p)
    throw std::bad_alloc();
  std::memset(p, 0, bytes);
  storage_.reset(p);
}

Tensor Tensor::clone() const {
  Tensor copy(dtype_, shape_);
  std::memcpy(copy.rawData(), rawData(), nbytes());
  return copy;
}

std::vector<int64_t> Tensor::strides() const {
  std::vector<int64_t> strides(shape_.size());
  int64_t stride = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape_[i];
  }
  return strides;
}

void Tensor::checkElementType(DType requested) const {
  if (requested != dtype_)
    throw Error("tensor", std::string("data<") + dtypeName(requested) + ">() on a " +
                              typeToString(dtype_, shape_) + " tensor");
}

bool NamedTensors::insert(std::string name, Tensor &&tensor) {
  if (contains(name))
    return false;
  index_.emplace(name, entries_.size());
  entries_.emplace_back(std::move(name), std::move(tensor));
  return true;
}

const Tensor *NamedTensors::find(const std::string &name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

Tensor *NamedTensors::find(const std::string &name) {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

Tensor NamedTensors::take(const std::string &name) {
  auto it = index_.find(name);
  if (it == index_.end())
    throw Error("tensors", "no tensor named '" + name + "'");
  size_t position = it->second;
  Tensor tensor = std::move(entries_[position].second);
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(position));
  index_.erase(it);
  for (auto &[key, slot] : index_)
    if (slot > position)
      --slot;
  return tensor;
}

} // namespace msdd::rt
