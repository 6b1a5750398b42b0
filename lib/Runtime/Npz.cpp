//===- Npz.cpp - .npz archives of .npy arrays -----------------------------===//
//
// The zip subset handled here is what numpy writes: one disk, no encryption, entries stored
// or deflated. numpy's np.savez marks local headers zip64 even for small entries, so sizes
// are taken from the central directory, never from local headers.
//
//===----------------------------------------------------------------------===//
#include "msdd/Runtime/Npz.h"

#include "ByteOrder.h"
#include "msdd/Runtime/Error.h"
#include "msdd/Runtime/File.h"

#include <cstring>
#include <limits>
#include <zlib.h>

namespace msdd::rt {

namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndOfCentralDirSig = 0x06054b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndOfCentralDirSize = 22;
constexpr size_t kZip64LocatorSize = 20;
constexpr uint16_t kMethodStored = 0;
constexpr uint16_t kMethodDeflate = 8;
constexpr uint16_t kFlagEncrypted = 0x0001;
constexpr uint16_t kFlagUtf8Name = 0x0800;
constexpr uint16_t kDosDate1980 = (1 << 5) | 1; // 1980-01-01: deterministic output
constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr size_t kNpyMagicSize = 6;
constexpr size_t kNpyAlignment = 64;
constexpr char kNpySuffix[] = ".npy";
const char *const kSupportedDTypes = "only f32/f64/i32/i64/bool are supported";

struct NpyDType {
  const char *descr;
  DType dtype;
};
constexpr NpyDType kNpyDTypes[] = {{"<f4", DType::F32},
                                   {"<f8", DType::F64},
                                   {"<i4", DType::I32},
                                   {"<i8", DType::I64},
                                   {"|b1", DType::I1}};

const char *npyDescr(DType dtype) {
  for (const NpyDType &entry : kNpyDTypes)
    if (entry.dtype == dtype)
      return entry.descr;
  return "?";
}

//===-- .npy header: a Python dict literal ---------------------------------===//

struct NpyHeader {
  std::string descr;
  bool fortranOrder = false;
  std::vector<int64_t> shape;
};

/// Parses {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
class NpyHeaderParser {
public:
  NpyHeaderParser(std::string_view text, const std::string &path, const std::string &subject)
      : text_(text), path_(path), subject_(subject) {}

  NpyHeader parse() {
    NpyHeader header;
    bool hasDescr = false, hasOrder = false, hasShape = false;
    skipSpace();
    expect('{');
    while (true) {
      skipSpace();
      if (peek() == '}')
        break;
      std::string key = parseQuoted();
      skipSpace();
      expect(':');
      skipSpace();
      if (key == "descr") {
        if (peek() == '[')
          fail("has a structured dtype, " + std::string(kSupportedDTypes));
        header.descr = parseQuoted();
        hasDescr = true;
      } else if (key == "fortran_order") {
        header.fortranOrder = parseBool();
        hasOrder = true;
      } else if (key == "shape") {
        header.shape = parseShape();
        hasShape = true;
      } else {
        fail("has an unknown header key '" + key + "'");
      }
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect('}');
      break;
    }
    if (!hasDescr || !hasOrder || !hasShape)
      fail("has a header without descr, fortran_order or shape");
    return header;
  }

private:
  [[noreturn]] void fail(const std::string &problem) const {
    throw Error(path_, subject_ + " " + problem);
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skipSpace() {
    while (pos_ < text_.size() && (peek() == ' ' || peek() == '\n' || peek() == '\t'))
      ++pos_;
  }
  void expect(char c) {
    if (peek() != c)
      fail("has a malformed header (expected '" + std::string(1, c) + "' at offset " +
           std::to_string(pos_) + ")");
    ++pos_;
  }
  std::string parseQuoted() {
    char quote = peek();
    if (quote != '\'' && quote != '"')
      fail("has a malformed header (expected a string at offset " + std::to_string(pos_) + ")");
    size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos)
      fail("has a malformed header (unterminated string)");
    std::string value(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return value;
  }
  bool parseBool() {
    for (auto [word, value] : {std::pair<std::string_view, bool>{"True", true}, {"False", false}})
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    fail("has a malformed header (fortran_order is not True or False)");
  }
  std::vector<int64_t> parseShape() {
    std::vector<int64_t> shape;
    expect('(');
    while (true) {
      skipSpace();
      if (peek() == ')')
        break;
      size_t start = pos_;
      int64_t dim = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (dim > (std::numeric_limits<int64_t>::max() - 9) / 10)
          fail("has a dimension that is too large");
        dim = dim * 10 + (peek() - '0');
        ++pos_;
      }
      if (pos_ == start)
        fail("has a malformed shape");
      shape.push_back(dim);
      skipSpace();
      if (peek() == ',')
        ++pos_;
      else if (peek() != ')')
        fail("has a malformed shape");
    }
    ++pos_;
    return shape;
  }

