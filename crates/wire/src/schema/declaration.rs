//! The one declaration of every event kind and its fields (schema version 3).
//!
//! Version 2 appended, per activity kind, what the driver's process table and
//! the new process's primary token supply (parent, user, logon session,
//! integrity, elevation, the loading or exiting process), a `truncated`
//! bitmap, and the companion fields; it made `image_path` and `command_line`
//! optional, since the kernel may hand over no name at all.
//!
//! Version 3 appended, per activity kind, the verdict's detection rules: the
//! ids of those that matched and of those the kernel left undecided (a field
//! only the companion has), each list bounded by `RECORD_IDS` with a count of
//! the rest. It added the field type `Ids` to carry them. Format-1 content and
//! no content leave both lists empty.

use super::limits::{
    RECORD_IDS, RULE_NAME_UNITS, SID_TEXT_UNITS, TABLE_COMMAND_LINE_UNITS, TABLE_IMAGE_PATH_UNITS,
};
use super::*;

schema! {
    version 3;

    /// A process was created (Sysmon event 1).
    ProcessStart = 1, "process_start", activity true {
        /// The new process's id.
        pid: U32 => "process.pid",
        /// The parent named by the kernel (`ParentProcessId`).
        parent_pid: U32 => "process.parent.pid",
        /// The process that actually issued the create (`CreatingThreadId.UniqueProcess`).
        creating_pid: U32 => "ringfence.creator.pid",
        /// The thread that issued the create (`CreatingThreadId.UniqueThread`).
        creating_tid: U32 => "ringfence.creator.thread_id",
        /// Terminal-services session of the new process.
        session_id: U32 => "process.session_id",
        /// Full NT path of the image (`ImageFileName`); absent when the kernel gave none.
        image_path: Str [optional] => "process.executable",
        /// The command line (`CommandLine`); absent when the kernel gave none.
        command_line: Str [optional] => "process.command_line",
        /// The process's start key (`PsGetProcessStartKey`): unique across boots (it embeds the boot id).
        start_key: U64 => "ringfence.process.start_key",
        /// When the process was created.
        create_time: Time => "process.start",
        /// `FileOpenNameAvailable`: the path is the name the file was opened by.
        image_name_available: Bool => "ringfence.process.image_name_available",
        /// The name of the include rule that kept the event; empty when none did.
        rule_name: Str [verdict] [max RULE_NAME_UNITS] => "rule.name",
        /// The parent's start key, when the kernel could name the parent process.
        parent_start_key: U64 [optional] => "ringfence.process.parent.start_key",
        /// The parent's image path, from the process table at the moment of creation.
        parent_image_path: Str [optional] [max TABLE_IMAGE_PATH_UNITS] => "process.parent.executable",
        /// The parent's command line, from the process table at the moment of creation.
        parent_command_line: Str [optional] [max TABLE_COMMAND_LINE_UNITS] => "process.parent.command_line",
        /// The user of the primary token (`TokenUser`), as `S-1-…`.
        user_sid: Str [optional] [max SID_TEXT_UNITS] => "process.user.id",
        /// The token's logon session (`TokenStatistics.AuthenticationId`), high part first.
        logon_id: U64 [optional] => "ringfence.process.logon_id",
        /// The token's mandatory label RID (`TokenIntegrityLevel`): 0x2000 medium, 0x3000 high, 0x4000 system.
        integrity_level: U32 [optional] => "ringfence.process.integrity_level",
        /// `TokenElevationType`: 1 default, 2 full (elevated), 3 limited.
        elevation_type: U32 [optional] => "ringfence.process.elevation_type",
        /// The parent's user, from the process table.
        parent_user_sid: Str [optional] [max SID_TEXT_UNITS] => "process.parent.user.id",
        /// Bit `i` set: field `i` was cut to its longest length.
        truncated: U32 [truncation] => "ringfence.truncated",
        /// The detection rules that matched, by id, in content order.
        matched_ids: Ids [verdict] [max RECORD_IDS] => "ringfence.rules.matched",
        /// How many more detection rules matched than `matched_ids` holds.
        matched_rest: U32 [verdict] => "ringfence.rules.matched_rest",
        /// The detection rules the kernel could not decide (they need a field only the companion has), by id.
        undecided_ids: Ids [verdict] [max RECORD_IDS] => "ringfence.rules.undecided",
        /// How many more detection rules were undecided than `undecided_ids` holds.
        undecided_rest: U32 [verdict] => "ringfence.rules.undecided_rest",
    } + companion {
        /// `OriginalFilename` of the image's version resource.
        original_file_name: Str => "process.pe.original_file_name",
        /// `FileVersion` of the image's version resource.
        file_version: Str => "process.pe.file_version",
        /// `FileDescription` of the image's version resource.
        description: Str => "process.pe.description",
        /// `ProductName` of the image's version resource.
        product: Str => "process.pe.product",
        /// `CompanyName` of the image's version resource.
        company: Str => "process.pe.company",
        /// The image's hashes in Sysmon's form, `SHA256=…,IMPHASH=…`.
        hashes: Str => "ringfence.process.hashes",
        /// The user as `DOMAIN\user`.
        user_name: Str => "process.user.name",
        /// The parent's user as `DOMAIN\user`.
        parent_user_name: Str => "process.parent.user.name",
        /// The integrity level by Sysmon's name (Low, Medium, High, System, …).
        integrity_level_name: Str => "ringfence.process.integrity_level_name",
    }

    /// A process exited (Sysmon event 5).
    ProcessExit = 2, "process_exit", activity true {
        pid: U32 => "process.pid",
        /// The process's exit status (an NTSTATUS).
        exit_status: U32 => "process.exit_code",
        /// When the exit was observed.
        time: Time => "process.end",
        /// The name of the include rule that kept the event; empty when none did.
        rule_name: Str [verdict] [max RULE_NAME_UNITS] => "rule.name",
        /// The exiting process's image path, from the process table.
        image_path: Str [optional] [max TABLE_IMAGE_PATH_UNITS] => "process.executable",
        /// The exiting process's start key (`PsGetProcessStartKey`).
        start_key: U64 => "ringfence.process.start_key",
        /// The exiting process's user, from the process table.
        user_sid: Str [optional] [max SID_TEXT_UNITS] => "process.user.id",
        /// Bit `i` set: field `i` was cut to its longest length.
        truncated: U32 [truncation] => "ringfence.truncated",
        /// The detection rules that matched, by id, in content order.
        matched_ids: Ids [verdict] [max RECORD_IDS] => "ringfence.rules.matched",
        /// How many more detection rules matched than `matched_ids` holds.
        matched_rest: U32 [verdict] => "ringfence.rules.matched_rest",
        /// The detection rules the kernel could not decide (they need a field only the companion has), by id.
        undecided_ids: Ids [verdict] [max RECORD_IDS] => "ringfence.rules.undecided",
        /// How many more detection rules were undecided than `undecided_ids` holds.
        undecided_rest: U32 [verdict] => "ringfence.rules.undecided_rest",
    } + companion {
        /// The user as `DOMAIN\user`.
        user_name: Str => "process.user.name",
    }

    /// An image (EXE, DLL or driver) was mapped (Sysmon event 7).
    ImageLoad = 3, "image_load", activity true {
        /// The process the image was mapped into; 0 for kernel images.
        pid: U32 => "process.pid",
        /// Full NT path of the image (`FullImageName`); absent when the kernel gave none.
        image_path: Str [optional] => "dll.path",
        image_base: U64 => "ringfence.image.base",
        image_size: U64 => "ringfence.image.size",
        /// `IMAGE_INFO.ImageSignatureLevel` (SE_SIGNING_LEVEL_*).
        signature_level: U32 => "ringfence.image.signature_level",
        /// `IMAGE_INFO.ImageSignatureType` (SE_IMAGE_SIGNATURE_TYPE).
        signature_type: U32 => "ringfence.image.signature_type",
        /// `IMAGE_INFO.SystemModeImage`: a kernel-mode image.
        kernel_image: Bool => "ringfence.image.kernel",
        time: Time => "event.created",
        /// The name of the include rule that kept the event; empty when none did.
        rule_name: Str [verdict] [max RULE_NAME_UNITS] => "rule.name",
        /// The loading process's image path, from the process table; absent for kernel images.
        process_image_path: Str [optional] [max TABLE_IMAGE_PATH_UNITS] => "process.executable",
        /// The loading process's start key; absent for kernel images.
        process_start_key: U64 [optional] => "ringfence.process.start_key",
        /// The loading process's user, from the process table.
        user_sid: Str [optional] [max SID_TEXT_UNITS] => "process.user.id",
        /// Bit `i` set: field `i` was cut to its longest length.
        truncated: U32 [truncation] => "ringfence.truncated",
        /// The detection rules that matched, by id, in content order.
        matched_ids: Ids [verdict] [max RECORD_IDS] => "ringfence.rules.matched",
        /// How many more detection rules matched than `matched_ids` holds.
        matched_rest: U32 [verdict] => "ringfence.rules.matched_rest",
        /// The detection rules the kernel could not decide (they need a field only the companion has), by id.
        undecided_ids: Ids [verdict] [max RECORD_IDS] => "ringfence.rules.undecided",
        /// How many more detection rules were undecided than `undecided_ids` holds.
        undecided_rest: U32 [verdict] => "ringfence.rules.undecided_rest",
    } + companion {
        /// `OriginalFilename` of the image's version resource.
        original_file_name: Str => "dll.pe.original_file_name",
        /// `FileVersion` of the image's version resource.
        file_version: Str => "dll.pe.file_version",
        /// `FileDescription` of the image's version resource.
        description: Str => "dll.pe.description",
        /// `ProductName` of the image's version resource.
        product: Str => "dll.pe.product",
        /// `CompanyName` of the image's version resource.
        company: Str => "dll.pe.company",
        /// The image's hashes in Sysmon's form, `SHA256=…,IMPHASH=…`.
        hashes: Str => "ringfence.dll.hashes",
        /// Whether the image carries a signature (Sysmon's `Signed`).
        signed: Bool => "dll.code_signature.exists",
        /// The signature's status (Sysmon's `SignatureStatus`, e.g. `Valid`).
        signature_status: Str => "dll.code_signature.status",
        /// The loading process's user as `DOMAIN\user`.
        user_name: Str => "process.user.name",
    }

    /// The queue was full: events were dropped. Sent as soon as space allows.
    LostEvents = 4, "lost_events", activity false {
        /// How many records were dropped.
        count: U64 => "ringfence.lost.count",
        /// Sequence number of the first dropped record.
        first_sequence: U64 => "ringfence.lost.first_sequence",
        /// Sequence number of the last dropped record.
        last_sequence: U64 => "ringfence.lost.last_sequence",
        process_start: U64 => "ringfence.lost.process_start",
        process_exit: U64 => "ringfence.lost.process_exit",
        image_load: U64 => "ringfence.lost.image_load",
        content_changed: U64 => "ringfence.lost.content_changed",
    }

    /// Content was offered to the driver and accepted or rejected.
    ContentChanged = 5, "content_changed", activity false {
        accepted: Bool => "ringfence.content.accepted",
        /// The version the offered content declares (0 when its header was unreadable).
        content_version: U32 => "ringfence.content.version",
        /// The content version active after the load.
        active_version: U32 => "ringfence.content.active_version",
        /// The validator's reason code (0 when accepted).
        reason: U32 => "ringfence.content.reason",
        /// The byte offset the reason refers to.
        offset: U32 => "ringfence.content.offset",
    }
}
