//! The driver finds the control code and buffer lengths where the Windows I/O
//! manager puts them (wdm.h), not where windows-sys 0.61 declares them.

mod common;

use common::sys::ringfence_sys;
use ringfence_emulator::{Caller, Emulator, IoctlLayout};
use ringfence_wire::ioctl::{Code, HelloRequest};

fn hello_status(layout: IoctlLayout) -> i32 {
    let mut emu = Emulator::load(ringfence_sys()).unwrap_or_else(|e| panic!("{e}"));
    emu.ioctl_layout = layout;
    let (_, file) = emu.open(Caller::Administrator, true, true).expect("open returns");
    let mut request = [0u8; HelloRequest::LEN];
    HelloRequest::current().emit(&mut request).expect("fits");
    let file = file.expect("opened");
    emu.ioctl(file, Code::Hello as u32, &request, 32).expect("HELLO returns").status
}

#[test]
fn the_driver_reads_ioctl_parameters_where_the_io_manager_writes_them() {
    let status = hello_status(IoctlLayout::Wdm);
    if status != 0 && hello_status(IoctlLayout::WindowsSys061) == 0 {
        panic!(
            "HELLO fails ({:#010x}) with the parameters where Windows puts them and succeeds where \
             windows-sys 0.61 declares them: IO_STACK_LOCATION.Parameters.DeviceIoControl lacks \
             POINTER_ALIGNMENT there (microsoft/windows-rs#4404); read InputBufferLength at +0x10 \
             and IoControlCode at +0x18 of the stack location",
            u32::from_ne_bytes(status.to_ne_bytes())
        );
    }
    assert_eq!(status, 0);
}
