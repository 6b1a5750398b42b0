//===- Json.h - A small JSON value, parser and writer -----------*- C++ -*-===//
//
// Enough JSON for artifact manifests, safetensors headers and machine-readable tool output.
// Objects keep their keys in insertion order so that written JSON is stable and readable.
// Integers without fraction or exponent are kept exactly as int64.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_RUNTIME_JSON_H
#define MSDD_RUNTIME_JSON_H

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace msdd::rt {

class Json {
public:
  enum class Kind { Null, Bool, Number, String, Array, Object };
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;

  Json() = default;
  Json(std::nullptr_t) {}
  Json(bool value) : kind_(Kind::Bool), bool_(value) {}
  Json(int value) : Json(static_cast<int64_t>(value)) {}
  Json(int64_t value)
      : kind_(Kind::Number), isInteger_(true), int_(value), number_(static_cast<double>(value)) {}
  Json(uint64_t value) = delete; // ambiguous beyond INT64_MAX: convert explicitly
  Json(double value) : kind_(Kind::Number), number_(value) {}
  Json(const char *value) : kind_(Kind::String), string_(value) {}
  Json(std::string value) : kind_(Kind::String), string_(std::move(value)) {}
  Json(Array value) : kind_(Kind::Array), array_(std::move(value)) {}
  Json(Object value) : kind_(Kind::Object), object_(std::move(value)) {}
  static Json array() { return Json(Array{}); }
  static Json object() { return Json(Object{}); }

  /// Parses a complete document (surrounding whitespace allowed). On malformed input throws
  /// Error(`context`, "invalid JSON at offset N: <what>").
  static Json parse(std::string_view text, const std::string &context = "JSON");

  /// Compact, single-line JSON. Non-finite numbers (not representable) are written as null.
  std::string dump() const;

  Kind kind() const { return kind_; }
  /// "null", "bool", "number", "string", "array", "object".
  static const char *kindName(Kind kind);
  const char *kindName() const { return kindName(kind_); }
  bool isNull() const { return kind_ == Kind::Null; }
  bool isBool() const { return kind_ == Kind::Bool; }
  bool isNumber() const { return kind_ == Kind::Number; }
  /// A number that was written (or built) without fraction or exponent and fits in int64.
  bool isInteger() const { return kind_ == Kind::Number && isInteger_; }
  bool isString() const { return kind_ == Kind::String; }
  bool isArray() const { return kind_ == Kind::Array; }
  bool isObject() const { return kind_ == Kind::Object; }

  /// Typed access; each throws Error("JSON", "expected <kind>, got <kind>") on a kind mismatch.
  bool asBool() const;
  double asNumber() const;
  int64_t asInt() const;
  const std::string &asString() const;
  const Array &asArray() const;
  Array &asArray();
  const Object &asObject() const;
  Object &asObject();

  /// Object member lookup; nullptr if absent (or if this is not an object).
  const Json *find(std::string_view key) const;
  /// Object member access for building: turns null into an object, inserts a null member
  /// when absent.
  Json &operator[](std::string_view key);
  /// Array append for building: turns null into an array.
  void push_back(Json value);

private:
  void expect(Kind kind) const;
  void dumpTo(std::string &out) const;

  Kind kind_ = Kind::Null;
  bool bool_ = false;
  bool isInteger_ = false;
  int64_t int_ = 0;
  double number_ = 0;
  std::string string_;
  Array array_;
  Object object_;
};

} // namespace msdd::rt

#endif // MSDD_RUNTIME_JSON_H