  std::string_view text_;
  const std::string &path_;
  const std::string &subject_;
  size_t pos_ = 0;
};

/// Decodes one .npy file held in memory. Errors read `path: <subject> <problem>`.
Tensor parseNpy(const uint8_t *data, size_t size, const std::string &path,
                const std::string &subject) {
  auto fail = [&](const std::string &problem) -> Error {
    return Error(path, subject + " " + problem);
  };
  if (size < kNpyMagicSize + 4 || std::memcmp(data, kNpyMagic, kNpyMagicSize) != 0)
    throw fail("is not a .npy array (bad magic)");
  uint8_t major = data[6];
  size_t prefix, headerLength;
  if (major == 1) {
    prefix = 10;
    headerLength = loadLE<uint16_t>(data + 8);
  } else if (major == 2 || major == 3) {
    if (size < 12)
      throw fail("has a truncated header");
    prefix = 12;
    headerLength = loadLE<uint32_t>(data + 8);
  } else {
    throw fail("has .npy format version " + std::to_string(major) + ", only 1-3 are supported");
  }
  if (headerLength > size - prefix)
    throw fail("has a truncated header");
  std::string_view headerText(reinterpret_cast<const char *>(data + prefix), headerLength);
  NpyHeader header = NpyHeaderParser(headerText, path, subject).parse();

  const NpyDType *known = nullptr;
  for (const NpyDType &entry : kNpyDTypes)
    if (header.descr == entry.descr)
      known = &entry;
  if (!known)
    throw fail("has dtype " + header.descr + ", " + kSupportedDTypes);
  if (header.fortranOrder && header.shape.size() > 1)
    throw fail("is in Fortran order, only C order is supported");

  std::string type = typeToString(known->dtype, header.shape);
  std::optional<uint64_t> expected = denseByteSize(known->dtype, header.shape);
  if (!expected)
    throw fail("has shape " + shapeToString(header.shape) + ", which is too large");
  size_t available = size - prefix - headerLength;
  if (available != *expected)
    throw fail("has " + std::to_string(available) + " bytes of data, expected " +
               std::to_string(*expected) + " for " + type);
  Tensor tensor(known->dtype, header.shape);
  std::memcpy(tensor.rawData(), data + prefix + headerLength, tensor.nbytes());
  return tensor;
}

/// The bytes that precede a tensor's data in its .npy encoding.
std::string npyHeader(const Tensor &tensor) {
  std::string dict = std::string("{'descr': '") + npyDescr(tensor.dtype()) +
                     "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < tensor.shape().size(); ++i)
    dict += (i ? ", " : "") + std::to_string(tensor.shape()[i]);
  dict += tensor.shape().size() == 1 ? ",), }" : "), }";

  // Pad with spaces and a final newline so the data starts 64-byte aligned, as numpy does.
  bool version1 = dict.size() + 1 + 10 <= std::numeric_limits<uint16_t>::max();
  size_t prefix = version1 ? 10 : 12;
  size_t total = (prefix + dict.size() + 1 + kNpyAlignment - 1) / kNpyAlignment * kNpyAlignment;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';

  std::string out(kNpyMagic, kNpyMagicSize);
  out += static_cast<char>(version1 ? 1 : 2);
  out += '\0';
  if (version1)
    appendLE<uint16_t>(out, static_cast<uint16_t>(dict.size()));
  else
    appendLE<uint32_t>(out, static_cast<uint32_t>(dict.size()));
  return out + dict;
}

//===-- zip ----------------------------------------------------------------===//

[[noreturn]] void failZip64(const std::string &path) {
  throw Error(path, "zip64 archives (entries over 4 GiB or more than 65535 entries) are not "
                    "supported");
}

std::vector<uint8_t> inflateEntry(const uint8_t *data, size_t compressedSize,
                                  size_t uncompressedSize, const std::string &path,
                                  const std::string &subject) {
  std::vector<uint8_t> out(uncompressedSize);
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) // raw deflate, as zip stores it
    throw Error(path, "cannot initialise zlib");
  stream.next_in = const_cast<uint8_t *>(data);
  stream.next_out = out.data();
  size_t inLeft = compressedSize, outLeft = uncompressedSize;
  int status = Z_OK;
  while (status == Z_OK) {
    // avail_* are 32-bit; feed large entries in pieces.
    if (stream.avail_in == 0) {
      stream.avail_in = static_cast<uInt>(std::min<size_t>(inLeft, 1u << 30));
      inLeft -= stream.avail_in;
    }
    if (stream.avail_out == 0) {
      stream.avail_out = static_cast<uInt>(std::min<size_t>(outLeft, 1u << 30));
      outLeft -= stream.avail_out;
    }
    status = inflate(&stream, Z_NO_FLUSH);
    if (status == Z_BUF_ERROR && (stream.avail_in || inLeft) && (stream.avail_out || outLeft))
      status = Z_OK;
  }
  uint64_t produced = stream.total_out;
  inflateEnd(&stream);
  if (status != Z_STREAM_END || produced != uncompressedSize)
    throw Error(path, subject + " is corrupt (deflate stream " +
                          (status == Z_STREAM_END ? "has the wrong size" : "is damaged") + ")");
  return out;
}

} // namespace

