//! Batch decoding on arbitrary bytes: the record walk (good prefix, then at
//! most one error) and `Batch::new_checked` must agree on every input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringfence_wire::Batch;
use ringfence_wire::batch::Records;

fuzz_target!(|data: &[u8]| {
    let walked: Vec<_> = Records::new(data).collect();
    let good = walked.iter().take_while(|r| r.is_ok()).count();
    // At most one error, and only at the end.
    assert!(walked.len() <= good + 1);
    let prefix_bytes: usize = walked.iter().filter_map(|r| r.as_ref().ok()).map(|r| r.size()).sum();
    match Batch::new_checked(data) {
        Ok(batch) => {
            assert_eq!(good, walked.len());
            assert_eq!(batch.len(), good);
            assert_eq!(prefix_bytes, data.len());
            assert!(batch.iter().eq(walked.iter().filter_map(|r| r.as_ref().ok().copied())));
        }
        Err(error) => {
            assert_eq!(walked.last(), Some(&Err(error)));
            assert_eq!(error.index, good);
            assert_eq!(error.offset, prefix_bytes);
        }
    }
});
