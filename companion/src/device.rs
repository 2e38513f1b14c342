//! The device interface: the one seam between the companion's logic and a
//! driver. The Windows transport implements it over `\\.\Ringfence`; the
//! emulator (tests/emulator) implements it over the real ringfence.sys running
//! under Unicorn, so the watch loop, content push and stats run unchanged on
//! both. Change this trait only additively.

use std::fmt;
use std::time::Duration;

#[cfg(windows)]
pub use crate::windows::device::WindowsDevice;

/// The Win32 path of the driver's control device.
pub const DEVICE_PATH: &str = r"\\.\Ringfence";

/// How one control request completed, as the driver completed its IRP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoctlOutcome {
    /// The NTSTATUS in `Irp->IoStatus.Status`.
    pub status: i32,
    /// `Irp->IoStatus.Information`: the bytes written to the output buffer.
    pub information: usize,
}

impl IoctlOutcome {
    /// `NT_SUCCESS(status)`: success and informational statuses are not negative.
    pub fn is_success(&self) -> bool {
        self.status >= 0
    }

    /// Whether the I/O manager copies a METHOD_BUFFERED output back for
    /// `status`: for every status but `NT_ERROR` (severity bits 11), warnings included.
    pub fn output_copied(status: i32) -> bool {
        u32::from_ne_bytes(status.to_ne_bytes()) >> 30 != 3
    }
}

/// The Win32 errors opening the device distinguishes (winerror.h).
pub mod win32 {
    pub const ERROR_FILE_NOT_FOUND: u32 = 2;
    pub const ERROR_PATH_NOT_FOUND: u32 = 3;
    pub const ERROR_ACCESS_DENIED: u32 = 5;
    pub const ERROR_SHARING_VIOLATION: u32 = 32;
}

/// A handle on a ringfence driver. Each implementation has its own `open`.
///
/// Waking works like this: the caller asks for [`Device::wake_event`] once,
/// registers the returned handle with the SET_EVENT control request, then loops
/// "READ until empty, [`Device::wait_for_events`]". The driver signals the
/// (auto-reset) event when records become available.
pub trait Device {
    /// What to call the device in messages (`\\.\Ringfence`, or the emulated image's path).
    fn name(&self) -> &str;

    /// Sends one METHOD_BUFFERED control request and waits for its completion.
    /// A driver that fails the request is `Ok` with a negative `status`; `Err`
    /// is kept for the transport itself failing.
    fn ioctl(&mut self, code: u32, input: &[u8], output: &mut [u8]) -> Result<IoctlOutcome, DeviceError>;

    /// The handle value (as the driver sees it in the SET_EVENT request) of
    /// the auto-reset event this device waits on; the same value on every call.
    fn wake_event(&mut self) -> Result<u64, DeviceError>;

    /// Waits until the driver signals the wake event or `timeout` passes;
    /// `Ok(true)` when it was signalled.
    fn wait_for_events(&mut self, timeout: Duration) -> Result<bool, DeviceError>;
}

impl<D: Device + ?Sized> Device for &mut D {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn ioctl(&mut self, code: u32, input: &[u8], output: &mut [u8]) -> Result<IoctlOutcome, DeviceError> {
        (**self).ioctl(code, input, output)
    }

    fn wake_event(&mut self) -> Result<u64, DeviceError> {
        (**self).wake_event()
    }

    fn wait_for_events(&mut self, timeout: Duration) -> Result<bool, DeviceError> {
        (**self).wait_for_events(timeout)
    }
}

impl<D: Device + ?Sized> Device for Box<D> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn ioctl(&mut self, code: u32, input: &[u8], output: &mut [u8]) -> Result<IoctlOutcome, DeviceError> {
        (**self).ioctl(code, input, output)
    }

    fn wake_event(&mut self) -> Result<u64, DeviceError> {
        (**self).wake_event()
    }

    fn wait_for_events(&mut self, timeout: Duration) -> Result<bool, DeviceError> {
        (**self).wait_for_events(timeout)
    }
}

/// The transport step that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Open,
    Ioctl { code: u32 },
    CreateEvent,
    Wait,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::Open => f.write_str("opening"),
            Operation::Ioctl { code } => write!(f, "control request {code:#010x} on"),
            Operation::CreateEvent => f.write_str("creating the wake-up event for"),
            Operation::Wait => f.write_str("waiting for events from"),
        }
    }
}

