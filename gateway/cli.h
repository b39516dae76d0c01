// The tuya2mqtt command line: run, scan, status, set, wizard, history.
#pragma once

namespace t2m::gw {

int cli_main(int argc, char** argv);
int scan_main(int argc, char** argv);
// `status <device>` and `set <device> <dp> <value>`: one-shot, like tinytuya's CLI.
int status_main(int argc, char** argv);
int set_main(int argc, char** argv);

}  // namespace t2m::gw
