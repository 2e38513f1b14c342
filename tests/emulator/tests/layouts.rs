//! The layouts the emulator writes are the ones Windows writes. Where
//! windows-sys disagrees with wdm.h, the emulator follows wdm.h, and this
//! test names the disagreement so it is noticed when windows-sys is fixed.

use core::mem::offset_of;

use ringfence_emulator::driver::DeviceIoControlParameters;
use windows_sys::Wdk::Foundation::{DRIVER_OBJECT, IO_STACK_LOCATION, IRP};
use windows_sys::Wdk::System::SystemServices::PS_CREATE_NOTIFY_INFO;

#[test]
fn device_io_control_parameters_follow_wdm_h_pointer_alignment() {
    let parameters = offset_of!(IO_STACK_LOCATION, Parameters);
    assert_eq!(parameters, 0x08);
    assert_eq!(parameters + offset_of!(DeviceIoControlParameters, OutputBufferLength), 0x08);
    assert_eq!(parameters + offset_of!(DeviceIoControlParameters, InputBufferLength), 0x10);
    assert_eq!(parameters + offset_of!(DeviceIoControlParameters, IoControlCode), 0x18);
    assert_eq!(parameters + offset_of!(DeviceIoControlParameters, Type3InputBuffer), 0x20);
}

#[test]
fn windows_sys_0_61_misplaces_input_buffer_length_and_io_control_code() {
    // microsoft/windows-rs#4404: a driver reading these through windows-sys
    // reads InputBufferLength from the padding and IoControlCode from InputBufferLength.
    assert_eq!(offset_of!(IO_STACK_LOCATION, Parameters.DeviceIoControl.InputBufferLength), 0x0C);
    assert_eq!(offset_of!(IO_STACK_LOCATION, Parameters.DeviceIoControl.IoControlCode), 0x10);
}

#[test]
fn the_structures_the_driver_is_handed_have_their_x64_offsets() {
    assert_eq!(offset_of!(IRP, AssociatedIrp), 0x18);
    assert_eq!(offset_of!(IRP, IoStatus), 0x30);
    assert_eq!(offset_of!(IRP, Tail.Overlay.Anonymous2.Anonymous.CurrentStackLocation), 0xB8);
    assert_eq!(offset_of!(DRIVER_OBJECT, DriverUnload), 0x68);
    assert_eq!(offset_of!(DRIVER_OBJECT, MajorFunction), 0x70);
    assert_eq!(offset_of!(PS_CREATE_NOTIFY_INFO, ImageFileName), 0x30);
    assert_eq!(offset_of!(PS_CREATE_NOTIFY_INFO, CommandLine), 0x38);
}

#[test]
fn every_import_the_allow_list_permits_is_modelled() {
    let list = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../pe_imports.allow"))
        .expect("tests/pe_imports.allow exists");
    let modelled: Vec<&str> = ringfence_emulator::model::APIS
        .iter()
        .filter(|a| !matches!(a.provides, ringfence_emulator::model::Provides::Internal(_)))
        .map(|a| a.name)
        .collect();
    let missing: Vec<&str> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|name| !modelled.contains(name))
        .collect();
    assert_eq!(missing, Vec::<&str>::new(), "allowed imports the kernel model lacks");
}
