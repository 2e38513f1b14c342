//! Shared by the emulator's integration tests.
#![allow(dead_code, unreachable_pub)]
// Test data narrows small generated numbers into fixed-width fields on purpose.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]

pub mod activity;
pub mod boots;
pub mod probe;
pub mod sensor;
pub mod sys;

/// Where the tests lay device-control parameters: always wdm.h's layout.
pub fn ioctl_layout() -> ringfence_emulator::IoctlLayout {
    ringfence_emulator::IoctlLayout::Wdm
}
