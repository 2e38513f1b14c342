//! A batch: whole records back to back, as READ returns them.

use crate::record::{DecodeError, Record};

/// Where in a batch a record failed to decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchError {
    /// The failing record's position in the batch (0-based).
    pub index: usize,
    /// The failing record's byte offset in the batch.
    pub offset: usize,
    pub error: DecodeError,
}

/// A validated batch: every record in it has passed [`Record::parse_prefix`].
///
/// # Invariants
/// `buf` is a concatenation of valid records with nothing after the last.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    buf: &'a [u8],
    count: usize,
}

impl<'a> Batch<'a> {
    /// Validates every record of `buf` before any is handed out.
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, BatchError> {
        let mut count = 0usize;
        for item in Records::new(buf) {
            item?;
            count = count.saturating_add(1);
        }
        // INVARIANT: the walk above validated every record up to the end of `buf`.
        Ok(Batch { buf, count })
    }

    /// How many records the batch holds.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The records, in order.
    pub fn iter(&self) -> impl Iterator<Item = Record<'a>> + 'a {
        Records::new(self.buf).map_while(Result::ok)
    }
}

/// Walks a byte buffer record by record, yielding each valid record and then,
/// if the buffer does not end cleanly, one error, after which it stops. This is
/// how a consumer keeps the good prefix of a damaged batch and reports the rest.
#[derive(Clone, Debug)]
pub struct Records<'a> {
    rest: &'a [u8],
    index: usize,
    offset: usize,
    failed: bool,
}

impl<'a> Records<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Records { rest: buf, index: 0, offset: 0, failed: false }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match Record::parse_prefix(self.rest) {
            Ok((record, rest)) => {
                self.rest = rest;
                self.index = self.index.saturating_add(1);
                self.offset = self.offset.saturating_add(record.size());
                Some(Ok(record))
            }
            Err(error) => {
                self.failed = true;
                Some(Err(BatchError { index: self.index, offset: self.offset, error }))
            }
        }
    }
}
