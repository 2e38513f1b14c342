//! ringfence-content: the content format, validator, interpreter and compiler.
#![no_std]
#![forbid(unsafe_code)]
