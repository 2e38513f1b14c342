//! Run under Miri: `cargo +nightly miri test -p ringfence --lib kernel::`.

use super::*;
use windows_sys::Wdk::Foundation::IO_STACK_LOCATION;

fn string(buffer: *mut u16, length: u16, maximum: u16) -> UNICODE_STRING {
    UNICODE_STRING { Length: length, MaximumLength: maximum, Buffer: buffer }
}

#[test]
fn a_null_string_pointer_reads_as_empty() {
    // SAFETY: null is allowed.
    assert_eq!(unsafe { unicode_units(core::ptr::null()) }, &[] as &[u16]);
}

#[test]
fn a_null_buffer_reads_as_empty_whatever_its_lengths_say() {
    let s = string(core::ptr::null_mut(), 200, 200);
    // SAFETY: `s` is valid; its buffer is null.
    assert!(unsafe { unicode_units(&s) }.is_empty());
}

#[test]
fn an_odd_length_is_rounded_down_to_whole_units() {
    let mut units = [0x41u16, 0x42, 0x43];
    let s = string(units.as_mut_ptr(), 5, 6);
    // SAFETY: the buffer holds 6 bytes.
    assert_eq!(unsafe { unicode_units(&s) }, &[0x41, 0x42]);
}

#[test]
fn a_length_beyond_the_maximum_is_cut_to_the_maximum() {
    let mut units = [0x61u16, 0x62];
    let s = string(units.as_mut_ptr(), 0xFFFE, 4);
    // SAFETY: the buffer holds min(Length, MaximumLength) = 4 bytes.
    assert_eq!(unsafe { unicode_units(&s) }, &[0x61, 0x62]);
}

#[test]
fn a_null_string_or_buffer_is_an_absent_value_and_an_empty_one_is_present() {
    // SAFETY: null is allowed.
    assert_eq!(unsafe { unicode_text(core::ptr::null()) }, None);
    let s = string(core::ptr::null_mut(), 200, 200);
    // SAFETY: `s` is valid; its buffer is null.
    assert_eq!(unsafe { unicode_text(&s) }, None);
    let mut units = [0x41u16];
    let empty = string(units.as_mut_ptr(), 0, 2);
    // SAFETY: the buffer holds 2 bytes.
    assert_eq!(unsafe { unicode_text(&empty) }, Some(&[] as &[u16]));
}

#[test]
fn a_misaligned_buffer_reads_as_empty() {
    let mut bytes = [0u8; 9];
    let misaligned = bytes.as_mut_ptr().wrapping_add(if bytes.as_ptr().addr() % 2 == 0 { 1 } else { 0 });
    let s = string(misaligned.cast(), 8, 8);
    // SAFETY: 8 readable bytes at the (misaligned) buffer.
    assert!(unsafe { unicode_units(&s) }.is_empty());
    // SAFETY: as above.
    assert_eq!(unsafe { unicode_text(&s) }, None, "as a field value: absent");
}

fn handle(value: usize) -> HANDLE {
    core::ptr::without_provenance_mut(value)
}

#[test]
fn a_process_start_without_names_has_them_absent_and_every_id() {
    let mut info = PS_CREATE_NOTIFY_INFO::default();
    info.ParentProcessId = handle(4);
    info.CreatingThreadId.UniqueProcess = handle(8);
    info.CreatingThreadId.UniqueThread = handle(12);
    let facts = ProcessFacts { start_key: 77, create_time: 133, session_id: 1 };
    let sid = [0x53u16, 0x2d, 0x31];
    let token = Token {
        user_sid: Some(&sid),
        logon_id: Some(0x3e7),
        integrity_level: Some(0x4000),
        elevation_type: None,
    };
    // SAFETY: both names are null.
    let new = unsafe { process_start(handle(1234), &info, facts, token) };
    assert_eq!(
        new,
        NewProcess {
            pid: 1234,
            parent_pid: 4,
            creating_pid: 8,
            creating_tid: 12,
            session_id: 1,
            image_path: None,
            command_line: None,
            start_key: 77,
            create_time: 133,
            image_name_available: false,
            token,
        }
    );
}

#[test]
fn a_process_start_carries_its_image_path_command_line_and_name_flag() {
    let mut path = [0x43u16, 0x3a, 0x5c];
    let mut line = [0x78u16, 0x20, 0x2d];
    let mut image = string(path.as_mut_ptr(), 6, 6);
    let mut command = string(line.as_mut_ptr(), 7, 4); // odd and beyond the maximum
    let mut info = PS_CREATE_NOTIFY_INFO::default();
    info.Anonymous.Flags = 1;
    info.ImageFileName = &mut image;
    info.CommandLine = &mut command;
    // SAFETY: both strings point at live arrays of at least min(Length, MaximumLength) bytes.
    let new = unsafe { process_start(handle(1), &info, ProcessFacts::default(), Token::default()) };
    assert_eq!(new.image_path, Some(&[0x43, 0x3a, 0x5c][..]));
    assert_eq!(new.command_line, Some(&[0x78, 0x20][..]));
    assert!(new.image_name_available);
}

