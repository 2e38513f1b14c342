//! The IOCTL handlers: pure functions of (code, input bytes, output buffer) that answer an
//! NTSTATUS and the number of output bytes written. The contract is ringfence-wire's
//! `ioctl` module; every input goes through its strict parser first.

use crate::platform::Platform;
use crate::sensor::{Offered, Sensor};
use ringfence_wire::ioctl::{
    Capabilities, Code, EmptyRequest, HelloRequest, HelloResponse, IoctlError, LoadContentResponse,
    PROTOCOL_VERSION, STATUS_BUFFER_TOO_SMALL, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_DEVICE_REQUEST,
    STATUS_SUCCESS, SetEventRequest, driver_version,
};
use ringfence_wire::record::MAX_RECORD_BYTES;
use ringfence_wire::schema::{Event, SCHEMA_VERSION};

/// The driver's version as `HELLO` reports it.
pub const DRIVER_VERSION: u32 = driver_version(0, 1, 0);

/// What a request completes with: `IoStatus.Status` and `IoStatus.Information`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    pub status: i32,
    pub information: usize,
}

impl Completion {
    const fn new(status: i32, information: usize) -> Self {
        Completion { status, information }
    }

    fn failed(error: IoctlError) -> Self {
        Completion::new(error.status(), 0)
    }
}

/// A request's buffers. With `METHOD_BUFFERED` both are one kernel buffer, so a handler
/// finishes with the input before it asks for the output (the borrow checker enforces it).
pub trait IoBuffers {
    fn input(&self) -> &[u8];
    fn output_len(&self) -> usize;
    /// The output buffer, zero-filled: nothing uninitialised can reach the caller.
    fn output(&mut self) -> &mut [u8];
}

/// Handles one `IRP_MJ_DEVICE_CONTROL`.
pub fn dispatch<P: Platform>(sensor: &Sensor<P>, code: u32, io: &mut impl IoBuffers) -> Completion {
    match Code::from_u32(code) {
        Some(Code::Hello) => hello(sensor, io),
        Some(Code::Read) => read(sensor, io),
        Some(Code::LoadContent) => load_content(sensor, io),
        Some(Code::Stats) => stats(sensor, io),
        Some(Code::SetEvent) => set_event(sensor, io),
        Some(Code::SetVolumeMap) => set_volume_map(sensor, io),
        Some(Code::VolumeMap) => volume_map(sensor, io),
        Some(Code::Trust) => trust(sensor, io),
        None => Completion::new(STATUS_INVALID_DEVICE_REQUEST, 0),
    }
}

fn emitted(result: Result<usize, IoctlError>) -> Completion {
    match result {
        Ok(n) => Completion::new(STATUS_SUCCESS, n),
        Err(error) => Completion::failed(error),
    }
}

fn hello<P: Platform>(sensor: &Sensor<P>, io: &mut impl IoBuffers) -> Completion {
    if let Err(error) = HelloRequest::parse(io.input()) {
        return Completion::failed(error);
    }
    let response = HelloResponse {
        protocol_version: PROTOCOL_VERSION,
        schema_version: SCHEMA_VERSION,
        capabilities: Capabilities::ALL,
        queue_bytes: u32::try_from(sensor.queue_capacity()).unwrap_or(u32::MAX),
        max_record_bytes: u32::try_from(MAX_RECORD_BYTES).unwrap_or(u32::MAX),
        driver_version: DRIVER_VERSION,
    };
    emitted(response.emit(io.output()))
}

fn read<P: Platform>(sensor: &Sensor<P>, io: &mut impl IoBuffers) -> Completion {
    if let Err(error) = EmptyRequest::parse(io.input()) {
        return Completion::failed(error);
    }
    match sensor.read(io.output()) {
        Ok(bytes) => Completion::new(STATUS_SUCCESS, bytes),
        // Nothing was dequeued. Information stays 0: for an NT_ERROR status the I/O manager
        // passes neither output nor Information back; HELLO's max_record_bytes sizes buffers.
        Err(_needed) => Completion::new(STATUS_BUFFER_TOO_SMALL, 0),
    }
}

