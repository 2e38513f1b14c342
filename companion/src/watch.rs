//! A session with a driver and the watch loop: HELLO, optional content, the
//! wake-up registration, then "READ until empty, wait" until asked to stop.
//! Generic over [`Device`] and the output streams, so the emulator's demo runs
//! exactly this code against the real driver binary.

use std::fmt;
use std::io::{self, Write};
use std::time::Duration;

use ringfence_wire::ioctl::{Capabilities, HelloResponse, LoadContentResponse, StatsResponse};
use ringfence_wire::record::MAX_RECORD_BYTES;

use crate::client::{self, ClientError};
use crate::device::Device;
use crate::stream::EventStream;

/// How long one wait lasts: short enough that a stop request is seen promptly.
pub const WAIT_SLICE: Duration = Duration::from_millis(250);

/// Batches read between two looks at the stop flag.
const BATCHES_PER_ROUND: usize = 64;

/// Why watching stopped early.
#[derive(Debug)]
pub enum WatchError {
    Client(ClientError),
    /// Writing events or diagnostics failed (a closed pipe is not an error: see [`Session::watch`]).
    Output(io::Error),
}

impl From<ClientError> for WatchError {
    fn from(e: ClientError) -> Self {
        WatchError::Client(e)
    }
}

impl From<io::Error> for WatchError {
    fn from(e: io::Error) -> Self {
        WatchError::Output(e)
    }
}

impl fmt::Display for WatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatchError::Client(e) => e.fmt(f),
            WatchError::Output(e) => write!(f, "writing the events failed: {e}"),
        }
    }
}

impl std::error::Error for WatchError {}

/// A driver that answered HELLO with this companion's versions.
#[derive(Debug)]
pub struct Session<D> {
    device: D,
    hello: HelloResponse,
    buffer: Vec<u8>,
    wake_armed: bool,
}

impl<D: Device> Session<D> {
    /// Says HELLO; fails with [`ClientError::VersionMismatch`] unless the
    /// driver speaks this companion's protocol and schema.
    pub fn open(mut device: D) -> Result<Self, ClientError> {
        let hello = client::hello(&mut device)?;
        // A READ buffer of the largest record the driver produces never gets BUFFER_TOO_SMALL;
        // a few records more make one READ carry a useful batch.
        let record =
            usize::try_from(hello.max_record_bytes).unwrap_or(MAX_RECORD_BYTES).max(MAX_RECORD_BYTES);
        let buffer = vec![0u8; record.saturating_mul(4)];
        Ok(Session { device, hello, buffer, wake_armed: false })
    }

    pub fn hello(&self) -> &HelloResponse {
        &self.hello
    }

    pub fn device(&mut self) -> &mut D {
        &mut self.device
    }

    pub fn into_device(self) -> D {
        self.device
    }

    /// Offers content; the verdict says whether the driver took it.
    pub fn push_content(&mut self, content: &[u8]) -> Result<LoadContentResponse, ClientError> {
        client::load_content(&mut self.device, content)
    }

    /// Hands the driver the machine's volume map (see [`client::set_volume_map`]).
    pub fn push_volume_map(&mut self, map: &crate::enrich::dos_path::VolumeMap) -> Result<(), ClientError> {
        client::set_volume_map(&mut self.device, &map.to_le_bytes())
    }

    /// The sensor's trust policy and guard; `None` from a driver without the TRUST request.
    pub fn trust(&mut self) -> Result<Option<ringfence_wire::ioctl::TrustResponse>, ClientError> {
        client::trust(&mut self.device)
    }

    pub fn stats(&mut self) -> Result<StatsResponse, ClientError> {
        client::stats(&mut self.device)
    }

    /// Registers the device's wake event with the driver (once). A driver
    /// without the capability is polled every [`WAIT_SLICE`] instead.
    pub fn arm_wakeup(&mut self) -> Result<bool, ClientError> {
        if !self.wake_armed && self.hello.capabilities.contains(Capabilities::WAKE_EVENT) {
            let handle = self.device.wake_event()?;
            client::set_event(&mut self.device, handle)?;
            self.wake_armed = true;
        }
        Ok(self.wake_armed)
    }

    /// READs until the queue is empty, rendering every batch; returns the records rendered.
    pub fn drain<W, E>(
        &mut self,
        stream: &mut EventStream,
        out: &mut W,
        diag: &mut E,
    ) -> Result<usize, WatchError>
    where
        W: Write + ?Sized,
        E: Write + ?Sized,
    {
        let mut total = 0usize;
        loop {
            let (rendered, empty) = self.read_batches(stream, out, diag, usize::MAX)?;
            total = total.saturating_add(rendered);
            if empty {
                return Ok(total);
            }
        }
    }

    /// READs at most `max` batches; returns the records rendered and whether
    /// the queue was found empty.
    fn read_batches<W, E>(
        &mut self,
        stream: &mut EventStream,
        out: &mut W,
        diag: &mut E,
        max: usize,
    ) -> Result<(usize, bool), WatchError>
    where
        W: Write + ?Sized,
        E: Write + ?Sized,
    {
        let mut total = 0usize;
        for _ in 0..max {
            let batch = client::read(&mut self.device, &mut self.buffer)?;
            if batch.is_empty() {
                out.flush()?;
                return Ok((total, true));
            }
            let outcome = stream.render_batch(batch, out, diag)?;
            total = total.saturating_add(outcome.rendered);
        }
        out.flush()?;
        Ok((total, false))
    }

    /// Streams events until `stop()` says so. A closed output (the reader of a
    /// pipe went away) ends the watch normally.
    pub fn watch<W, E, S>(
        &mut self,
        stream: &mut EventStream,
        out: &mut W,
        diag: &mut E,
        stop: S,
    ) -> Result<(), WatchError>
    where
        W: Write + ?Sized,
        E: Write + ?Sized,
        S: Fn() -> bool,
    {
        let armed = self.arm_wakeup()?;
        while !stop() {
            // Bounded, so that a driver producing faster than we render cannot starve `stop`.
            let empty = match self.read_batches(stream, out, diag, BATCHES_PER_ROUND) {
                Ok((_, empty)) => empty,
                Err(WatchError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(e),
            };
            if !empty {
                continue;
            }
            if armed {
                self.device.wait_for_events(WAIT_SLICE).map_err(ClientError::from)?;
            } else {
                std::thread::sleep(WAIT_SLICE);
            }
        }
        // Records that arrived just before the stop are still shown, within one bounded round.
        match self.read_batches(stream, out, diag, BATCHES_PER_ROUND) {
            Err(WatchError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            other => other.map(|_| ()),
        }
    }
}
