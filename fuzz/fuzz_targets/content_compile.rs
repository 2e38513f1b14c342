//! The rule compiler on arbitrary text: it returns an error or content, and
//! content it returns must pass the validator for the same schema.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringfence_content::{compile, validate};
use ringfence_wire::SCHEMA;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    match compile(source, &SCHEMA) {
        Ok(bytes) => {
            if let Err(e) = validate(&bytes, &SCHEMA) {
                panic!("compiled content fails validation: {e}");
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