/// Why the transport failed; each variant says what the user can do about it.
#[derive(Debug)]
pub enum DeviceError {
    /// The device does not exist: the driver is not installed or not running.
    NotFound { device: String },
    /// The device's DACL admits only SYSTEM and Administrators.
    AccessDenied { device: String },
    /// The device is exclusive and another client holds it open.
    InUse { device: String },
    /// This build of the companion has no transport for the real device.
    Unsupported { device: String },
    /// Any other operating-system error, by Win32 error code.
    Os { device: String, operation: Operation, code: u32 },
    /// A failure specific to another implementation (the emulator's machine faults).
    Backend { device: String, source: Box<dyn std::error::Error + Send + Sync> },
}

impl DeviceError {
    /// What `CreateFileW` failing with the Win32 error `code` on `device` means.
    pub fn from_open_error(device: &str, code: u32) -> Self {
        let device = device.to_owned();
        match code {
            win32::ERROR_FILE_NOT_FOUND | win32::ERROR_PATH_NOT_FOUND => DeviceError::NotFound { device },
            // The DACL refused us, or the exclusive device is already open.
            win32::ERROR_ACCESS_DENIED => DeviceError::AccessDenied { device },
            win32::ERROR_SHARING_VIOLATION => DeviceError::InUse { device },
            code => DeviceError::Os { device, operation: Operation::Open, code },
        }
    }

    /// The device the error is about.
    pub fn device(&self) -> &str {
        match self {
            DeviceError::NotFound { device }
            | DeviceError::AccessDenied { device }
            | DeviceError::InUse { device }
            | DeviceError::Unsupported { device }
            | DeviceError::Os { device, .. }
            | DeviceError::Backend { device, .. } => device,
        }
    }
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::NotFound { device } => write!(
                f,
                "{device} does not exist: the ringfence driver is not installed or not started \
                 (install it, then `sc start ringfence`)"
            ),
            DeviceError::AccessDenied { device } => write!(
                f,
                "access to {device} was denied: only SYSTEM and Administrators may open it, and only one \
                 client at a time (run ringfence from an elevated prompt, and stop any other ringfence \
                 process)"
            ),
            DeviceError::InUse { device } => write!(
                f,
                "{device} is already open in another program: the device admits one client at a time \
                 (stop the other ringfence process)"
            ),
            DeviceError::Unsupported { device } => write!(
                f,
                "{device} cannot be opened on this operating system: the ringfence driver runs on \
                 Windows only (run this command on the Windows machine where the driver is loaded)"
            ),
            DeviceError::Os { device, operation, code } => {
                write!(f, "{operation} {device} failed with Windows error {code}")
            }
            DeviceError::Backend { device, source } => write!(f, "{device}: {source}"),
        }
    }
}

