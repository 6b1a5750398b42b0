//===- Json.cpp -----------------------------------------------------------===//
#include "msdd/Runtime/Json.h"

#include "msdd/Runtime/Error.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace msdd::rt {

namespace {

/// Deeper documents are rejected rather than risking the stack on hostile input.
constexpr int kMaxDepth = 256;

class Parser {
public:
  Parser(std::string_view text, const std::string &context) : text_(text), context_(context) {}

  Json parseDocument() {
    skipSpace();
    Json value = parseValue(0);
    skipSpace();
    if (pos_ != text_.size())
      fail("unexpected data after the document");
    return value;
  }

private:
  [[noreturn]] void fail(const std::string &what) const {
    throw Error(context_, "invalid JSON at offset " + std::to_string(pos_) + ": " + what);
  }

  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return atEnd() ? '\0' : text_[pos_]; }

  void skipSpace() {
    while (!atEnd() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
      ++pos_;
  }

  void expectChar(char c) {
    if (peek() != c || atEnd())
      fail(std::string("expected '") + c + "'" + (atEnd() ? ", got end of input" : ""));
    ++pos_;
  }

  void expectWord(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word)
      fail("invalid literal");
    pos_ += word.size();
  }

  Json parseValue(int depth) {
    if (depth > kMaxDepth)
      fail("nesting deeper than " + std::to_string(kMaxDepth));
    if (atEnd())
      fail("unexpected end of input");
    switch (peek()) {
    case '{':
      return parseObject(depth);
    case '[':
      return parseArray(depth);
    case '"':
      return Json(parseString());
    case 't':
      expectWord("true");
      return Json(true);
    case 'f':
      expectWord("false");
      return Json(false);
    case 'n':
      expectWord("null");
      return Json();
    default:
      if (peek() == '-' || (peek() >= '0' && peek() <= '9'))
        return parseNumber();
      fail(std::string("unexpected character '") + peek() + "'");
    }
  }

  Json parseObject(int depth) {
    Json result = Json::object();
    Json::Object &members = result.asObject();
    ++pos_; // '{'
    skipSpace();
    if (peek() == '}') {
      ++pos_;
      return result;
    }
    while (true) {
      skipSpace();
      if (peek() != '"')
        fail("expected a string key");
      std::string key = parseString();
      skipSpace();
      expectChar(':');
      skipSpace();
      members.emplace_back(std::move(key), parseValue(depth + 1));
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expectChar('}');
      return result;
    }
  }

  Json parseArray(int depth) {
    Json result = Json::array();
    Json::Array &elements = result.asArray();
    ++pos_; // '['
    skipSpace();
    if (peek() == ']') {
      ++pos_;
      return result;
    }
    while (true) {
      skipSpace();
      elements.push_back(parseValue(depth + 1));
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expectChar(']');
      return result;
    }
  }

  unsigned parseHex4() {
    if (pos_ + 4 > text_.size())
      fail("truncated \\u escape");
    unsigned value = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      value <<= 4;
      if (c >= '0' && c <= '9')
        value |= c - '0';
      else if (c >= 'a' && c <= 'f')
        value |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        value |= c - 'A' + 10;
      else
        fail("invalid \\u escape");
    }
    return value;
  }

  static void appendUtf8(std::string &out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string parseString() {
    ++pos_; // '"'
    std::string out;
    while (true) {
      if (atEnd())
        fail("unterminated string");
      char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20)
        fail("control character in string");
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      ++pos_;
      if (atEnd())
        fail("unterminated string");
      char escape = text_[pos_++];
      switch (escape) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        unsigned cp = parseHex4();
        if (cp >= 0xD800 && cp < 0xDC00) {
          if (text_.substr(pos_, 2) != "\\u")
            fail("unpaired surrogate in \\u escape");
          pos_ += 2;
          unsigned low = parseHex4();
          if (low < 0xDC00 || low >= 0xE000)
            fail("unpaired surrogate in \\u escape");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp < 0xE000) {
          fail("unpaired surrogate in \\u escape");
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        --pos_;
        fail(std::string("invalid escape '\\") + escape + "'");
      }
    }
  }

  Json parseNumber() {
    size_t start = pos_;
    auto digits = [&] {
      size_t first = pos_;
      while (!atEnd() && peek() >= '0' && peek() <= '9')
        ++pos_;
      return pos_ - first;
    };
    if (peek() == '-')
      ++pos_;
    size_t intStart = pos_;
    if (digits() == 0)
      fail("expected digits");
    if (text_[intStart] == '0' && pos_ - intStart > 1) {
      pos_ = intStart;
      fail("leading zero in number");
    }
    bool integral = true;
    if (peek() == '.') {
      integral = false;
      ++pos_;
      if (digits() == 0)
        fail("expected digits after '.'");
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      ++pos_;
      if (peek() == '+' || peek() == '-')
        ++pos_;
      if (digits() == 0)
        fail("expected digits in exponent");
    }
    // from_chars is locale-independent, unlike strtod.
    const char *first = text_.data() + start, *last = text_.data() + pos_;
    if (integral) {
      int64_t value = 0;
      if (std::from_chars(first, last, value).ec == std::errc())
        return Json(value);
    }
    double value = 0;
    if (std::from_chars(first, last, value).ec != std::errc()) {
      pos_ = start;
      fail("number out of range");
    }
    return Json(value);
  }

  std::string_view text_;
  const std::string &context_;
  size_t pos_ = 0;
};