fn stats<P: Platform>(sensor: &Sensor<P>, io: &mut impl IoBuffers) -> Completion {
    if let Err(error) = EmptyRequest::parse(io.input()) {
        return Completion::failed(error);
    }
    emitted(sensor.stats().emit(io.output()))
}

fn trust<P: Platform>(sensor: &Sensor<P>, io: &mut impl IoBuffers) -> Completion {
    if let Err(error) = EmptyRequest::parse(io.input()) {
        return Completion::failed(error);
    }
    emitted(sensor.trust_report().emit(io.output()))
}

fn set_event<P: Platform>(sensor: &Sensor<P>, io: &mut impl IoBuffers) -> Completion {
    let request = match SetEventRequest::parse(io.input()) {
        Ok(request) => request,
        Err(error) => return Completion::failed(error),
    };
    if request.unregisters() {
        sensor.set_waker(None);
        return Completion::new(STATUS_SUCCESS, 0);
    }
    match P::reference_event(request.handle) {
        Ok(waker) => {
            sensor.set_waker(Some(waker));
            Completion::new(STATUS_SUCCESS, 0)
        }
        // The previous registration stays.
        Err(status) => Completion::new(status, 0),
    }
}

/// Validates the map in the input and replaces the one held; a malformed map answers the
/// status of its error ([`ringfence_wire::volume_map::VolumeMapError::status`]) and changes
/// nothing but the refusal counter.
fn set_volume_map<P: Platform>(sensor: &Sensor<P>, io: &mut impl IoBuffers) -> Completion {
    match sensor.set_volume_map(io.input()) {
        Ok(()) => Completion::new(STATUS_SUCCESS, 0),
        Err(refused) => Completion::new(refused.status(), 0),
    }
}

fn volume_map<P: Platform>(sensor: &Sensor<P>, io: &mut impl IoBuffers) -> Completion {
    if let Err(error) = EmptyRequest::parse(io.input()) {
        return Completion::failed(error);
    }
    match sensor.copy_volume_map(io.output()) {
        Ok(bytes) => Completion::new(STATUS_SUCCESS, bytes),
        Err(_needed) => Completion::new(STATUS_BUFFER_TOO_SMALL, 0),
    }
}

/// Admits in place (signature → validation → policy), copies accepted content to pool,
/// persists it as the trial, swaps it in, and reports the outcome both to the caller and as a
/// `ContentChanged` record. A refusal changes nothing but the counters, and still answers
/// `STATUS_SUCCESS` so the reason reaches the caller.
fn load_content<P: Platform>(sensor: &Sensor<P>, io: &mut impl IoBuffers) -> Completion {
    let available = io.output_len();
    if available < LoadContentResponse::LEN {
        let needed = LoadContentResponse::LEN;
        return Completion::failed(IoctlError::BufferTooSmall { needed, available });
    }
    let response = match sensor.offer(io.input()) {
        Offered::Accepted { version } => LoadContentResponse {
            accepted: true,
            content_version: version,
            active_version: version,
            ..Default::default()
        },
        Offered::Refused { declared_version, refusal } => LoadContentResponse {
            accepted: false,
            content_version: declared_version,
            active_version: sensor.content_version(),
            reason: refusal.code(),
            offset: refusal.offset(),
            args: refusal.args(),
        },
        Offered::OutOfPool => return Completion::new(STATUS_INSUFFICIENT_RESOURCES, 0),
    };
    sensor.report(&Event::ContentChanged {
        accepted: response.accepted,
        content_version: response.content_version,
        active_version: response.active_version,
        reason: response.reason,
        offset: response.offset,
    });
    emitted(response.emit(io.output()))
}

#[cfg(all(test, not(target_os = "windows")))]
mod tests;
