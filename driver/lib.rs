//! ringfence.sys: the WDM sensor driver (issue: the driver). Portable logic
//! lives here; `kernel/` holds the only `unsafe`.
#![no_std]
#![forbid(unsafe_code)]
