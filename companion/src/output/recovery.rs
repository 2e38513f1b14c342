//! What a log file holds when the service starts, or resumes after an outage:
//! a crash mid-write leaves at most one partial last line, which is cut off
//! here, and the last driver record written tells where the stream stopped.

use std::io;

use super::storage::LogFile;

/// How far back to look, in bytes, for the last complete line and the last
/// driver record: beyond that the stream's position is taken as unknown.
const SCAN_LIMIT: u64 = 4 << 20;
const CHUNK: usize = 64 << 10;

/// What recovery found and did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Bytes of a partial last line that were cut off.
    pub torn_bytes: u64,
    /// `event.sequence` of the last driver record in the file, if one is within reach.
    pub last_sequence: Option<u64>,
}

/// Cuts a partial last line off `file` and finds its last driver record.
/// Everything up to the last newline is kept: complete lines are never touched.
pub fn recover<F: LogFile>(file: &mut F) -> io::Result<Recovered> {
    let len = file.size()?;
    let floor = len.saturating_sub(SCAN_LIMIT);
    let mut tail = Vec::new();
    let mut start = len;
    // Read backwards until the last newline is in view (or the limit).
    let keep = loop {
        if let Some(at) = tail.iter().rposition(|b| *b == b'\n') {
            break start.saturating_add(at as u64).saturating_add(1);
        }
        if start <= floor {
            break if len <= SCAN_LIMIT { 0 } else { len };
        }
        let from = start.saturating_sub(CHUNK as u64).max(floor);
        let mut chunk = vec![0u8; usize::try_from(start - from).unwrap_or(CHUNK)];
        let n = file.read_at(from, &mut chunk)?;
        chunk.truncate(n);
        chunk.extend_from_slice(&tail);
        tail = chunk;
        start = from;
    };
    let torn_bytes = len.saturating_sub(keep);
    if torn_bytes > 0 {
        file.truncate(keep)?;
        file.sync()?;
    }
    let last_sequence = last_sequence(file, keep, floor)?;
    Ok(Recovered { torn_bytes, last_sequence })
}

/// `event.sequence` of the last whole line of `file` that has one, within the scan limit.
pub fn last_sequence_in<F: LogFile>(file: &mut F) -> io::Result<Option<u64>> {
    let len = file.size()?;
    last_sequence(file, len, len.saturating_sub(SCAN_LIMIT))
}

/// `event.sequence` of the last line before `end` that has one (service records have none).
fn last_sequence<F: LogFile>(file: &mut F, end: u64, floor: u64) -> io::Result<Option<u64>> {
    let mut buffer: Vec<u8> = Vec::new();
    let mut start = end;
    while start > floor {
        let from = start.saturating_sub(CHUNK as u64).max(floor);
        let mut chunk = vec![0u8; usize::try_from(start - from).unwrap_or(CHUNK)];
        let n = file.read_at(from, &mut chunk)?;
        chunk.truncate(n);
        chunk.extend_from_slice(&buffer);
        buffer = chunk;
        start = from;
        // Whole lines only: the first piece may begin mid-line unless it starts the file.
        let whole = if start == 0 {
            0
        } else {
            buffer.iter().position(|b| *b == b'\n').map_or(buffer.len(), |p| p + 1)
        };
        let lines = buffer.get(whole..).unwrap_or_default();
        for line in lines.split(|b| *b == b'\n').rev() {
            if let Some(sequence) = sequence_of(line) {
                return Ok(Some(sequence));
            }
        }
        buffer.truncate(whole);
    }
    Ok(None)
}

fn sequence_of(line: &[u8]) -> Option<u64> {
    if line.is_empty() {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(line).ok()?;
    value.pointer("/event/sequence")?.as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::storage::{FileSystem, Storage};

    fn file_with(bytes: &[u8]) -> (tempfile::TempDir, crate::output::storage::OsFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl");
        std::fs::write(&path, bytes).unwrap();
        let file = FileSystem.open(&path).unwrap();
        (dir, file)
    }

    fn contents(dir: &tempfile::TempDir) -> Vec<u8> {
        std::fs::read(dir.path().join("f.jsonl")).unwrap()
    }

    #[test]
    fn a_partial_last_line_is_cut_and_complete_lines_stay() {
        let (dir, mut file) = file_with(b"{\"event\":{\"sequence\":7}}\n{\"event\":{\"seq");
        assert_eq!(recover(&mut file).unwrap(), Recovered { torn_bytes: 14, last_sequence: Some(7) });
        assert_eq!(contents(&dir), b"{\"event\":{\"sequence\":7}}\n");
    }

    #[test]
    fn a_file_of_complete_lines_is_left_as_it_is() {
        let text = b"{\"event\":{\"sequence\":1}}\n{\"event\":{\"sequence\":2}}\n{\"event\":{\"dataset\":\"ringfence.service\"}}\n";
        let (dir, mut file) = file_with(text);
        assert_eq!(recover(&mut file).unwrap(), Recovered { torn_bytes: 0, last_sequence: Some(2) });
        assert_eq!(contents(&dir), text);
    }

    #[test]
    fn a_file_that_is_one_partial_line_becomes_empty() {
        let (dir, mut file) = file_with(b"{\"event\":{\"sequence\":1");
        assert_eq!(recover(&mut file).unwrap(), Recovered { torn_bytes: 22, last_sequence: None });
        assert_eq!(contents(&dir), b"");
    }

    #[test]
    fn zeros_after_the_last_line_as_a_power_loss_leaves_them_are_cut() {
        let mut text = b"{\"event\":{\"sequence\":3}}\n".to_vec();
        text.extend_from_slice(&[0u8; 4096]);
        let (dir, mut file) = file_with(&text);
        assert_eq!(recover(&mut file).unwrap(), Recovered { torn_bytes: 4096, last_sequence: Some(3) });
        assert_eq!(contents(&dir), b"{\"event\":{\"sequence\":3}}\n");
    }

    #[test]
    fn the_last_sequence_is_found_across_read_chunks() {
        let mut text = b"{\"event\":{\"sequence\":41}}\n".to_vec();
        let filler =
            format!("{{\"event\":{{\"dataset\":\"ringfence.service\"}},\"pad\":\"{}\"}}\n", "x".repeat(1000));
        for _ in 0..200 {
            text.extend_from_slice(filler.as_bytes());
        }
        let (_dir, mut file) = file_with(&text);
        assert_eq!(recover(&mut file).unwrap(), Recovered { torn_bytes: 0, last_sequence: Some(41) });
    }
}
