#include "ipc/fault.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace shmraft::ipc {

uint64_t encode_fault(const FaultSettings& settings) {
  if (!(settings.drop_rate >= 0.0 && settings.drop_rate <= 1.0))  // also rejects NaN
    throw std::invalid_argument("link drop rate " + std::to_string(settings.drop_rate) +
                                " is outside [0, 1]");
  const auto delay_us = settings.delay.count();
  if (delay_us < 0 || delay_us > int64_t{UINT32_MAX})
    throw std::invalid_argument("link delay of " + std::to_string(delay_us) + " us is outside [0, " +
                                std::to_string(UINT32_MAX) + "] us");
  const auto ppm = static_cast<uint64_t>(std::llround(settings.drop_rate * kDropRateScale));
  return (settings.connected ? 0 : kFaultDisconnected) | (ppm << kFaultDropShift) |
         (static_cast<uint64_t>(delay_us) << kFaultDelayShift);
}

FaultSettings decode_fault(uint64_t word) noexcept {
  FaultSettings settings;
  settings.connected = (word & kFaultDisconnected) == 0;
  settings.drop_rate =
      static_cast<double>((word >> kFaultDropShift) & kFaultDropMask) / static_cast<double>(kDropRateScale);
  settings.delay = std::chrono::microseconds(word >> kFaultDelayShift);
  return settings;
}

}  // namespace shmraft::ipc