#[test]
fn a_subsystem_process_without_names_is_reported_with_its_ids_and_absent_names() {
    let mut info = PS_CREATE_NOTIFY_INFO::default();
    info.Anonymous.Flags = 1 << 1; // IsSubsystemProcess; FileObject and both names NULL
    info.ParentProcessId = handle(900);
    let facts = ProcessFacts { start_key: 5, create_time: 6, session_id: 0 };
    // SAFETY: both names are null.
    let new = unsafe { process_start(handle(901), &info, facts, Token::default()) };
    assert_eq!((new.pid, new.parent_pid, new.image_name_available), (901, 900, false));
    assert_eq!((new.image_path, new.command_line), (None, None));
}

#[test]
fn an_ids_wider_than_32_bits_reads_as_the_maximum() {
    assert_eq!(id(handle(0x1_0000_0004)), u32::MAX);
    assert_eq!(id(handle(0)), 0);
}

#[test]
fn an_exit_status_keeps_its_bits() {
    assert_eq!(exit_status(0xC000_0005_u32 as i32), 0xC000_0005);
    assert_eq!(exit_status(0), 0);
}

#[test]
fn a_user_image_load_reports_its_base_and_process() {
    let mut info = IMAGE_INFO::default();
    info.Anonymous.Properties = 3 << 12;
    info.ImageBase = core::ptr::without_provenance_mut(0x7ff6_1234_0000);
    info.ImageSize = 0x5000;
    let mut units = [0x61u16, 0x2e, 0x64];
    let name = string(units.as_mut_ptr(), 6, 6);
    // SAFETY: `name` points at a live array of 6 bytes.
    let load = unsafe { image_load(&name, handle(77), &info, 9) };
    assert_eq!(
        (load.pid, load.image_base, load.image_size, load.kernel_image),
        (77, 0x7ff6_1234_0000, 0x5000, false)
    );
    assert_eq!((load.signature_level, load.time), (3, 9));
    assert_eq!(load.image_path, Some(&[0x61, 0x2e, 0x64][..]));
}

#[test]
fn a_kernel_image_load_decodes_the_properties_and_hides_its_base() {
    let mut info = IMAGE_INFO::default();
    info.Anonymous.Properties = (1 << 8) | (12 << 12) | (1 << 16);
    info.ImageBase = core::ptr::without_provenance_mut(0xffff_f800_0000_0000);
    info.ImageSize = 0x2000;
    // SAFETY: a null name is allowed.
    let load = unsafe { image_load(core::ptr::null(), handle(0), &info, 5) };
    assert_eq!(
        load,
        ImageMapping {
            pid: 0,
            image_path: None,
            image_base: 0,
            image_size: 0x2000,
            signature_level: 12,
            signature_type: 1,
            kernel_image: true,
            time: 5,
        }
    );
}

/// A binary SID, 4-byte aligned as the kernel lays one out.
fn sid_words(authority: u8, subs: &[u32]) -> Vec<u32> {
    let count = u8::try_from(subs.len()).unwrap();
    let mut words = vec![u32::from_le_bytes([1, count, 0, 0]), u32::from_le_bytes([0, 0, 0, authority])];
    words.extend_from_slice(subs);
    words
}

#[test]
fn a_sid_is_read_exactly_as_long_as_its_header_says() {
    let words = sid_words(5, &[21, 7, 8, 9, 1001]);
    // SAFETY: `words` holds the whole SID.
    let bytes = unsafe { sid_bytes(words.as_ptr().cast()) }.unwrap();
    assert_eq!(bytes.len(), 28);
    assert_eq!(
        sid::SidText::parse(bytes).map(|t| String::from_utf16_lossy(t.as_units())),
        Ok("S-1-5-21-7-8-9-1001".into())
    );
    // SAFETY: null is allowed.
    assert_eq!(unsafe { sid_bytes(core::ptr::null()) }, None);
    let mut bad = sid_words(5, &[1]);
    bad[0] = u32::from_le_bytes([1, 16, 0, 0]);
    // SAFETY: the header is readable; it claims 16 sub-authorities and is refused before more is read.
    assert_eq!(unsafe { sid_bytes(bad.as_ptr().cast()) }, None);
}

