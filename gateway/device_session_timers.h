// Internal to DeviceSession: the names of its Scheduler timers, shared by the link side
// (device_session.cpp: connect, negotiation, frames, back-off) and the request queue
// (device_session_queue.cpp: pump, retries, heartbeats, offline expiry). Not part of the public API.
#pragma once

#include <cstdint>

namespace t2m::gw::session_timers {

inline constexpr const char* T_CONNECT = "connect";
inline constexpr const char* T_HANDSHAKE = "handshake";
inline constexpr const char* T_REQUEST = "request";
inline constexpr const char* T_HEARTBEAT = "heartbeat";
inline constexpr const char* T_RECONNECT = "reconnect";
inline constexpr const char* T_POLL = "poll";
inline constexpr const char* T_UPDATEDPS = "updatedps";
inline constexpr const char* T_PACE = "pace";
inline constexpr const char* T_OFFLINE = "offline-expiry";

// How often commands queued for an offline device are checked against offline_command_timeout_ms.
inline constexpr uint32_t OFFLINE_EXPIRY_TICK_MS = 250;

}  // namespace t2m::gw::session_timers
