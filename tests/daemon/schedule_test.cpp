#include <catch2/catch.hpp>
#include <ctime>

#include "pgstream/daemon/schedule.hpp"

using namespace pgstream::daemon;
using std::chrono::milliseconds;

namespace {

std::chrono::system_clock::time_point utc(int year, int month, int day, int hour, int minute) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

Schedule parse(const char* text) {
  std::string why;
  auto schedule = Schedule::parse(text, why);
  INFO(text << ": " << why);
  REQUIRE(schedule.has_value());
  return *schedule;
}

}  // namespace

TEST_CASE("durations", "[daemon][schedule]") {
  CHECK(parse_duration("20ms") == milliseconds(20));
  CHECK(parse_duration("30s") == milliseconds(30'000));
  CHECK(parse_duration("1h30m") == milliseconds(5'400'000));
  CHECK(parse_duration("2d") == milliseconds(172'800'000));
  for (const char* bad : {"", "5", "m", "5 m", "5x", "-5s", "1.5s", "99999999999999999999s"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_duration(bad).has_value());
  }
}

TEST_CASE("interval schedules fire every interval", "[daemon][schedule]") {
  const Schedule schedule = parse("30s");
  CHECK(schedule.kind() == Schedule::Kind::Interval);
  const auto t = utc(2026, 11, 25, 10, 0);
  CHECK(schedule.next_after(t) == t + std::chrono::seconds(30));
  std::string why;
  CHECK_FALSE(Schedule::parse("0s", why).has_value());
}

TEST_CASE("cron schedules fire at the next matching minute, in UTC", "[daemon][schedule]") {
  const auto t = utc(2026, 11, 25, 10, 7);  // a Wednesday
  CHECK(parse("*/5 * * * *").next_after(t) == utc(2026, 11, 25, 10, 10));
  CHECK(parse("@hourly").next_after(t) == utc(2026, 11, 25, 11, 0));
  CHECK(parse("@daily").next_after(t) == utc(2026, 11, 26, 0, 0));
  CHECK(parse("30 2 * * mon-fri").next_after(t) == utc(2026, 11, 26, 2, 30));
  CHECK(parse("0 0 * * 0").next_after(t) == utc(2026, 11, 29, 0, 0));  // Sunday
  CHECK(parse("0 0 * * 7").next_after(t) == utc(2026, 11, 29, 0, 0));  // Sunday too
  CHECK(parse("0 12 1 jan *").next_after(t) == utc(2027, 1, 1, 12, 0));
  // Both day fields restricted: either matches (the 1st, or a Friday).
  CHECK(parse("0 0 1 * fri").next_after(t) == utc(2026, 11, 27, 0, 0));
  CHECK(parse("0,30 9-17/4 * * *").next_after(t) == utc(2026, 11, 25, 13, 0));
  CHECK(parse("7 10 * * *").next_after(t) == utc(2026, 11, 26, 10, 7));  // strictly after
}

TEST_CASE("bad cron expressions say what is wrong", "[daemon][schedule]") {
  std::string why;
  CHECK_FALSE(Schedule::parse("60 * * * *", why).has_value());
  CHECK(why == "not a valid cron expression: invalid minute field '60'");
  CHECK_FALSE(Schedule::parse("* * * 13 *", why).has_value());
  CHECK(why == "not a valid cron expression: invalid month field '13'");
  CHECK_FALSE(Schedule::parse("* * * * * *", why).has_value());
  CHECK_FALSE(Schedule::parse("5-1 * * * *", why).has_value());
  CHECK_FALSE(Schedule::parse("*/0 * * * *", why).has_value());
  CHECK_FALSE(Schedule::parse("@sometimes", why).has_value());
  CHECK_FALSE(Schedule::parse("5minutes", why).has_value());
  CHECK(why == "not a duration (e.g. '30s', '5m', '1h30m') nor a cron expression");
}
