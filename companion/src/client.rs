//! The control requests, spoken over any [`Device`]: HELLO with its version
//! check, READ, LOAD_CONTENT, STATS and SET_EVENT, each parsed with
//! ringfence-wire's layouts so nothing the driver answers is trusted unchecked.

use std::fmt;

use ringfence_wire::SCHEMA_VERSION;
use ringfence_wire::ioctl::{
    Code, EmptyRequest, HelloRequest, HelloResponse, IoctlError, LoadContentResponse, PROTOCOL_VERSION,
    STATUS_ACCESS_DENIED, STATUS_BUFFER_TOO_SMALL, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_HANDLE, STATUS_INVALID_PARAMETER,
    STATUS_OBJECT_TYPE_MISMATCH, STATUS_REVISION_MISMATCH, SetEventRequest, StatsResponse, TrustResponse,
};

use crate::device::{Device, DeviceError, IoctlOutcome};

/// Why a control request did not produce a usable answer.
#[derive(Debug)]
pub enum ClientError {
    /// The transport failed (device missing, access denied, ...).
    Device(DeviceError),
    /// The driver completed the request with an error status.
    Refused { device: String, code: Code, status: i32 },
    /// The driver speaks another protocol or event schema than this companion.
    VersionMismatch { device: String, driver: Option<(u32, u32)> },
    /// The driver's answer does not parse.
    BadResponse { device: String, code: Code, error: IoctlError },
    /// The driver wrote more bytes than the buffer it was given.
    Overrun { device: String, code: Code, information: usize, capacity: usize },
    /// Content larger than one request can carry.
    ContentTooLarge { len: usize },
}

impl From<DeviceError> for ClientError {
    fn from(error: DeviceError) -> Self {
        ClientError::Device(error)
    }
}

/// The name of an NTSTATUS the contract uses, for messages.
pub fn status_name(status: i32) -> Option<&'static str> {
    Some(match status {
        STATUS_INVALID_HANDLE => "STATUS_INVALID_HANDLE",
        STATUS_INVALID_PARAMETER => "STATUS_INVALID_PARAMETER",
        STATUS_INVALID_DEVICE_REQUEST => "STATUS_INVALID_DEVICE_REQUEST",
        STATUS_ACCESS_DENIED => "STATUS_ACCESS_DENIED",
        STATUS_BUFFER_TOO_SMALL => "STATUS_BUFFER_TOO_SMALL",
        STATUS_OBJECT_TYPE_MISMATCH => "STATUS_OBJECT_TYPE_MISMATCH",
        STATUS_REVISION_MISMATCH => "STATUS_REVISION_MISMATCH",
        STATUS_INSUFFICIENT_RESOURCES => "STATUS_INSUFFICIENT_RESOURCES",
        _ => return None,
    })
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Device(e) => e.fmt(f),
            ClientError::Refused { device, code, status } => {
                let bits = u32::from_ne_bytes(status.to_ne_bytes());
                write!(f, "{device} refused {} with NTSTATUS {bits:#010x}", code.name())?;
                if let Some(name) = status_name(*status) {
                    write!(f, " ({name})")?;
                }
                match *status {
                    STATUS_INSUFFICIENT_RESOURCES => {
                        f.write_str(": the driver is out of memory; try again later")
                    }
                    STATUS_INVALID_DEVICE_REQUEST | STATUS_INVALID_PARAMETER => f.write_str(
                        ": the driver does not understand this companion's request; install the companion \
                         built with the driver",
                    ),
                    _ => f.write_str(": check the driver's state with `ringfence stats`"),
                }
            }
            ClientError::VersionMismatch { device, driver } => {
                write!(f, "{device} speaks another version of the ringfence contract")?;
                if let Some((protocol, schema)) = driver {
                    write!(f, " (protocol {protocol}, schema {schema})")?;
                }
                write!(
                    f,
                    " than this companion (protocol {PROTOCOL_VERSION}, schema {SCHEMA_VERSION}): install the \
                     companion that was built with the running driver"
                )
            }
            ClientError::BadResponse { device, code, error } => write!(
                f,
                "{device} answered {} with a malformed response ({}): the driver and companion do not match, \
                 or the driver is faulty; install matching builds",
                code.name(),
                Malformed(*error)
            ),
            ClientError::Overrun { device, code, information, capacity } => write!(
                f,
                "{device} claims to have written {information} bytes for {} into a {capacity}-byte buffer: \
                 the driver is faulty; report it",
                code.name()
            ),
            ClientError::ContentTooLarge { len } => {
                write!(f, "the content is {len} bytes, more than one request can carry (4 GiB)")
            }
        }
    }
}

/// What is wrong with a response, in words.
#[derive(Debug)]
struct Malformed(IoctlError);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IoctlError::Length { expected, found } => {
                write!(f, "{found} bytes where {expected} were expected")
            }
            IoctlError::SizeField { found, expected } => write!(f, "size field {found}, expected {expected}"),
            IoctlError::Version { found, expected } => {
                write!(f, "layout version {found}, expected {expected}")
            }
            IoctlError::SchemaVersion { found, expected } => {
                write!(f, "schema version {found}, expected {expected}")
            }
            IoctlError::Reserved { offset } => write!(f, "reserved field at byte {offset} is not zero"),
            IoctlError::Value { offset } => write!(f, "the value at byte {offset} is out of range"),
            IoctlError::BufferTooSmall { needed, available } => {
                write!(f, "{needed} bytes needed, {available} available")
            }
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Device(e) => Some(e),
            _ => None,
        }
    }
}

