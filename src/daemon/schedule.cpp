#include "pgstream/daemon/schedule.hpp"

#include <array>
#include <charconv>
#include <ctime>
#include <limits>
#include <vector>

namespace pgstream::daemon {

namespace {

using std::chrono::milliseconds;

std::optional<std::int64_t> parse_number(std::string_view text) {
  std::int64_t value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || value < 0) return std::nullopt;
  return value;
}

std::optional<std::int64_t> unit_ms(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s") return 1000;
  if (unit == "m") return 60'000;
  if (unit == "h") return 3'600'000;
  if (unit == "d") return 86'400'000;
  return std::nullopt;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

std::vector<std::string_view> split_whitespace(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    if (i > start) parts.push_back(text.substr(start, i - start));
  }
  return parts;
}

// One cron field: "*", "*/n", "a", "a-b", "a-b/n", comma lists; names for
// months and weekdays. Sets bits [min, max] of `out` (indices are values).
template <std::size_t N>
bool parse_cron_field(std::string_view field, int min, int max, const std::array<std::string_view, 12>* names,
                      int name_base, std::bitset<N>& out) {
  auto value_of = [&](std::string_view text) -> std::optional<int> {
    if (names != nullptr) {
      for (std::size_t i = 0; i < names->size() && !(*names)[i].empty(); ++i) {
        if (text.size() == 3 && std::equal(text.begin(), text.end(), (*names)[i].begin(), [](char a, char b) {
              return (a | 0x20) == b;  // ASCII case-insensitive
            })) {
          return static_cast<int>(i) + name_base;
        }
      }
    }
    auto number = parse_number(text);
    if (!number || *number > 1000) return std::nullopt;
    return static_cast<int>(*number);
  };
  for (std::string_view item : split(field, ',')) {
    int step = 1;
    if (const auto slash = item.find('/'); slash != std::string_view::npos) {
      auto parsed = parse_number(item.substr(slash + 1));
      if (!parsed || *parsed == 0 || *parsed > max) return false;
      step = static_cast<int>(*parsed);
      item = item.substr(0, slash);
    }
    int low = min;
    int high = max;
    if (item != "*") {
      const auto dash = item.find('-');
      auto first = value_of(item.substr(0, dash));
      if (!first) return false;
      low = high = *first;
      if (dash != std::string_view::npos) {
        auto last = value_of(item.substr(dash + 1));
        if (!last) return false;
        high = *last;
      } else if (step != 1) {
        high = max;  // "5/15" means from 5 to the end, every 15
      }
    }
    if (low < min || high > max || low > high) return false;
    for (int v = low; v <= high; v += step) out.set(static_cast<std::size_t>(v));
  }
  return true;
}

constexpr std::array<std::string_view, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 12> kDayNames = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

std::string_view expand_macro(std::string_view text) {
  if (text == "@yearly" || text == "@annually") return "0 0 1 1 *";
  if (text == "@monthly") return "0 0 1 * *";
  if (text == "@weekly") return "0 0 * * 0";
  if (text == "@daily" || text == "@midnight") return "0 0 * * *";
  if (text == "@hourly") return "0 * * * *";
  return text;
}

}  // namespace

std::optional<milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t digits = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    const std::size_t unit = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
    auto number = parse_number(text.substr(digits, unit - digits));
    auto factor = unit_ms(text.substr(unit, i - unit));
    if (!number || !factor) return std::nullopt;
    if (*number > (std::numeric_limits<std::int64_t>::max() - total) / *factor) return std::nullopt;
    total += *number * *factor;
  }
  return milliseconds(total);
}