impl std::error::Error for DeviceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DeviceError::Backend { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// Attempts at opening the device while it answers access denied (see [`open_retrying_denials`]).
pub const OPEN_ATTEMPTS: u32 = 5;
/// The pause between two of those attempts: [`OPEN_ATTEMPTS`] − 1 pauses, 400 ms in all.
pub const OPEN_RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Runs `open` until it succeeds, fails otherwise than with access denied, or has been
/// refused [`OPEN_ATTEMPTS`] times, calling `pause` with [`OPEN_RETRY_PAUSE`] between tries.
///
/// Why: the device is exclusive (DO_EXCLUSIVE), and the I/O manager counts a client until it
/// drops its last reference to the client's file object, which may come a moment after that
/// client's handle is closed and its IRP_MJ_CLOSE has run. A companion started right after
/// another one exits (a script, a service restart) would be refused for nothing. A refusal
/// that lasts (a prompt that is not elevated, another client that really holds the device)
/// still ends in [`DeviceError::AccessDenied`], 400 ms later.
pub fn open_retrying_denials<D>(
    mut open: impl FnMut() -> Result<D, DeviceError>,
    mut pause: impl FnMut(Duration),
) -> Result<D, DeviceError> {
    let mut attempt = 1;
    loop {
        match open() {
            Err(DeviceError::AccessDenied { .. }) if attempt < OPEN_ATTEMPTS => {
                pause(OPEN_RETRY_PAUSE);
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

/// Opens the driver's device on this machine: `WindowsDevice` on Windows (retrying a
/// refusal briefly, see [`open_retrying_denials`]), [`DeviceError::Unsupported`] elsewhere.
pub fn open_system_device() -> Result<Box<dyn Device>, DeviceError> {
    #[cfg(windows)]
    {
        let device = open_retrying_denials(|| WindowsDevice::open(DEVICE_PATH), std::thread::sleep)?;
        Ok(Box::new(device))
    }
    #[cfg(not(windows))]
    {
        Err(DeviceError::Unsupported { device: DEVICE_PATH.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(error: DeviceError) -> String {
        error.to_string()
    }

    #[test]
    fn a_missing_device_says_the_driver_is_not_installed_or_started() {
        let text = message(DeviceError::NotFound { device: DEVICE_PATH.into() });
        assert_eq!(
            text,
            r"\\.\Ringfence does not exist: the ringfence driver is not installed or not started (install it, then `sc start ringfence`)"
        );
    }

    #[test]
    fn access_denied_says_to_run_elevated_and_alone() {
        let text = message(DeviceError::AccessDenied { device: DEVICE_PATH.into() });
        assert!(text.starts_with(r"access to \\.\Ringfence was denied"), "{text}");
        assert!(text.contains("run ringfence from an elevated prompt"), "{text}");
        assert!(text.contains("stop any other ringfence process"), "{text}");
    }

    #[test]
    fn open_errors_map_to_what_the_user_can_do() {
        let kind = |code| match DeviceError::from_open_error(DEVICE_PATH, code) {
            DeviceError::NotFound { .. } => "not found",
            DeviceError::AccessDenied { .. } => "denied",
            DeviceError::InUse { .. } => "in use",
            DeviceError::Os { operation: Operation::Open, code: 1450, .. } => "os 1450",
            _ => "other",
        };
        assert_eq!([2, 3, 5, 32, 1450].map(kind), ["not found", "not found", "denied", "in use", "os 1450"]);
    }

    /// Runs `open_retrying_denials` over scripted outcomes; returns what it gave, how many
    /// attempts it made and the pauses it asked for.
    fn retried(script: Vec<Result<u32, DeviceError>>) -> (Result<u32, DeviceError>, usize, Vec<Duration>) {
        let mut script = script.into_iter();
        let mut attempts = 0;
        let mut pauses = Vec::new();
        let outcome = open_retrying_denials(
            || {
                attempts += 1;
                script.next().unwrap_or(Ok(99))
            },
            |pause| pauses.push(pause),
        );
        (outcome, attempts, pauses)
    }

    fn denied() -> Result<u32, DeviceError> {
        Err(DeviceError::AccessDenied { device: DEVICE_PATH.into() })
    }

    #[test]
    fn an_access_denied_open_is_retried_until_the_device_is_let_go() {
        let (outcome, attempts, pauses) = retried(vec![denied(), denied(), Ok(7)]);
        assert_eq!(outcome.ok(), Some(7));
        assert_eq!((attempts, pauses), (3, vec![OPEN_RETRY_PAUSE; 2]));
    }

    #[test]
    fn a_lasting_denial_ends_in_access_denied_after_a_bounded_wait() {
        let (outcome, attempts, pauses) = retried((0..10).map(|_| denied()).collect());
        assert!(matches!(outcome, Err(DeviceError::AccessDenied { .. })), "{outcome:?}");
        assert_eq!(attempts, OPEN_ATTEMPTS as usize);
        assert_eq!(pauses.iter().sum::<Duration>(), Duration::from_millis(400));
    }

    #[test]
    fn other_open_errors_are_not_retried() {
        let (outcome, attempts, pauses) =
            retried(vec![Err(DeviceError::NotFound { device: DEVICE_PATH.into() })]);
        assert!(matches!(outcome, Err(DeviceError::NotFound { .. })), "{outcome:?}");
        assert_eq!((attempts, pauses.len()), (1, 0));
    }

    #[test]
    fn buffered_output_comes_back_for_success_and_warnings_not_errors() {
        let copied = |status: u32| IoctlOutcome::output_copied(i32::from_ne_bytes(status.to_ne_bytes()));
        // STATUS_SUCCESS, STATUS_PENDING-class info, STATUS_BUFFER_OVERFLOW (warning), STATUS_BUFFER_TOO_SMALL.
        assert_eq!([0, 0x4000_0000, 0x8000_0005, 0xC000_0023].map(copied), [true, true, true, false]);
    }

    #[test]
    fn other_os_errors_name_the_step_the_device_and_the_code() {
        let text = message(DeviceError::Os {
            device: DEVICE_PATH.into(),
            operation: Operation::Ioctl { code: 0x8A52_6000 },
            code: 87,
        });
        assert_eq!(text, r"control request 0x8a526000 on \\.\Ringfence failed with Windows error 87");
    }

    #[cfg(not(windows))]
    #[test]
    fn off_windows_the_system_device_is_unsupported_and_named() {
        let error = open_system_device().err();
        assert!(
            matches!(&error, Some(DeviceError::Unsupported { device }) if device == DEVICE_PATH),
            "{error:?}"
        );
    }
}
