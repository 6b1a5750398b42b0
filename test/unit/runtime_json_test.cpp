//===- runtime_json_test.cpp - Json parser and writer ---------------------===//
#include "msdd/Runtime/Json.h"

#include "runtime_test_util.h"

#include <cmath>

using namespace msdd::rt;
using msdd::rt::test::errorOf;

TEST(RuntimeJson, ParsesEveryKind) {
  Json doc = Json::parse(R"( {"n": null, "t": true, "f": false, "i": -42, "d": 2.5e-3,
                              "s": "a\"b\\c\/\n\u00e9\ud83d\ude00", "a": [1, [2], {}],
                              "o": {"k": "v"}} )");
  ASSERT_TRUE(doc.isObject());
  EXPECT_TRUE(doc.find("n")->isNull());
  EXPECT_TRUE(doc.find("t")->asBool());
  EXPECT_FALSE(doc.find("f")->asBool());
  EXPECT_TRUE(doc.find("i")->isInteger());
  EXPECT_EQ(doc.find("i")->asInt(), -42);
  EXPECT_FALSE(doc.find("d")->isInteger());
  EXPECT_DOUBLE_EQ(doc.find("d")->asNumber(), 2.5e-3);
  EXPECT_EQ(doc.find("s")->asString(), "a\"b\\c/\n\xc3\xa9\xf0\x9f\x98\x80");
  ASSERT_EQ(doc.find("a")->asArray().size(), 3u);
  EXPECT_EQ(doc.find("a")->asArray()[1].asArray()[0].asInt(), 2);
  EXPECT_EQ(doc.find("o")->find("k")->asString(), "v");
  EXPECT_EQ(doc.find("missing"), nullptr);
}

TEST(RuntimeJson, KeepsLargeIntegersExact) {
  Json doc = Json::parse("[9007199254740993, -9223372036854775808, 1e2, 18446744073709551616]");
  EXPECT_EQ(doc.asArray()[0].asInt(), 9007199254740993);
  EXPECT_EQ(doc.asArray()[1].asInt(), INT64_MIN);
  EXPECT_FALSE(doc.asArray()[2].isInteger());
  EXPECT_DOUBLE_EQ(doc.asArray()[2].asNumber(), 100.0);
  EXPECT_FALSE(doc.asArray()[3].isInteger()); // beyond int64: kept as a double
  EXPECT_DOUBLE_EQ(doc.asArray()[3].asNumber(), 18446744073709551616.0);
}

TEST(RuntimeJson, DumpIsCompactOrderedAndRoundTrips) {
  Json doc = Json::object();
  doc["z"] = 1;
  doc["a"] = Json(Json::Array{Json(0.1), Json("x\ty"), Json(), Json(false)});
  doc["ctl"] = std::string("\x01");
  EXPECT_EQ(doc.dump(), R"({"z":1,"a":[0.1,"x\ty",null,false],"ctl":"\u0001"})");
  EXPECT_EQ(Json::parse(doc.dump()).dump(), doc.dump());
  EXPECT_EQ(Json(1.0 / 3.0).dump(), Json::parse(Json(1.0 / 3.0).dump()).dump());
  EXPECT_DOUBLE_EQ(Json::parse(Json(1.0 / 3.0).dump()).asNumber(), 1.0 / 3.0);
  EXPECT_EQ(Json(std::nan("")).dump(), "null");
}

TEST(RuntimeJson, ErrorsNameTheOffset) {
  struct Case {
    const char *text;
    const char *message;
  } cases[] = {
      {R"({"a":})", "ctx: invalid JSON at offset 5: unexpected character '}'"},
      {R"({"a" 1})", "ctx: invalid JSON at offset 5: expected ':'"},
      {"[1, 2", "ctx: invalid JSON at offset 5: expected ']', got end of input"},
      {"", "ctx: invalid JSON at offset 0: unexpected end of input"},
      {R"("abc)", "ctx: invalid JSON at offset 4: unterminated string"},
      {"[1] x", "ctx: invalid JSON at offset 4: unexpected data after the document"},
      {"01", "ctx: invalid JSON at offset 0: leading zero in number"},
      {"tru", "ctx: invalid JSON at offset 0: invalid literal"},
      {R"("\x")", "ctx: invalid JSON at offset 2: invalid escape '\\x'"},
      {R"("\ud800")", "ctx: invalid JSON at offset 7: unpaired surrogate in \\u escape"},
      {"{1:2}", "ctx: invalid JSON at offset 1: expected a string key"},
      {"1.", "ctx: invalid JSON at offset 2: expected digits after '.'"},
  };
  for (const Case &c : cases)
    EXPECT_EQ(errorOf([&] { Json::parse(c.text, "ctx"); }), c.message) << c.text;
}

TEST(RuntimeJson, RejectsDeepNesting) {
  std::string deep(100000, '[');
  EXPECT_NE(errorOf([&] { Json::parse(deep); }).find("nesting deeper than"), std::string::npos);
}

TEST(RuntimeJson, WrongKindAccessThrows) {
  Json number(3);
  EXPECT_EQ(errorOf([&] { number.asString(); }), "JSON: expected string, got number");
  EXPECT_EQ(errorOf([&] { Json(2.5).asInt(); }), "JSON: expected an integer, got 2.5");
}