/// Sends `code` and returns the bytes the driver wrote, after checking the status.
fn request<'o, D: Device + ?Sized>(
    device: &mut D,
    code: Code,
    input: &[u8],
    output: &'o mut [u8],
) -> Result<&'o [u8], ClientError> {
    let capacity = output.len();
    let IoctlOutcome { status, information } = device.ioctl(code.value(), input, output)?;
    if status == STATUS_REVISION_MISMATCH {
        return Err(ClientError::VersionMismatch { device: device.name().to_owned(), driver: None });
    }
    if status < 0 {
        return Err(ClientError::Refused { device: device.name().to_owned(), code, status });
    }
    output.get(..information).ok_or_else(|| ClientError::Overrun {
        device: device.name().to_owned(),
        code,
        information,
        capacity,
    })
}

fn bad<D: Device + ?Sized>(device: &D, code: Code) -> impl Fn(IoctlError) -> ClientError + '_ {
    move |error| match error {
        IoctlError::Version { found, .. } => {
            ClientError::VersionMismatch { device: device.name().to_owned(), driver: Some((found, 0)) }
        }
        IoctlError::SchemaVersion { found, .. } => ClientError::VersionMismatch {
            device: device.name().to_owned(),
            driver: Some((PROTOCOL_VERSION, found)),
        },
        error => ClientError::BadResponse { device: device.name().to_owned(), code, error },
    }
}

/// HELLO: states this companion's protocol and schema; the driver must answer with the same.
pub fn hello<D: Device + ?Sized>(device: &mut D) -> Result<HelloResponse, ClientError> {
    let mut input = [0u8; HelloRequest::LEN];
    let mut output = [0u8; HelloResponse::LEN];
    let len = HelloRequest::current().emit(&mut input).unwrap_or(0);
    let answer = request(device, Code::Hello, input.get(..len).unwrap_or(&[]), &mut output)?;
    HelloResponse::parse(answer).map_err(bad(device, Code::Hello))
}

/// READ: fills `buffer` with whole records; returns how many bytes (0: queue empty).
pub fn read<'b, D: Device + ?Sized>(device: &mut D, buffer: &'b mut [u8]) -> Result<&'b [u8], ClientError> {
    let mut input = [0u8; 0];
    let len = EmptyRequest.emit(&mut input).unwrap_or(0);
    request(device, Code::Read, input.get(..len).unwrap_or(&[]), buffer)
}

/// LOAD_CONTENT: offers `content`; the verdict says whether the driver took it.
pub fn load_content<D: Device + ?Sized>(
    device: &mut D,
    content: &[u8],
) -> Result<LoadContentResponse, ClientError> {
    if u32::try_from(content.len()).is_err() {
        return Err(ClientError::ContentTooLarge { len: content.len() });
    }
    let mut output = [0u8; LoadContentResponse::LEN];
    let answer = request(device, Code::LoadContent, content, &mut output)?;
    LoadContentResponse::parse(answer).map_err(bad(device, Code::LoadContent))
}

/// STATS: the driver's counters.
pub fn stats<D: Device + ?Sized>(device: &mut D) -> Result<StatsResponse, ClientError> {
    let mut output = vec![0u8; StatsResponse::LEN];
    let answer = request(device, Code::Stats, &[], &mut output)?;
    StatsResponse::parse(answer).map_err(bad(device, Code::Stats))
}

/// TRUST: the sensor's content-trust policy and crash-loop guard. `Ok(None)` from a driver
/// that predates the request (it answers `STATUS_INVALID_DEVICE_REQUEST`).
pub fn trust<D: Device + ?Sized>(device: &mut D) -> Result<Option<TrustResponse>, ClientError> {
    let mut output = vec![0u8; TrustResponse::LEN];
    match request(device, Code::Trust, &[], &mut output) {
        Ok(answer) => TrustResponse::parse(answer).map(Some).map_err(bad(device, Code::Trust)),
        Err(ClientError::Refused { status: STATUS_INVALID_DEVICE_REQUEST, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// SET_VOLUME_MAP: hands the driver the machine's volume map (ringfence-wire's format), the
/// map kernel-stage evaluation reads paths in DOS form with.
pub fn set_volume_map<D: Device + ?Sized>(device: &mut D, map: &[u8]) -> Result<(), ClientError> {
    request(device, Code::SetVolumeMap, map, &mut [])?;
    Ok(())
}

/// VOLUME_MAP: the map the driver holds, byte for byte as it was set (empty: none set).
pub fn volume_map<D: Device + ?Sized>(device: &mut D) -> Result<Vec<u8>, ClientError> {
    let mut output = vec![0u8; ringfence_wire::volume_map::MAX_MAP_BYTES];
    Ok(request(device, Code::VolumeMap, &[], &mut output)?.to_vec())
}

/// SET_EVENT: registers the event handle the driver signals (0 unregisters).
pub fn set_event<D: Device + ?Sized>(device: &mut D, handle: u64) -> Result<(), ClientError> {
    let mut input = [0u8; SetEventRequest::LEN];
    let len = SetEventRequest { handle }.emit(&mut input).unwrap_or(0);
    request(device, Code::SetEvent, input.get(..len).unwrap_or(&[]), &mut [])?;
    Ok(())
}