std::optional<Schedule::CronFields> Schedule::parse_cron(std::string_view text, std::string& why) {
  const auto fields = split_whitespace(expand_macro(text));
  if (fields.size() != 5) {
    why = "a cron expression has 5 fields (minute hour day-of-month month day-of-week), got " +
          std::to_string(fields.size());
    return std::nullopt;
  }
  CronFields cron;
  std::bitset<8> days_of_week;  // 7 is Sunday too
  static constexpr std::array<std::string_view, 5> kFieldNames = {"minute", "hour", "day-of-month", "month",
                                                                  "day-of-week"};
  const bool ok[] = {parse_cron_field(fields[0], 0, 59, nullptr, 0, cron.minutes),
                     parse_cron_field(fields[1], 0, 23, nullptr, 0, cron.hours),
                     parse_cron_field(fields[2], 1, 31, nullptr, 0, cron.days_of_month),
                     parse_cron_field(fields[3], 1, 12, &kMonthNames, 1, cron.months),
                     parse_cron_field(fields[4], 0, 7, &kDayNames, 0, days_of_week)};
  for (std::size_t i = 0; i < kFieldNames.size(); ++i) {
    if (!ok[i]) {
      why = "invalid " + std::string(kFieldNames[i]) + " field '" + std::string(fields[i]) + "'";
      return std::nullopt;
    }
  }
  for (std::size_t d = 0; d < 7; ++d) cron.days_of_week[d] = days_of_week[d] || (d == 0 && days_of_week[7]);
  cron.any_day_of_month = fields[2].front() == '*';  // "*" and "*/n" leave the day open
  cron.any_day_of_week = fields[4].front() == '*';
  return cron;
}

std::optional<Schedule> Schedule::parse(std::string_view text, std::string& why) {
  Schedule schedule;
  schedule.text_ = std::string(text);
  if (auto interval = parse_duration(text)) {
    if (interval->count() <= 0) {
      why = "a schedule's interval must be positive";
      return std::nullopt;
    }
    schedule.kind_ = Kind::Interval;
    schedule.interval_ = *interval;
    return schedule;
  }
  const bool looks_like_duration =
      !text.empty() && text.find(' ') == std::string_view::npos && text[0] != '@';
  std::string cron_why;
  auto cron = parse_cron(text, cron_why);
  if (!cron) {
    why = looks_like_duration ? "not a duration (e.g. '30s', '5m', '1h30m') nor a cron expression"
                              : "not a valid cron expression: " + cron_why;
    return std::nullopt;
  }
  schedule.kind_ = Kind::Cron;
  schedule.cron_ = *cron;
  return schedule;
}

bool Schedule::cron_matches(const std::tm& utc) const {
  const bool dom = cron_.days_of_month[static_cast<std::size_t>(utc.tm_mday)];
  const bool dow = cron_.days_of_week[static_cast<std::size_t>(utc.tm_wday)];
  // Vixie cron: when both day fields are restricted, either may match.
  bool day = false;
  if (cron_.any_day_of_month && cron_.any_day_of_week) {
    day = true;
  } else if (cron_.any_day_of_month) {
    day = dow;
  } else if (cron_.any_day_of_week) {
    day = dom;
  } else {
    day = dom || dow;
  }
  return day && cron_.months[static_cast<std::size_t>(utc.tm_mon) + 1] &&
         cron_.hours[static_cast<std::size_t>(utc.tm_hour)] &&
         cron_.minutes[static_cast<std::size_t>(utc.tm_min)];
}

std::chrono::system_clock::time_point Schedule::next_after(
    std::chrono::system_clock::time_point after) const {
  using std::chrono::minutes;
  switch (kind_) {
    case Kind::Continuous: return after;
    case Kind::Interval: return after + interval_;
    case Kind::Cron: break;
  }
  // Minute by minute from the next whole minute; a match exists within 4
  // years for any valid expression except impossible dates (Feb 30).
  auto t = std::chrono::floor<minutes>(after) + minutes(1);
  const auto limit = t + std::chrono::hours(24 * 366 * 5);
  while (t < limit) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    if (cron_matches(utc)) return t;
    t += minutes(1);
  }
  return std::chrono::system_clock::time_point::max();
}

}  // namespace pgstream::daemon
