//! The real ringfence.sys loaded in the emulator, opened by an administrator,
//! with typed helpers for every control code and strict expectations.

use ringfence_emulator::{Activity, Caller, Emulator, IoctlResult, RegValue, Report, Stop, Unload};
use ringfence_wire::Record;
use ringfence_wire::batch::Batch;
use ringfence_wire::ioctl::{
    Code, HelloRequest, HelloResponse, LoadContentResponse, SetEventRequest, StatsResponse,
};

use super::sys::ringfence_sys;

pub struct Sensor {
    pub emu: Emulator,
    pub file: u64,
    pub hello: HelloResponse,
}

/// Starts the driver with `parameters` under its Parameters key and says HELLO.
pub fn start_with(parameters: &[(&str, RegValue)]) -> Sensor {
    start_after(parameters, |_| {})
}

/// Prepares the kernel with `before` (processes already running, ...), then starts the
/// driver with `parameters` and says HELLO.
pub fn start_after(parameters: &[(&str, RegValue)], before: impl FnOnce(&mut Emulator)) -> Sensor {
    let mut emu = Emulator::new(ringfence_sys()).unwrap_or_else(|e| panic!("{e}"));
    emu.ioctl_layout = super::ioctl_layout();
    before(&mut emu);
    for (name, value) in parameters {
        emu.set_parameter(name, value.clone());
    }
    let status = emu.driver_entry().unwrap_or_else(|s| panic!("DriverEntry stopped: {s}"));
    assert_eq!(status, 0, "DriverEntry succeeds");
    let (status, file) = emu.open(Caller::Administrator, true, true).expect("IRP_MJ_CREATE returns");
    assert_eq!(status, 0, "an administrator opens the device");
    let file = file.expect("a file object");
    let hello = say_hello(&mut emu, file);
    Sensor { emu, file, hello }
}

fn say_hello(emu: &mut Emulator, file: u64) -> HelloResponse {
    let mut request = [0u8; HelloRequest::LEN];
    HelloRequest::current().emit(&mut request).expect("request fits");
    let r = emu.ioctl(file, Code::Hello as u32, &request, HelloResponse::LEN as u32).expect("HELLO returns");
    assert_eq!(
        r.status, 0,
        "HELLO succeeds (0xC0000010 here: the driver reads IoControlCode where windows-sys 0.61 puts it, windows-rs#4404)"
    );
    HelloResponse::parse(&r.output).expect("a well-formed HELLO response")
}

pub fn start() -> Sensor {
    start_with(&[])
}

impl Sensor {
    pub fn ioctl(&mut self, code: u32, input: &[u8], output_len: usize) -> IoctlResult {
        let len = u32::try_from(output_len).expect("output length fits");
        self.emu
            .ioctl(self.file, code, input, len)
            .unwrap_or_else(|s| panic!("control {code:#x} stopped: {s}"))
    }

    pub fn say_hello(&mut self) -> HelloResponse {
        say_hello(&mut self.emu, self.file)
    }

    pub fn stats(&mut self) -> StatsResponse {
        let r = self.ioctl(Code::Stats as u32, &[], StatsResponse::LEN);
        assert_eq!(r.status, 0, "STATS succeeds");
        StatsResponse::parse(&r.output).expect("a well-formed STATS response")
    }

    pub fn load_content(&mut self, content: &[u8]) -> LoadContentResponse {
        let r = self.ioctl(Code::LoadContent as u32, content, LoadContentResponse::LEN);
        assert_eq!(r.status, 0, "LOAD_CONTENT answers with a verdict");
        LoadContentResponse::parse(&r.output).expect("a well-formed verdict")
    }

    pub fn set_event(&mut self, handle: u64) -> i32 {
        let mut request = [0u8; SetEventRequest::LEN];
        SetEventRequest { handle }.emit(&mut request).expect("request fits");
        self.ioctl(Code::SetEvent as u32, &request, 0).status
    }

    /// One READ with a buffer of `len` bytes.
    pub fn read(&mut self, len: usize) -> IoctlResult {
        self.ioctl(Code::Read as u32, &[], len)
    }

    /// READs until the queue is empty; every record as its own bytes.
    pub fn read_all(&mut self) -> Vec<Vec<u8>> {
        let len = usize::try_from(self.hello.max_record_bytes).expect("fits") * 4;
        let mut records = Vec::new();
        loop {
            let r = self.read(len);
            assert_eq!(r.status, 0, "READ succeeds");
            if r.output.is_empty() {
                return records;
            }
            let batch = Batch::new_checked(&r.output).expect("the driver's batch decodes");
            records.extend(batch.iter().map(|record| record.as_bytes().to_vec()));
        }
    }

    pub fn fire(&mut self, activity: &Activity) {
        self.emu.apply(activity).unwrap_or_else(|s| panic!("the callback stopped: {s} ({activity:?})"));
    }

    /// Closes the handle, unloads, and returns the books.
    pub fn stop(mut self) -> Report {
        self.emu.close(self.file).expect("close returns");
        assert_eq!(self.emu.unload(), Ok(Unload::Done));
        self.emu.report()
    }

    pub fn try_fire(&mut self, activity: &Activity) -> Result<(), Stop> {
        self.emu.apply(activity)
    }
}

pub fn record(bytes: &[u8]) -> Record<'_> {
    Record::new_checked(bytes).expect("a valid record")
}
