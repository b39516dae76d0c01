// Command-line entry points for the `tuya2mqtt` binary: `tuya2mqtt wizard` (run_wizard, wizard.h) and
// `tuya2mqtt history` (export_history, history.h). Credentials come from flags, the environment
// (TUYA_ACCESS_ID, TUYA_ACCESS_SECRET, TUYA_REGION), a config file's "cloud" section or prompts, in
// that order. Each creates its own uv loop and returns the process exit code; no secret is printed.
#pragma once

namespace t2m::cloud {

int wizard_main(int argc, char** argv);
int history_main(int argc, char** argv);

}  // namespace t2m::cloud