#[test]
fn token_buffers_yield_the_user_the_label_the_logon_session_and_the_elevation() {
    // TOKEN_USER: SID_AND_ATTRIBUTES { Sid, Attributes } then the SID, as the kernel packs it.
    let sid = sid_words(16, &[0x3000]);
    let entry = windows_sys::Win32::Security::SID_AND_ATTRIBUTES {
        Sid: sid.as_ptr().cast_mut().cast(),
        Attributes: 0x60,
    };
    // SAFETY: `entry` points at `sid`, both alive.
    let found = unsafe { token_sid((&raw const entry).cast()) }.unwrap();
    assert_eq!(sid::last_sub_authority(found), Ok(Some(0x3000)));
    // SAFETY: null is allowed.
    assert_eq!(unsafe { token_sid(core::ptr::null()) }, None);
    let mut statistics = windows_sys::Win32::Security::TOKEN_STATISTICS::default();
    statistics.AuthenticationId.LowPart = 0x3_66A1;
    statistics.AuthenticationId.HighPart = 2;
    // SAFETY: a live TOKEN_STATISTICS.
    assert_eq!(unsafe { token_logon_id((&raw const statistics).cast()) }, Some(0x2_0003_66A1));
    let full: i32 = 2;
    // SAFETY: a live TOKEN_ELEVATION_TYPE.
    assert_eq!(unsafe { token_elevation_type((&raw const full).cast()) }, Some(2));
}

/// A `ProcessCommandLineInformation` result over `line`, its `Buffer` at `offset` bytes.
fn command_result(line: &str, offset: usize, length: u16) -> Vec<u64> {
    let units: Vec<u16> = line.encode_utf16().collect();
    let mut result = vec![0u64; (offset + units.len() * 2).div_ceil(8) + 1];
    let base = result.as_ptr().addr();
    result[1] = u64::try_from(base + offset).unwrap();
    result[0] = u64::from(length) | u64::from(length) << 16;
    for (i, unit) in units.iter().enumerate() {
        let byte = offset + 2 * i;
        let word = &mut result[byte / 8];
        *word |= u64::from(*unit) << (8 * (byte % 8));
    }
    result
}

#[test]
fn a_command_line_result_is_read_only_inside_its_own_buffer() {
    let line = "cmd.exe /c dir";
    let bytes = u16::try_from(line.len() * 2).unwrap();
    let good = command_result(line, 16, bytes);
    assert_eq!(command_line(&good).map(String::from_utf16_lossy), Some(line.into()));
    assert_eq!(command_line(&command_result(line, 8, bytes)), None, "inside the header");
    assert_eq!(command_line(&command_result(line, 17, bytes)), None, "odd");
    let mut outside = good.clone();
    outside[1] = 0x1000;
    assert_eq!(command_line(&outside), None, "pointing elsewhere");
    let mut long = good.clone();
    long[0] = u64::from(u16::MAX) | u64::from(u16::MAX) << 16;
    assert_eq!(command_line(&long), None, "longer than the buffer");
    assert_eq!(command_line(&[]), None);
    assert_eq!(command_line(&command_result("", 16, 0)), Some(&[][..]));
}

/// A synthetic device-control IRP over `buffer` (the system buffer), as the I/O manager
/// lays it out.
fn with_irp<R>(
    code: u32,
    buffer: &mut [u8],
    input: usize,
    output: usize,
    f: impl FnOnce(&mut IRP) -> R,
) -> R {
    let mut location = IO_STACK_LOCATION::default();
    let parameters = DeviceIoControlParameters {
        output_buffer_length: output as u32,
        input_buffer_length: PointerAligned(input as u32),
        io_control_code: PointerAligned(code),
    };
    // SAFETY: the wdm.h view fits in the parameters union and shares its alignment.
    unsafe { (&raw mut location.Parameters).cast::<DeviceIoControlParameters>().write(parameters) };
    let mut irp = IRP::default();
    irp.Tail.Overlay.Anonymous2.Anonymous.CurrentStackLocation = &mut location;
    irp.AssociatedIrp.SystemBuffer =
        if buffer.is_empty() { core::ptr::null_mut() } else { buffer.as_mut_ptr().cast() };
    f(&mut irp)
}

const BUFFERED: u32 = 0x8A52_4000 | (0x801 << 2);

