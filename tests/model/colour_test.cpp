#include "model/colour.h"

#include <doctest/doctest.h>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_colour_test {

using nlohmann::json;
using namespace t2m::model;

TEST_SUITE("colour") {
  TEST_CASE("v2 12-hex-char colour both ways") {
    ColourFormat f = ColourFormat::JSON;
    auto c = parse_colour(json("00f003e801f4"), &f);
    REQUIRE(c.has_value());
    CHECK(f == ColourFormat::HEX12);
    CHECK(*c == TuyaHsv{240, 1000, 500});
    CHECK(format_colour({240, 1000, 500}, ColourFormat::HEX12) == json("00f003e801f4"));
    CHECK(format_colour({0, 0, 10}, ColourFormat::HEX12) == json("00000000000a"));
  }

  TEST_CASE("v1 14-hex-char colour both ways (rrggbb0hhhssvv)") {
    ColourFormat f = ColourFormat::JSON;
    auto c = parse_colour(json("ff00000000ffff"), &f);
    REQUIRE(c.has_value());
    CHECK(f == ColourFormat::HEX14);
    CHECK(*c == TuyaHsv{0, 255, 255});
    CHECK(format_colour({120, 255, 255}, ColourFormat::HEX14) == json("00ff000078ffff"));
    CHECK(format_colour({240, 255, 255}, ColourFormat::HEX14) == json("0000ff00f0ffff"));
    CHECK(format_colour({0, 0, 128}, ColourFormat::HEX14) == json("80808000000080"));
    CHECK(*parse_colour(json("00ff000078ffff")) == TuyaHsv{120, 255, 255});
  }

  TEST_CASE("JSON hsv as object and as text") {
    ColourFormat f = ColourFormat::HEX12;
    CHECK(*parse_colour(json::parse(R"({"h":120,"s":1000,"v":1000})"), &f) == TuyaHsv{120, 1000, 1000});
    CHECK(f == ColourFormat::JSON);
    CHECK(*parse_colour(json(R"({"h":10,"s":20,"v":30})")) == TuyaHsv{10, 20, 30});
    CHECK(format_colour({120, 1000, 1000}, ColourFormat::JSON) == json(R"({"h":120,"s":1000,"v":1000})"));
  }

  TEST_CASE("unreadable colours") {
    CHECK_FALSE(parse_colour(json("00f003e8zzzz")).has_value());
    CHECK_FALSE(parse_colour(json("016903e803e8")).has_value());  // hue 361
    CHECK_FALSE(parse_colour(json("000003e903e8")).has_value());  // saturation 1001
    CHECK_FALSE(parse_colour(json("00f0")).has_value());
    CHECK_FALSE(parse_colour(json(5)).has_value());
    CHECK_FALSE(parse_colour(json(R"({"h":1})")).has_value());
    CHECK_FALSE(parse_colour(json("{bad")).has_value());
  }

  TEST_CASE("HA brightness and saturation") {
    CHECK(ha_brightness(500, 1000) == 128);
    CHECK(ha_brightness(1000, 1000) == 255);
    CHECK(ha_brightness(10, 1000) == 3);
    CHECK(ha_brightness(255, 255) == 255);
    CHECK(tuya_brightness(128, 10, 1000) == 502);
    CHECK(tuya_brightness(255, 10, 1000) == 1000);
    CHECK(tuya_brightness(1, 10, 1000) == 10);  // raised to the bulb's minimum
    CHECK(tuya_brightness(100, 25, 255) == 100);
    CHECK(tuya_brightness(10, 25, 255) == 25);
    CHECK(ha_saturation(1000, 1000) == 100.0);
    CHECK(ha_saturation(333, 1000) == doctest::Approx(33.3));
    CHECK(ha_saturation(128, 255) == doctest::Approx(50.2));
    CHECK(tuya_saturation(100, 1000) == 1000);
    CHECK(tuya_saturation(33.3, 1000) == 333);
    CHECK(tuya_saturation(50.2, 255) == 128);
  }

  TEST_CASE("colour temperature <-> Kelvin (2700-6500 K default range)") {
    CHECK(kelvin_from_tuya(0, 1000, 2700, 6500) == 2700);
    CHECK(kelvin_from_tuya(500, 1000, 2700, 6500) == 4600);
    CHECK(kelvin_from_tuya(1000, 1000, 2700, 6500) == 6500);
    CHECK(kelvin_from_tuya(128, 255, 2700, 6500) == 4607);
    CHECK(tuya_from_kelvin(4600, 1000, 2700, 6500) == 500);
    CHECK(tuya_from_kelvin(3000, 1000, 2700, 6500) == 79);
    CHECK(tuya_from_kelvin(4600, 255, 2700, 6500) == 128);
    CHECK(tuya_from_kelvin(2700, 1000, 2700, 6500) == 0);
    CHECK(tuya_from_kelvin(6500, 1000, 2700, 6500) == 1000);
    CHECK(tuya_from_kelvin(4000, 1000, 2200, 6000) == 474);  // overridden range
  }

  TEST_CASE("rgb <-> hsv") {
    double h = 0, s = 0, v = 0;
    rgb_to_hsv({255, 0, 0}, h, s, v);
    CHECK(h == 0);
    CHECK(s == 1);
    CHECK(v == 1);
    rgb_to_hsv({0, 0, 255}, h, s, v);
    CHECK(h == doctest::Approx(240));
    rgb_to_hsv({255, 255, 0}, h, s, v);
    CHECK(h == doctest::Approx(60));
    CHECK(hsv_to_rgb(300, 1, 1) == Rgb{255, 0, 255});
    CHECK(hsv_to_rgb(30, 1, 1) == Rgb{255, 128, 0});
  }
}

}  // namespace t2m_colour_test