NamedTensors readNpz(const std::string &path) {
  MappedFile file(path);
  const uint8_t *base = file.data();
  size_t size = file.size();

  if (size >= kNpyMagicSize && std::memcmp(base, kNpyMagic, kNpyMagicSize) == 0)
    throw Error(path, "is a .npy file, not an .npz archive");
  // The end-of-central-directory record is last, followed only by a comment (< 64 KiB).
  size_t eocd = std::string::npos;
  if (size >= kEndOfCentralDirSize) {
    size_t lowest = size - kEndOfCentralDirSize > 0xFFFF ? size - kEndOfCentralDirSize - 0xFFFF : 0;
    for (size_t at = size - kEndOfCentralDirSize + 1; at-- > lowest;)
      if (loadLE<uint32_t>(base + at) == kEndOfCentralDirSig) {
        eocd = at;
        break;
      }
  }
  if (eocd == std::string::npos) {
    if (size == 0)
      throw Error(path, "is empty, not an .npz archive");
    bool looksLikeZip = size >= 4 && loadLE<uint32_t>(base) == kLocalHeaderSig;
    throw Error(path, looksLikeZip ? "is truncated or corrupt (no zip end-of-directory record)"
                                   : "is not an .npz archive (no zip end-of-directory record)");
  }
  const uint8_t *end = base + eocd;
  uint16_t diskNumber = loadLE<uint16_t>(end + 4), cdDisk = loadLE<uint16_t>(end + 6);
  uint16_t entriesOnDisk = loadLE<uint16_t>(end + 8), entryCount = loadLE<uint16_t>(end + 10);
  uint32_t cdSize = loadLE<uint32_t>(end + 12), cdOffset = loadLE<uint32_t>(end + 16);
  if (entryCount == 0xFFFF || cdSize == 0xFFFFFFFF || cdOffset == 0xFFFFFFFF ||
      (eocd >= kZip64LocatorSize && loadLE<uint32_t>(end - kZip64LocatorSize) == kZip64LocatorSig))
    failZip64(path);
  if (diskNumber != 0 || cdDisk != 0 || entriesOnDisk != entryCount)
    throw Error(path, "multi-volume zip archives are not supported");
  if (uint64_t(cdOffset) + cdSize > eocd)
    throw Error(path, "is corrupt (central directory out of range)");

  NamedTensors tensors;
  size_t at = cdOffset;
  for (uint16_t i = 0; i < entryCount; ++i) {
    if (at + kCentralHeaderSize > uint64_t(cdOffset) + cdSize ||
        loadLE<uint32_t>(base + at) != kCentralHeaderSig)
      throw Error(path, "is corrupt (bad central directory entry " + std::to_string(i) + ")");
    const uint8_t *entry = base + at;
    uint16_t flags = loadLE<uint16_t>(entry + 8), method = loadLE<uint16_t>(entry + 10);
    uint32_t crc = loadLE<uint32_t>(entry + 16);
    uint32_t compressedSize = loadLE<uint32_t>(entry + 20);
    uint32_t uncompressedSize = loadLE<uint32_t>(entry + 24);
    uint16_t nameLength = loadLE<uint16_t>(entry + 28), extraLength = loadLE<uint16_t>(entry + 30);
    uint16_t commentLength = loadLE<uint16_t>(entry + 32);
    uint32_t localOffset = loadLE<uint32_t>(entry + 42);
    size_t next = at + kCentralHeaderSize + nameLength + extraLength + commentLength;
    if (next > uint64_t(cdOffset) + cdSize)
      throw Error(path, "is corrupt (bad central directory entry " + std::to_string(i) + ")");
    std::string entryName(reinterpret_cast<const char *>(entry + kCentralHeaderSize), nameLength);
    at = next;

    if (compressedSize == 0xFFFFFFFF || uncompressedSize == 0xFFFFFFFF ||
        localOffset == 0xFFFFFFFF)
      failZip64(path);
    size_t suffixLength = sizeof kNpySuffix - 1;
    if (entryName.size() <= suffixLength ||
        entryName.compare(entryName.size() - suffixLength, suffixLength, kNpySuffix) != 0)
      throw Error(path, "entry '" + entryName + "' is not a .npy array");
    std::string name = entryName.substr(0, entryName.size() - suffixLength);
    std::string subject = "array '" + name + "'";
    if (flags & kFlagEncrypted)
      throw Error(path, subject + " is encrypted");
    if (method != kMethodStored && method != kMethodDeflate)
      throw Error(path, subject + " uses zip compression method " + std::to_string(method) +
                            ", only stored and deflate are supported");

    if (uint64_t(localOffset) + kLocalHeaderSize > size ||
        loadLE<uint32_t>(base + localOffset) != kLocalHeaderSig)
      throw Error(path, subject + " is corrupt (bad local header)");
    uint64_t dataOffset = uint64_t(localOffset) + kLocalHeaderSize +
                          loadLE<uint16_t>(base + localOffset + 26) +
                          loadLE<uint16_t>(base + localOffset + 28);
    if (dataOffset + compressedSize > size)
      throw Error(path, subject + " is truncated");
    const uint8_t *stored = base + dataOffset;

    std::vector<uint8_t> inflated;
    const uint8_t *npy = stored;
    if (method == kMethodDeflate) {
      inflated = inflateEntry(stored, compressedSize, uncompressedSize, path, subject);
      npy = inflated.data();
    } else if (compressedSize != uncompressedSize) {
      throw Error(path, subject + " is corrupt (stored entry sizes differ)");
    }
    if (crc32_z(0, npy, uncompressedSize) != crc)
      throw Error(path, subject + " is corrupt (CRC mismatch)");
    Tensor tensor = parseNpy(npy, uncompressedSize, path, subject);
    if (!tensors.insert(name, std::move(tensor)))
      throw Error(path, subject + " appears twice");
  }
  return tensors;
}