#[test]
fn buffered_views_span_exactly_the_lengths_of_every_size_in_the_grid() {
    let sizes = [0usize, 1, 15, 16, 17, 48, 65536];
    for &input in &sizes {
        for &output in &sizes {
            let mut system = vec![0xABu8; input.max(output)];
            with_irp(BUFFERED, &mut system, input, output, |irp| {
                // SAFETY: a well-formed synthetic IRP whose buffer spans max(input, output).
                let (code, mut io) = unsafe { device_control(irp) };
                assert_eq!(code, BUFFERED);
                assert_eq!(io.input().len(), input);
                assert!(io.input().iter().all(|b| *b == 0xAB));
                assert_eq!(io.output_len(), output);
                let out = io.output();
                assert_eq!(out.len(), output);
                assert!(out.iter().all(|b| *b == 0), "the output is zeroed before use");
                if let Some(last) = out.last_mut() {
                    *last = 1;
                }
            });
        }
    }
}

#[test]
fn a_request_that_is_not_method_buffered_gets_no_buffers() {
    let mut system = vec![0xABu8; 64];
    for method in 1..=3 {
        with_irp(BUFFERED | method, &mut system, 64, 64, |irp| {
            // SAFETY: a well-formed synthetic IRP.
            let (_, mut io) = unsafe { device_control(irp) };
            assert!(io.input().is_empty());
            assert!(io.output().is_empty());
        });
    }
    assert!(system.iter().all(|b| *b == 0xAB), "the buffer was not touched");
}

#[test]
fn a_null_system_buffer_gives_empty_views_whatever_the_lengths() {
    with_irp(BUFFERED, &mut [], 16, 16, |irp| {
        // SAFETY: a synthetic IRP with a null system buffer.
        let (_, mut io) = unsafe { device_control(irp) };
        assert!(io.input().is_empty());
        assert_eq!(io.output_len(), 0);
        assert!(io.output().is_empty());
    });
}

#[test]
fn device_control_reads_the_code_and_lengths_at_their_wdm_offsets() {
    // Bytes where the x64 I/O manager writes them: Parameters+0x00 output length,
    // +0x08 input length, +0x10 control code (POINTER_ALIGNMENT members).
    let mut location = IO_STACK_LOCATION::default();
    let raw = (&raw mut location.Parameters).cast::<u8>();
    let mut system = vec![0u8; 64];
    // SAFETY: each write is inside the 32-byte parameters union.
    unsafe { raw.cast::<u32>().write(40) };
    // SAFETY: as above, offset 8.
    unsafe { raw.wrapping_add(8).cast::<u32>().write(24) };
    // SAFETY: as above, offset 16.
    unsafe { raw.wrapping_add(16).cast::<u32>().write(BUFFERED) };
    let mut irp = IRP::default();
    irp.Tail.Overlay.Anonymous2.Anonymous.CurrentStackLocation = &mut location;
    irp.AssociatedIrp.SystemBuffer = system.as_mut_ptr().cast();
    // SAFETY: a well-formed synthetic IRP whose buffer spans max(input, output) bytes.
    let (code, io) = unsafe { device_control(&raw mut irp) };
    assert_eq!(code, BUFFERED);
    assert_eq!((io.input().len(), io.output_len()), (24, 40));
}

/// A synthetic IRP_MJ_CREATE: `name` in the file object (none without one), `options` in
/// `Parameters.Create.Options`.
fn create_irp<R>(name: Option<&mut [u16]>, options: u32, f: impl FnOnce(&IRP) -> R) -> R {
    let mut file = windows_sys::Wdk::Foundation::FILE_OBJECT::default();
    let has_file = name.is_some();
    if let Some(units) = name {
        let bytes = (units.len() * 2) as u16;
        file.FileName = string(units.as_mut_ptr(), bytes, bytes);
    }
    let mut location = IO_STACK_LOCATION::default();
    location.Parameters.Create.Options = options;
    location.FileObject = if has_file { &mut file } else { core::ptr::null_mut() };
    let mut irp = IRP::default();
    irp.Tail.Overlay.Anonymous2.Anonymous.CurrentStackLocation = &mut location;
    f(&irp)
}

#[test]
fn a_create_request_reads_the_name_below_the_device_and_the_options() {
    let mut name = [0x5Cu16, 0x78]; // "\x"
    let request = create_irp(Some(&mut name), 0x0100_0060, |irp| {
        // SAFETY: a well-formed synthetic create IRP.
        unsafe { create_request(irp) }
    });
    assert_eq!(request, CreateRequest { name_bytes: 4, options: 0x0100_0060 });
}

#[test]
fn a_create_request_without_a_file_object_reads_as_the_device_itself() {
    // SAFETY: a synthetic create IRP with a null file object.
    let request = create_irp(None, 1, |irp| unsafe { create_request(irp) });
    assert_eq!(request, CreateRequest { name_bytes: 0, options: 1 });
}