void dumpString(std::string &out, const std::string &s) {
  out += '"';
  for (char c : s) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        char buffer[8];
        std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(c));
        out += buffer;
      } else {
        out += c;
      }
    }
  }
  out += '"';
}

} // namespace

Json Json::parse(std::string_view text, const std::string &context) {
  return Parser(text, context).parseDocument();
}

const char *Json::kindName(Kind kind) {
  switch (kind) {
  case Kind::Null: return "null";
  case Kind::Bool: return "bool";
  case Kind::Number: return "number";
  case Kind::String: return "string";
  case Kind::Array: return "array";
  case Kind::Object: return "object";
  }
  return "?";
}

void Json::expect(Kind kind) const {
  if (kind_ != kind)
    throw Error("JSON", std::string("expected ") + kindName(kind) + ", got " + kindName());
}

bool Json::asBool() const {
  expect(Kind::Bool);
  return bool_;
}
double Json::asNumber() const {
  expect(Kind::Number);
  return number_;
}
int64_t Json::asInt() const {
  expect(Kind::Number);
  if (!isInteger_)
    throw Error("JSON", "expected an integer, got " + dump());
  return int_;
}
const std::string &Json::asString() const {
  expect(Kind::String);
  return string_;
}
const Json::Array &Json::asArray() const {
  expect(Kind::Array);
  return array_;
}
Json::Array &Json::asArray() {
  expect(Kind::Array);
  return array_;
}
const Json::Object &Json::asObject() const {
  expect(Kind::Object);
  return object_;
}
Json::Object &Json::asObject() {
  expect(Kind::Object);
  return object_;
}

const Json *Json::find(std::string_view key) const {
  if (kind_ != Kind::Object)
    return nullptr;
  for (const auto &[name, value] : object_)
    if (name == key)
      return &value;
  return nullptr;
}

Json &Json::operator[](std::string_view key) {
  if (kind_ == Kind::Null)
    kind_ = Kind::Object;
  expect(Kind::Object);
  for (auto &[name, value] : object_)
    if (name == key)
      return value;
  object_.emplace_back(std::string(key), Json());
  return object_.back().second;
}

void Json::push_back(Json value) {
  if (kind_ == Kind::Null)
    kind_ = Kind::Array;
  expect(Kind::Array);
  array_.push_back(std::move(value));
}

std::string Json::dump() const {
  std::string out;
  dumpTo(out);
  return out;
}

void Json::dumpTo(std::string &out) const {
  switch (kind_) {
  case Kind::Null:
    out += "null";
    return;
  case Kind::Bool:
    out += bool_ ? "true" : "false";
    return;
  case Kind::Number: {
    if (isInteger_) {
      out += std::to_string(int_);
      return;
    }
    if (!std::isfinite(number_)) {
      out += "null";
      return;
    }
    // The shortest text that reads back exactly, independent of the locale.
    char buffer[32];
    auto result = std::to_chars(buffer, buffer + sizeof buffer, number_);
    out.append(buffer, result.ptr);
    return;
  }
  case Kind::String:
    dumpString(out, string_);
    return;
  case Kind::Array:
    out += '[';
    for (size_t i = 0; i < array_.size(); ++i) {
      if (i)
        out += ',';
      array_[i].dumpTo(out);
    }
    out += ']';
    return;
  case Kind::Object:
    out += '{';
    for (size_t i = 0; i < object_.size(); ++i) {
      if (i)
        out += ',';
      dumpString(out, object_[i].first);
      out += ':';
      object_[i].second.dumpTo(out);
    }
    out += '}';
    return;
  }
}

} // namespace msdd::rt