void writeNpz(const std::string &path, const NamedTensors &tensors) {
  constexpr uint64_t kMaxZip32 = 0xFFFFFFFE;
  if (tensors.size() >= 0xFFFF)
    failZip64(path);
  AtomicFileWriter writer(path);
  std::string centralDirectory;
  for (const auto &[name, tensor] : tensors) {
    if (name.empty())
      throw Error(path, "cannot store an array with an empty name");
    std::string entryName = name + kNpySuffix;
    std::string header = npyHeader(tensor);
    uint64_t entrySize = header.size() + tensor.nbytes();
    uint64_t localOffset = writer.offset();
    if (entrySize > kMaxZip32 || localOffset > kMaxZip32 || entryName.size() > 0xFFFF)
      failZip64(path);
    uint32_t crc = crc32_z(0, reinterpret_cast<const Bytef *>(header.data()), header.size());
    crc = crc32_z(crc, static_cast<const Bytef *>(tensor.rawData()), tensor.nbytes());
    bool asciiName = true;
    for (unsigned char c : entryName)
      asciiName &= c < 0x80;
    uint16_t flags = asciiName ? 0 : kFlagUtf8Name; // unflagged names are read as cp437

    // Fields shared by the local header and the central directory entry, from "version
    // needed" to the name length.
    std::string common;
    appendLE<uint16_t>(common, 20);
    appendLE<uint16_t>(common, flags);
    appendLE<uint16_t>(common, kMethodStored);
    appendLE<uint16_t>(common, 0); // time
    appendLE<uint16_t>(common, kDosDate1980);
    appendLE<uint32_t>(common, crc);
    appendLE<uint32_t>(common, static_cast<uint32_t>(entrySize)); // compressed
    appendLE<uint32_t>(common, static_cast<uint32_t>(entrySize)); // uncompressed
    appendLE<uint16_t>(common, static_cast<uint16_t>(entryName.size()));

    std::string local;
    appendLE<uint32_t>(local, kLocalHeaderSig);
    local += common;
    appendLE<uint16_t>(local, 0); // extra length
    writer.write(local + entryName + header);
    writer.write(tensor.rawData(), tensor.nbytes());

    appendLE<uint32_t>(centralDirectory, kCentralHeaderSig);
    appendLE<uint16_t>(centralDirectory, 20); // version made by
    centralDirectory += common;
    appendLE<uint16_t>(centralDirectory, 0); // extra length
    appendLE<uint16_t>(centralDirectory, 0); // comment length
    appendLE<uint16_t>(centralDirectory, 0); // disk
    appendLE<uint16_t>(centralDirectory, 0); // internal attributes
    appendLE<uint32_t>(centralDirectory, 0); // external attributes
    appendLE<uint32_t>(centralDirectory, static_cast<uint32_t>(localOffset));
    centralDirectory += entryName;
  }
  uint64_t cdOffset = writer.offset();
  if (cdOffset + centralDirectory.size() > kMaxZip32)
    failZip64(path);
  std::string end;
  appendLE<uint32_t>(end, kEndOfCentralDirSig);
  appendLE<uint16_t>(end, 0); // this disk
  appendLE<uint16_t>(end, 0); // disk with the central directory
  appendLE<uint16_t>(end, static_cast<uint16_t>(tensors.size()));
  appendLE<uint16_t>(end, static_cast<uint16_t>(tensors.size()));
  appendLE<uint32_t>(end, static_cast<uint32_t>(centralDirectory.size()));
  appendLE<uint32_t>(end, static_cast<uint32_t>(cdOffset));
  appendLE<uint16_t>(end, 0); // comment length
  writer.write(centralDirectory + end);
  writer.commit();
}

} // namespace msdd::rt
