//! The configuration manager's side the driver writes: registry values set
//! with `ZwSetValueKey` stay volatile until `ZwFlushKey` (the hive is written
//! lazily), so a crash before the flush loses them, as on Windows.

use std::collections::BTreeMap;

use windows_sys::Win32::Foundation::{
    STATUS_ACCESS_DENIED, STATUS_INVALID_HANDLE, STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};

use super::ob::ObjectKind;
use super::{Call, PASSIVE_LEVEL, status};
use crate::books::Finding;
use crate::layout::Guest;

pub const KEY_SET_VALUE: u32 = 0x2;

/// A registry value: type and data.
pub type Value = (u32, Vec<u8>);
/// Keys (lower-case path) and their values (lower-case name → value).
pub type Hive = BTreeMap<String, BTreeMap<String, Value>>;

#[derive(Debug, Default)]
pub struct Cm {
    /// Values changed and not yet flushed: (key, value name) → what the hive on disk holds.
    pub unflushed: BTreeMap<(String, String), Option<Value>>,
    /// Values the driver set, by name, for the books.
    pub sets: BTreeMap<String, u64>,
}

impl Cm {
    /// `live` as a crash leaves it: every unflushed change undone.
    pub fn durable_view(&self, live: &Hive) -> Hive {
        let mut hive = live.clone();
        for ((key, name), durable) in &self.unflushed {
            let values = hive.entry(key.clone()).or_default();
            match durable {
                Some(value) => values.insert(name.clone(), value.clone()),
                None => values.remove(name),
            };
        }
        hive
    }
}

fn key_path(c: &mut Call<'_, '_>, handle: u64, needs: u32) -> Result<String, u64> {
    let ob = &c.k().ob;
    let entry = ob.handles.get(&handle).copied();
    let kind = entry.and_then(|h| ob.objects.get(&h.object)).map(|o| o.kind.clone());
    match (entry, kind) {
        (Some(h), Some(ObjectKind::Key { path })) => {
            if h.access & needs != needs {
                return Err(status(STATUS_ACCESS_DENIED));
            }
            Ok(path)
        }
        _ => {
            c.finding(Finding::BadHandle { api: c.api, handle });
            Err(status(STATUS_INVALID_HANDLE))
        }
    }
}

/// `ZwSetValueKey(KeyHandle, ValueName, TitleIndex, Type, Data, DataSize)`.
pub fn zw_set_value_key(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let (handle, name_at, kind, data_at, size) = (c.arg(0), c.arg(1), c.arg32(3), c.arg(4), c.arg32(5));
    let path = match key_path(c, handle, KEY_SET_VALUE) {
        Ok(path) => path,
        Err(answer) => return answer,
    };
    let Some(name) = c.uc.read_unicode_string(name_at) else {
        c.finding(Finding::BadArgument { api: c.api, what: "unreadable ValueName" });
        return status(STATUS_INVALID_PARAMETER);
    };
    let name = String::from_utf16_lossy(&name).to_lowercase();
    let Some(data) = c.uc.read_bytes(data_at, size as usize) else {
        c.finding(Finding::BadArgument { api: c.api, what: "unreadable Data" });
        return status(STATUS_INVALID_PARAMETER);
    };
    let k = c.k();
    let values = k.ob.registry.entry(path.clone()).or_default();
    let previous = values.insert(name.clone(), (kind, data));
    k.cm.unflushed.entry((path, name.clone())).or_insert(previous);
    *k.cm.sets.entry(name).or_default() += 1;
    status(STATUS_SUCCESS)
}

/// `ZwFlushKey(KeyHandle)`: the key's values reach the disk.
pub fn zw_flush_key(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let handle = c.arg(0);
    let path = match key_path(c, handle, 0) {
        Ok(path) => path,
        Err(answer) => return answer,
    };
    c.k().cm.unflushed.retain(|(key, _), _| *key != path);
    status(STATUS_SUCCESS)
}
