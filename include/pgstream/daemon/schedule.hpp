// When a stream table applies its changes: continuously (as soon as they
// commit), every fixed interval ('30s', '5m', '1h30m'), or on a cron
// expression ('*/5 * * * *', '@hourly'), evaluated in UTC.
//
// Value type; parse() never throws: it returns nullopt and a reason.
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace pgstream::daemon {

// Parses a duration made of <number><unit> parts, units ms, s, m, h, d
// ("20ms", "1h30m"). nullopt for anything else or for overflow.
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

class Schedule {
 public:
  enum class Kind { Continuous, Interval, Cron };

  Schedule() = default;  // continuous
  [[nodiscard]] static std::optional<Schedule> parse(std::string_view text, std::string& why);

  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  [[nodiscard]] std::chrono::milliseconds interval() const noexcept { return interval_; }
  [[nodiscard]] const std::string& text() const noexcept { return text_; }

  // The first time strictly after `after` at which the schedule fires; for
  // Continuous, `after` itself.
  [[nodiscard]] std::chrono::system_clock::time_point next_after(
      std::chrono::system_clock::time_point after) const;

 private:
  struct CronFields {
    std::bitset<60> minutes;
    std::bitset<24> hours;
    std::bitset<32> days_of_month;  // 1..31
    std::bitset<13> months;         // 1..12
    std::bitset<7> days_of_week;    // 0..6, Sunday = 0
    bool any_day_of_month = true;
    bool any_day_of_week = true;
  };
  static std::optional<CronFields> parse_cron(std::string_view text, std::string& why);
  [[nodiscard]] bool cron_matches(const std::tm& utc) const;

  Kind kind_ = Kind::Continuous;
  std::chrono::milliseconds interval_{0};
  CronFields cron_;
  std::string text_;
};

}  // namespace pgstream::daemon
