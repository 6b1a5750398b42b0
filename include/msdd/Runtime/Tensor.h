//===- Tensor.h - Dense host tensors ----------------------------*- C++ -*-===//
//
// A Tensor owns a dense row-major buffer, 64-byte aligned as the artifact ABI requires
// (docs/artifact-abi.md). Tensors are move-only: copying a large buffer is always explicit
// (clone()).
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_RUNTIME_TENSOR_H
#define MSDD_RUNTIME_TENSOR_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace msdd::rt {

/// Element types of the artifact ABI. I1 is stored as one byte per element (0 or 1).
enum class DType { F32, F64, I32, I64, I1 };

/// "f32", "f64", "i32", "i64", "i1".
const char *dtypeName(DType dtype);
/// Inverse of dtypeName; returns false for any other string.
bool parseDType(const std::string &name, DType &dtype);
/// Bytes per element.
size_t dtypeSize(DType dtype);

/// The C++ element type that stands for each DType in Tensor::data<T>().
template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::F32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::F64; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::I32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::I64; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::I1; };

/// Product of the dimensions (1 for rank 0); throws Error on a negative dimension or overflow.
int64_t shapeNumel(const std::vector<int64_t> &shape);
/// Bytes of a dense tensor, or nullopt for a negative dimension or a size that overflows.
/// Readers check this against the bytes a file holds before allocating.
std::optional<uint64_t> denseByteSize(DType dtype, const std::vector<int64_t> &shape);
/// "[2, 3, 16]".
std::string shapeToString(const std::vector<int64_t> &shape);
/// "f32[2, 3, 16]".
std::string typeToString(DType dtype, const std::vector<int64_t> &shape);

class Tensor {
public:
  /// The buffer alignment in bytes.
  static constexpr size_t kAlignment = 64;

  /// An f32 scalar holding 0.
  Tensor();
  /// A zero-filled tensor; throws Error for negative dimensions or a size that overflows.
  Tensor(DType dtype, std::vector<int64_t> shape);

  Tensor(Tensor &&) noexcept = default;
  Tensor &operator=(Tensor &&) noexcept = default;
  Tensor(const Tensor &) = delete;
  Tensor &operator=(const Tensor &) = delete;

  /// A deep copy.
  Tensor clone() const;

  DType dtype() const { return dtype_; }
  const std::vector<int64_t> &shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtypeSize(dtype_); }
  /// Row-major strides in elements.
  std::vector<int64_t> strides() const;

  /// Never null (an empty tensor still owns an aligned block).
  void *rawData() { return storage_.get(); }
  const void *rawData() const { return storage_.get(); }

  /// Typed access; throws Error when T does not match dtype().
  template <typename T> T *data() {
    checkElementType(DTypeOf<T>::value);
    return static_cast<T *>(rawData());
  }
  template <typename T> const T *data() const {
    checkElementType(DTypeOf<T>::value);
    return static_cast<const T *>(rawData());
  }

private:
  struct AlignedFree {
    void operator()(void *p) const;
  };
  void checkElementType(DType requested) const;

  DType dtype_ = DType::F32;
  std::vector<int64_t> shape_;
  int64_t numel_ = 1;
  std::unique_ptr<void, AlignedFree> storage_;
};

/// Named tensors in insertion order (file order for npz/safetensors, manifest order for
/// artifact outputs), with lookup by name. Names are unique.
class NamedTensors {
public:
  using Entry = std::pair<std::string, Tensor>;

  /// Appends; returns false (and leaves `tensor` untouched) if the name is already present.
  bool insert(std::string name, Tensor &&tensor);
  /// nullptr if absent.
  const Tensor *find(const std::string &name) const;
  Tensor *find(const std::string &name);
  bool contains(const std::string &name) const { return index_.count(name) != 0; }
  /// Removes and returns the tensor called `name`; throws Error if absent.
  Tensor take(const std::string &name);

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::vector<Entry>::const_iterator begin() const { return entries_.begin(); }
  std::vector<Entry>::const_iterator end() const { return entries_.end(); }
  std::vector<Entry>::iterator begin() { return entries_.begin(); }
  std::vector<Entry>::iterator end() { return entries_.end(); }

private:
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

} // namespace msdd::rt

#endif // MSDD_RUNTIME_TENSOR_H
