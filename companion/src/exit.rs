//! The exit codes of `ringfence`, stable for scripts.

/// Success: the command did what it was asked; `content check` found the content valid.
pub const OK: u8 = 0;
/// The input was judged and turned down: rules that do not compile, content the
/// validator rejects (`content check`), content the driver rejected (`content push`, `watch --content`).
pub const REJECTED: u8 = 1;
/// The command line is wrong (clap's own code).
pub const USAGE: u8 = 2;
/// The device cannot be used: driver not installed or not started, access denied, in use, not Windows.
pub const DEVICE_UNAVAILABLE: u8 = 3;
/// The driver answered in a way this companion cannot work with: another
/// protocol or schema version, a refused request, a malformed response.
pub const DRIVER_MISMATCH: u8 = 4;
/// A file could not be read or written, or output failed.
pub const IO: u8 = 5;

/// The exit-code table, for `--help`.
pub const HELP: &str = "\
Exit codes:
  0  success (for `content check`: the content is valid)
  1  rejected: rules do not compile, content is invalid, or the driver rejected it
  2  usage: the command line is wrong
  3  device unavailable: driver not installed or not started, access denied, in use, or not Windows
  4  driver mismatch: other protocol or schema version, a refused request, a malformed answer
  5  file or output error";
