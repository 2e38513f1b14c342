//! Shared by the emulator's integration tests.
#![allow(dead_code, unreachable_pub)]

pub mod probe;
pub mod sys;
