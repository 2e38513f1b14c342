//! The active content: validated bytes in pool memory, swapped whole.
//!
//! Concurrency is the sensor's business ([`crate::sensor`]): callbacks evaluate under the
//! content lock held shared, a load swaps under it held exclusive. Exclusive acquisition
//! waits for every shared holder, so once the swap returns no callback can still be
//! reading the old bytes, and they are freed right after, outside the lock.

use alloc::vec::Vec;
use ringfence_content::{Content, ValidationError, Verdict, format, validate};
use ringfence_wire::schema::{Event, SCHEMA};
use ringfence_wire::text::Text;

#[derive(Debug, Default)]
pub struct ContentSlot {
    /// Bytes that passed [`validate`] against [`SCHEMA`]; `None` until content is loaded.
    active: Option<Vec<u8>>,
    loads_accepted: u64,
    loads_rejected: u64,
}

/// Offered bytes that passed validation, still in the caller's buffer.
#[derive(Clone, Copy, Debug)]
pub struct Judged<'a> {
    bytes: &'a [u8],
    version: u32,
}

/// Validated content copied into pool memory, ready to be swapped in.
#[derive(Debug)]
pub struct Accepted {
    bytes: Vec<u8>,
    version: u32,
}

/// No pool for a copy of the content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfPool {
    pub bytes: usize,
}

impl<'a> Judged<'a> {
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Copies the validated bytes into pool memory: the one allocation of a content load.
    /// The source is the I/O manager's kernel copy of the request, so it cannot change
    /// between validation and this copy.
    pub fn into_owned(self) -> Result<Accepted, OutOfPool> {
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(self.bytes.len()).map_err(|_| OutOfPool { bytes: self.bytes.len() })?;
        bytes.extend_from_slice(self.bytes);
        Ok(Accepted { bytes, version: self.version })
    }
}

impl Accepted {
    pub fn version(&self) -> u32 {
        self.version
    }
}

/// Offered content that failed validation: what it declared and why it was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub declared_version: u32,
    pub error: ValidationError,
}

/// Runs the validator (the companion's `content check` runs the same code) over `bytes`,
/// in place: nothing is allocated for content that is refused.
pub fn judge(bytes: &[u8]) -> Result<Judged<'_>, Rejected> {
    match validate(bytes, &SCHEMA) {
        Ok(content) => Ok(Judged { bytes, version: content.version() }),
        Err(error) => Err(Rejected { declared_version: declared_version(bytes), error }),
    }
}

/// The content version a header declares, or 0 when the header is too short to say.
fn declared_version(bytes: &[u8]) -> u32 {
    let at = format::header::CONTENT_VERSION;
    at.checked_add(4)
        .and_then(|end| bytes.get(at..end))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_le_bytes)
}

impl ContentSlot {
    /// The active content version, 0 when none is loaded.
    pub fn version(&self) -> u32 {
        self.active.as_deref().map_or(0, |bytes| Content::from_validated(bytes).version())
    }

    /// Content loads accepted and rejected since the driver started.
    pub fn loads(&self) -> (u64, u64) {
        (self.loads_accepted, self.loads_rejected)
    }

    /// Keep or drop `event`; with no content loaded every event is kept, untagged.
    pub fn verdict<'s>(&'s self, event: &Event<'_>) -> Verdict<'s> {
        match self.active.as_deref() {
            Some(bytes) => Content::from_validated(bytes).evaluate(event),
            None => Verdict::Keep { rule_name: Text::default() },
        }
    }

    /// Installs `accepted` and hands back the previous bytes, to be freed outside the lock.
    pub fn replace(&mut self, accepted: Accepted) -> Option<Vec<u8>> {
        self.loads_accepted = self.loads_accepted.saturating_add(1);
        self.active.replace(accepted.bytes)
    }

    pub fn count_rejected(&mut self) {
        self.loads_rejected = self.loads_rejected.saturating_add(1);
    }
}
