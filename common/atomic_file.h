// Replacing a file so that a crash or a power cut leaves the old content or the new, never a mix: the
// content goes to "<path>.tmp" (created with `mode`, whatever the umask), is fsynced, renamed over
// `path`, and the directory is fsynced too (without that, the rename itself may not survive a power
// cut). Used for everything the gateway writes: the configuration, the learned versions, device lists.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/result.h"

namespace t2m {

// Files that hold secrets (local keys, cloud credentials): the owner alone reads them.
inline constexpr mode_t OWNER_ONLY_FILE_MODE = 0600;
// Files without secrets (learned protocol versions).
inline constexpr mode_t PUBLIC_FILE_MODE = 0644;

// Error codes (Error::code) of write_file_atomically.
inline constexpr std::string_view ERR_FILE_CREATE = "file_create";
inline constexpr std::string_view ERR_FILE_WRITE = "file_write";
inline constexpr std::string_view ERR_FILE_REPLACE = "file_replace";

// On failure `path` is untouched and the temporary file is removed.
Status write_file_atomically(const std::string& path, std::string_view content, mode_t mode);

}  // namespace t2m
