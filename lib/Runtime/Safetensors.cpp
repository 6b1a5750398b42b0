//===- Safetensors.cpp ----------------------------------------------------===//
#include "msdd/Runtime/Safetensors.h"

#include "ByteOrder.h"
#include "msdd/Runtime/Error.h"
#include "msdd/Runtime/File.h"
#include "msdd/Runtime/Json.h"

#include <algorithm>
#include <cstring>

namespace msdd::rt {

namespace {

constexpr size_t kLengthPrefix = 8;
// The reference implementation rejects larger headers; so do we, before parsing garbage.
constexpr uint64_t kMaxHeaderLength = 100'000'000;
constexpr char kMetadataKey[] = "__metadata__";

struct SafetensorsDType {
  const char *name;
  DType dtype;
};
constexpr SafetensorsDType kDTypes[] = {{"F32", DType::F32},
                                        {"F64", DType::F64},
                                        {"I32", DType::I32},
                                        {"I64", DType::I64},
                                        {"BOOL", DType::I1}};

const char *safetensorsName(DType dtype) {
  for (const SafetensorsDType &entry : kDTypes)
    if (entry.dtype == dtype)
      return entry.name;
  return "?";
}

/// A tensor's entry in the header, validated.
struct HeaderEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

HeaderEntry parseEntry(const std::string &path, const std::string &name, const Json &value) {
  std::string subject = "tensor '" + name + "'";
  auto fail = [&](const std::string &problem) { return Error(path, subject + " " + problem); };
  if (!value.isObject())
    throw fail("has a header entry that is not an object");

  const Json *dtype = value.find("dtype");
  if (!dtype || !dtype->isString())
    throw fail("has no dtype string");
  HeaderEntry entry{name, DType::F32, {}, 0, 0};
  const SafetensorsDType *known = nullptr;
  for (const SafetensorsDType &candidate : kDTypes)
    if (dtype->asString() == candidate.name)
      known = &candidate;
  if (!known)
    throw fail("has dtype " + dtype->asString() + ", only F32/F64/I32/I64/BOOL are supported");
  entry.dtype = known->dtype;

  const Json *shape = value.find("shape");
  if (!shape || !shape->isArray())
    throw fail("has no shape array");
  for (const Json &dim : shape->asArray()) {
    if (!dim.isInteger() || dim.asInt() < 0)
      throw fail("has a shape entry that is not a non-negative integer: " + dim.dump());
    entry.shape.push_back(dim.asInt());
  }

  const Json *offsets = value.find("data_offsets");
  if (!offsets || !offsets->isArray() || offsets->asArray().size() != 2 ||
      !offsets->asArray()[0].isInteger() || !offsets->asArray()[1].isInteger() ||
      offsets->asArray()[0].asInt() < 0 || offsets->asArray()[1].asInt() < 0)
    throw fail("has no data_offsets pair of non-negative integers");
  entry.begin = static_cast<uint64_t>(offsets->asArray()[0].asInt());
  entry.end = static_cast<uint64_t>(offsets->asArray()[1].asInt());
  if (entry.begin > entry.end)
    throw fail("has data_offsets [" + std::to_string(entry.begin) + ", " +
               std::to_string(entry.end) + "] that end before they begin");
  return entry;
}

} // namespace

NamedTensors readSafetensors(const std::string &path, Metadata *metadata) {
  MappedFile file(path);
  if (file.size() < kLengthPrefix)
    throw Error(path, "is too short for a safetensors file (" + std::to_string(file.size()) +
                          " bytes)");
  uint64_t headerLength = loadLE<uint64_t>(file.data());
  if (headerLength > file.size() - kLengthPrefix)
    throw Error(path, "header length " + std::to_string(headerLength) + " exceeds the file size " +
                          std::to_string(file.size()) + " (truncated or not a safetensors file)");
  if (headerLength > kMaxHeaderLength)
    throw Error(path, "header length " + std::to_string(headerLength) + " exceeds 100 MB");
  std::string_view headerText(reinterpret_cast<const char *>(file.data() + kLengthPrefix),
                              headerLength);
  Json header = Json::parse(headerText, path);
  if (!header.isObject())
    throw Error(path, "header is a JSON " + std::string(header.kindName()) + ", not an object");

  std::vector<HeaderEntry> entries;
  for (const auto &[name, value] : header.asObject()) {
    if (name != kMetadataKey) {
      entries.push_back(parseEntry(path, name, value));
      continue;
    }
    if (!value.isObject())
      throw Error(path, "__metadata__ is not an object");
    for (const auto &[key, text] : value.asObject()) {
      if (!text.isString())
        throw Error(path, "__metadata__ value '" + key + "' is not a string");
      if (metadata)
        (*metadata)[key] = text.asString();
    }
  }

  // The offsets must tile the data block exactly: no overlaps, no gaps, nothing beyond it.
  const uint8_t *dataBlock = file.data() + kLengthPrefix + headerLength;
  uint64_t dataSize = file.size() - kLengthPrefix - headerLength;
  std::stable_sort(entries.begin(), entries.end(), [](const HeaderEntry &a, const HeaderEntry &b) {
    return a.begin < b.begin;
  });
  uint64_t covered = 0;
  NamedTensors tensors;
  for (HeaderEntry &entry : entries) {
    std::string subject = "tensor '" + entry.name + "'";
    std::string range = "[" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + "]";
    if (entry.end > dataSize)
      throw Error(path, subject + " has data_offsets " + range + " beyond the data block of " +
                            std::to_string(dataSize) + " bytes");
    if (entry.begin < covered)
      throw Error(path, subject + " has data_offsets " + range + " overlapping another tensor");
    if (entry.begin > covered)
      throw Error(path, "bytes [" + std::to_string(covered) + ", " +
                            std::to_string(entry.begin) + "] of the data block belong to no tensor");
    std::optional<uint64_t> expected = denseByteSize(entry.dtype, entry.shape);
    if (!expected)
      throw Error(path, subject + " has shape " + shapeToString(entry.shape) +
                            ", which is too large");
    if (entry.end - entry.begin != *expected)
      throw Error(path, subject + " has data_offsets " + range + " (" +
                            std::to_string(entry.end - entry.begin) + " bytes) but " +
                            typeToString(entry.dtype, entry.shape) + " needs " +
                            std::to_string(*expected));
    Tensor tensor(entry.dtype, entry.shape);
    std::memcpy(tensor.rawData(), dataBlock + entry.begin, tensor.nbytes());
    covered = entry.end;
    if (!tensors.insert(entry.name, std::move(tensor)))
      throw Error(path, subject + " appears twice");
  }
  if (covered != dataSize)
    throw Error(path, "the last " + std::to_string(dataSize - covered) +
                          " bytes of the data block belong to no tensor");
  return tensors;
}

std::string safetensorsHeader(const std::string &path, const NamedTensors &tensors,
                              const Metadata &metadata) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json &strings = header[kMetadataKey];
    strings = Json::object();
    for (const auto &[key, value] : metadata)
      strings[key] = value;
  }
  int64_t offset = 0;
  for (const auto &[name, tensor] : tensors) {
    if (name == kMetadataKey)
      throw Error(path, "cannot store a tensor named __metadata__");
    Json entry = Json::object();
    entry["dtype"] = safetensorsName(tensor.dtype());
    Json shape = Json::array();
    for (int64_t dim : tensor.shape())
      shape.push_back(dim);
    entry["shape"] = std::move(shape);
    int64_t end = offset + static_cast<int64_t>(tensor.nbytes());
    entry["data_offsets"] = Json(Json::Array{offset, end});
    header.asObject().emplace_back(name, std::move(entry)); // names are unique already
    offset = end;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' '); // keeps the data block 8-byte aligned
  std::string prefix;
  appendLE<uint64_t>(prefix, text.size());
  return prefix + text;
}

void writeSafetensors(const std::string &path, const NamedTensors &tensors,
                      const Metadata &metadata) {
  std::string header = safetensorsHeader(path, tensors, metadata);
  AtomicFileWriter writer(path);
  writer.write(header);
  for (const auto &[name, tensor] : tensors)
    writer.write(tensor.rawData(), tensor.nbytes());
  writer.commit();
}

} // namespace msdd::rt
