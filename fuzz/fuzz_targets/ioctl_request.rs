//! Every IOCTL request and response parser on arbitrary bytes. What parses
//! must emit back to the same bytes and parse again to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringfence_wire::ioctl::{
    Code, EmptyRequest, HelloRequest, HelloResponse, LoadContentResponse, Message, SetEventRequest,
    StatsResponse, TrustResponse, nt_success,
};

fn round_trip<M: Message + PartialEq + core::fmt::Debug>(data: &[u8]) {
    match M::parse(data) {
        Ok(message) => {
            let mut out = vec![0u8; M::LEN];
            assert_eq!(message.emit(&mut out), Ok(M::LEN));
            assert_eq!(out, data);
            assert_eq!(M::parse(&out), Ok(message));
        }
        Err(error) => assert!(!nt_success(error.status())),
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<HelloRequest>(data);
    round_trip::<HelloResponse>(data);
    round_trip::<LoadContentResponse>(data);
    round_trip::<SetEventRequest>(data);
    round_trip::<StatsResponse>(data);
    round_trip::<EmptyRequest>(data);
    round_trip::<TrustResponse>(data);
    if let Some(bytes) = data.get(..4) {
        let value = u32::from_le_bytes(bytes.try_into().unwrap());
        if let Some(code) = Code::from_u32(value) {
            assert_eq!(code.value(), value);
        }
    }
});
