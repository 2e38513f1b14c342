//! The service's `Parameters` key: the queue size and the process table's
//! budget, each checked and clamped.

use ringfence_wire::ioctl::{
    Notes, PROCESS_TABLE_BYTES_DEFAULT, PROCESS_TABLE_BYTES_MAX, PROCESS_TABLE_BYTES_MIN,
    QUEUE_BYTES_DEFAULT, QUEUE_BYTES_MAX, QUEUE_BYTES_MIN,
};

/// `REG_DWORD`.
pub const REG_DWORD: u32 = 4;

/// A registry value as `ZwQueryValueKey` returned it: its type and data bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegValue<'a> {
    pub ty: u32,
    pub data: &'a [u8],
}

/// A `REG_DWORD` size with its limits and the notes that say it was not used as given.
struct SizeParameter {
    default: u32,
    min: u32,
    max: u32,
    invalid: Notes,
    clamped: Notes,
}

impl SizeParameter {
    /// The size for `value` (`None`: absent) and what differs from the request. A wrong
    /// type or size falls back to the default; a value out of limits is clamped; the size
    /// is rounded down to a multiple of 8.
    fn apply(&self, value: Option<RegValue<'_>>) -> (u32, Notes) {
        let Some(value) = value else { return (self.default, Notes::NONE) };
        let dword = match (value.ty, <[u8; 4]>::try_from(value.data)) {
            (REG_DWORD, Ok(bytes)) => u32::from_le_bytes(bytes),
            _ => return (self.default, self.invalid),
        };
        let clamped = dword.clamp(self.min, self.max) & !7;
        let notes = if clamped == dword { Notes::NONE } else { self.clamped };
        (clamped, notes)
    }
}

/// The queue size to allocate for `value` (`Parameters\QueueBytes`).
pub fn queue_bytes(value: Option<RegValue<'_>>) -> (u32, Notes) {
    SizeParameter {
        default: QUEUE_BYTES_DEFAULT,
        min: QUEUE_BYTES_MIN,
        max: QUEUE_BYTES_MAX,
        invalid: Notes::QUEUE_BYTES_PARAM_INVALID,
        clamped: Notes::QUEUE_BYTES_CLAMPED,
    }
    .apply(value)
}

/// The process table's budget for `value` (`Parameters\ProcessTableBytes`).
pub fn process_table_bytes(value: Option<RegValue<'_>>) -> (u32, Notes) {
    SizeParameter {
        default: PROCESS_TABLE_BYTES_DEFAULT,
        min: PROCESS_TABLE_BYTES_MIN,
        max: PROCESS_TABLE_BYTES_MAX,
        invalid: Notes::PROCESS_TABLE_BYTES_PARAM_INVALID,
        clamped: Notes::PROCESS_TABLE_BYTES_CLAMPED,
    }
    .apply(value)
}

/// `KEY_VALUE_PARTIAL_INFORMATION`: TitleIndex, Type, DataLength (u32 each), then Data.
pub mod partial_information {
    pub const TYPE: usize = 4;
    pub const DATA_LENGTH: usize = 8;
    pub const DATA: usize = 12;
}

