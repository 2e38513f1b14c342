//! Who may open the device: `IRP_MJ_CREATE` judged before the exclusive client slot is taken.
//!
//! `\Device\Ringfence` has no namespace below it: an open of `\Device\Ringfence\anything`
//! reaches the driver with the rest of the path in the file object's name, and one with
//! `FILE_DIRECTORY_FILE` asks for a directory. Both are refused here, before the slot is
//! taken, so that they cannot hold the device against the companion.

/// `STATUS_OBJECT_NAME_NOT_FOUND`: no object lives below the device.
pub const STATUS_OBJECT_NAME_NOT_FOUND: i32 = 0xC000_0034_u32 as i32;
/// `STATUS_NOT_A_DIRECTORY`: the device is not a directory.
pub const STATUS_NOT_A_DIRECTORY: i32 = 0xC000_0103_u32 as i32;

/// `FILE_DIRECTORY_FILE` in `IO_STACK_LOCATION.Parameters.Create.Options` (the low 24 bits
/// are the create options, the high 8 the disposition).
pub const FILE_DIRECTORY_FILE: u32 = 0x0000_0001;

/// What an `IRP_MJ_CREATE` asks for, as far as the driver judges it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CreateRequest {
    /// Bytes of `FileObject->FileName`: the path below the device, 0 for the device itself.
    pub name_bytes: u16,
    /// `Parameters.Create.Options` (options and disposition).
    pub options: u32,
}

/// `Ok` for an open of the device itself; otherwise the status to complete the IRP with.
pub fn judge(request: CreateRequest) -> Result<(), i32> {
    if request.name_bytes != 0 {
        return Err(STATUS_OBJECT_NAME_NOT_FOUND);
    }
    if request.options & FILE_DIRECTORY_FILE != 0 {
        return Err(STATUS_NOT_A_DIRECTORY);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What CreateFileW sends for OPEN_EXISTING without FILE_FLAG_OVERLAPPED: FILE_OPEN (1)
    /// as disposition, FILE_SYNCHRONOUS_IO_NONALERT | FILE_NON_DIRECTORY_FILE as options.
    const CREATE_FILE: u32 = (1 << 24) | 0x20 | 0x40;

    #[test]
    fn an_open_of_the_device_itself_is_admitted() {
        assert_eq!(judge(CreateRequest { name_bytes: 0, options: CREATE_FILE }), Ok(()));
    }

    #[test]
    fn an_open_of_a_name_below_the_device_is_refused_as_not_found() {
        let request = CreateRequest { name_bytes: 18, options: CREATE_FILE }; // "\anything"
        assert_eq!(judge(request), Err(STATUS_OBJECT_NAME_NOT_FOUND));
    }

    #[test]
    fn a_directory_open_of_the_device_is_refused_as_not_a_directory() {
        let request = CreateRequest { name_bytes: 0, options: (1 << 24) | FILE_DIRECTORY_FILE };
        assert_eq!(judge(request), Err(STATUS_NOT_A_DIRECTORY));
    }
}