/// The value in a `KEY_VALUE_PARTIAL_INFORMATION` that `ZwQueryValueKey` filled into
/// `buf`; `DataLength` is trusted only as far as `buf` reaches (a value too large for the
/// buffer reads as its truncated data, whose length is then wrong for a DWORD anyway).
pub fn partial_information(buf: &[u8]) -> Option<RegValue<'_>> {
    let word = |at: usize| -> Option<u32> {
        let bytes: [u8; 4] = buf.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(u32::from_le_bytes(bytes))
    };
    let ty = word(partial_information::TYPE)?;
    let declared = usize::try_from(word(partial_information::DATA_LENGTH)?).ok()?;
    let data = buf.get(partial_information::DATA..)?;
    Some(RegValue { ty, data: data.get(..declared).unwrap_or(data) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_information_yields_type_and_exactly_the_declared_data() {
        let mut buf = [0u8; 24];
        buf[4..8].copy_from_slice(&REG_DWORD.to_le_bytes());
        buf[8..12].copy_from_slice(&4u32.to_le_bytes());
        buf[12..16].copy_from_slice(&(2u32 << 20).to_le_bytes());
        let value = partial_information(&buf).unwrap();
        assert_eq!(value, RegValue { ty: REG_DWORD, data: &(2u32 << 20).to_le_bytes() });
        assert_eq!(queue_bytes(Some(value)), (2 << 20, Notes::NONE));
    }

    #[test]
    fn a_declared_length_beyond_the_buffer_is_cut_to_the_buffer() {
        let mut buf = [0u8; 20];
        buf[4..8].copy_from_slice(&REG_DWORD.to_le_bytes());
        buf[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(partial_information(&buf).map(|v| v.data.len()), Some(8));
        assert_eq!(partial_information(&buf[..11]), None);
    }

    fn dword(value: u32) -> [u8; 4] {
        value.to_le_bytes()
    }

    #[test]
    fn an_absent_value_gives_the_default_without_a_note() {
        assert_eq!(queue_bytes(None), (QUEUE_BYTES_DEFAULT, Notes::NONE));
    }

    #[test]
    fn a_dword_inside_the_limits_is_used_as_is() {
        let data = dword(8 << 20);
        assert_eq!(queue_bytes(Some(RegValue { ty: REG_DWORD, data: &data })), (8 << 20, Notes::NONE));
    }

    #[test]
    fn values_outside_the_limits_are_clamped_and_noted() {
        let small = dword(1);
        let large = dword(u32::MAX);
        let odd = dword(QUEUE_BYTES_MIN + 3);
        assert_eq!(
            queue_bytes(Some(RegValue { ty: REG_DWORD, data: &small })),
            (QUEUE_BYTES_MIN, Notes::QUEUE_BYTES_CLAMPED)
        );
        assert_eq!(
            queue_bytes(Some(RegValue { ty: REG_DWORD, data: &large })),
            (QUEUE_BYTES_MAX, Notes::QUEUE_BYTES_CLAMPED)
        );
        assert_eq!(
            queue_bytes(Some(RegValue { ty: REG_DWORD, data: &odd })),
            (QUEUE_BYTES_MIN, Notes::QUEUE_BYTES_CLAMPED)
        );
    }

    #[test]
    fn the_process_table_budget_has_its_own_default_limits_and_notes() {
        assert_eq!(process_table_bytes(None), (PROCESS_TABLE_BYTES_DEFAULT, Notes::NONE));
        let inside = dword(16 << 20);
        assert_eq!(
            process_table_bytes(Some(RegValue { ty: REG_DWORD, data: &inside })),
            (16 << 20, Notes::NONE)
        );
        let small = dword(1024);
        assert_eq!(
            process_table_bytes(Some(RegValue { ty: REG_DWORD, data: &small })),
            (PROCESS_TABLE_BYTES_MIN, Notes::PROCESS_TABLE_BYTES_CLAMPED)
        );
        let large = dword(1 << 30);
        assert_eq!(
            process_table_bytes(Some(RegValue { ty: REG_DWORD, data: &large })),
            (PROCESS_TABLE_BYTES_MAX, Notes::PROCESS_TABLE_BYTES_CLAMPED)
        );
        assert_eq!(
            process_table_bytes(Some(RegValue { ty: 1, data: &inside })),
            (PROCESS_TABLE_BYTES_DEFAULT, Notes::PROCESS_TABLE_BYTES_PARAM_INVALID)
        );
    }

    #[test]
    fn a_wrong_type_or_size_falls_back_to_the_default_and_is_noted() {
        let data = dword(8 << 20);
        let qword = [0u8; 8];
        for value in [
            RegValue { ty: 1, data: &data },
            RegValue { ty: REG_DWORD, data: &qword },
            RegValue { ty: REG_DWORD, data: &[] },
        ] {
            assert_eq!(queue_bytes(Some(value)), (QUEUE_BYTES_DEFAULT, Notes::QUEUE_BYTES_PARAM_INVALID));
        }
    }
}
