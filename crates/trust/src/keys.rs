//! The public keys a sensor trusts: those built into the driver image at build
//! time (`RINGFENCE_TRUSTED_KEYS`, hex, comma-separated) and those provisioned
//! in the service's `Parameters\TrustedKeys` value (`REG_BINARY`, 32 bytes a
//! key), which only SYSTEM and Administrators can write.
//!
//! Every key is checked when it is read (a canonical encoding of a point that
//! is not of small order), so a key that could never verify is refused with
//! its position rather than carried along. At most [`MAX_TRUSTED_KEYS`].

use crate::envelope::PUBLIC_KEY_LEN;

/// How many keys a sensor can trust at once: enough to rotate keys and keep a
/// spare; bounded so the set lives on the stack.
pub const MAX_TRUSTED_KEYS: usize = 16;

/// The first eight bytes of a public key, shown in hex: how people name a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    pub fn of(key: &[u8; PUBLIC_KEY_LEN]) -> KeyId {
        let mut id = [0u8; 8];
        for (to, from) in id.iter_mut().zip(key) {
            *to = *from;
        }
        KeyId(id)
    }

    /// As two `u32`s (first four bytes, next four, little-endian): how reasons carry it.
    pub fn words(&self) -> [u32; 2] {
        let [a, b, c, d, e, f, g, h] = self.0;
        [u32::from_le_bytes([a, b, c, d]), u32::from_le_bytes([e, f, g, h])]
    }

    pub fn from_words(words: [u32; 2]) -> KeyId {
        let [a, b, c, d] = words[0].to_le_bytes();
        let [e, f, g, h] = words[1].to_le_bytes();
        KeyId([a, b, c, d, e, f, g, h])
    }
}

impl core::fmt::Display for KeyId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// Where a trusted key came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeySource {
    /// Built into the driver image.
    BuiltIn,
    /// Read from the `TrustedKeys` registry value.
    Provisioned,
}

/// Why a list of keys was refused, and at which key (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyListError {
    pub index: usize,
    pub kind: KeyErrorKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyErrorKind {
    /// A character that is not a hex digit, at this character of the key.
    NotHex { at: usize },
    /// A key of this many bytes (hex: half its digits) rather than 32.
    WrongLength { len: usize },
    /// Not the canonical encoding of a curve point.
    NotAPoint,
    /// A point of small order: any signature would verify against it.
    WeakKey,
    /// More keys than [`MAX_TRUSTED_KEYS`].
    TooMany,
    /// A registry blob whose length is not a whole number of keys.
    BlobLength { len: usize },
}

/// Checks that `key` can verify signatures at all.
pub fn check_key(key: &[u8; PUBLIC_KEY_LEN]) -> Result<(), KeyErrorKind> {
    match ed25519_compact::PublicKey::new(*key).validate() {
        Ok(()) => Ok(()),
        Err(ed25519_compact::Error::WeakPublicKey) => Err(KeyErrorKind::WeakKey),
        Err(_) => Err(KeyErrorKind::NotAPoint),
    }
}

/// A bounded set of checked keys with their sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedKeys {
    keys: [([u8; PUBLIC_KEY_LEN], KeySource); MAX_TRUSTED_KEYS],
    len: usize,
}

impl Default for TrustedKeys {
    fn default() -> Self {
        TrustedKeys::new()
    }
}

impl TrustedKeys {
    pub const fn new() -> TrustedKeys {
        TrustedKeys { keys: [([0; PUBLIC_KEY_LEN], KeySource::BuiltIn); MAX_TRUSTED_KEYS], len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The keys, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &([u8; PUBLIC_KEY_LEN], KeySource)> {
        self.keys.iter().take(self.len)
    }

    /// Whether `key` is trusted.
    pub fn contains(&self, key: &[u8; PUBLIC_KEY_LEN]) -> bool {
        self.iter().any(|(k, _)| k == key)
    }

    /// Adds a checked key; a key already present is not added twice.
    pub fn add(&mut self, key: [u8; PUBLIC_KEY_LEN], source: KeySource) -> Result<(), KeyErrorKind> {
        check_key(&key)?;
        if self.contains(&key) {
            return Ok(());
        }
        let slot = self.keys.get_mut(self.len).ok_or(KeyErrorKind::TooMany)?;
        *slot = (key, source);
        self.len = self.len.saturating_add(1);
        Ok(())
    }

    /// Adds every key of `blob` (32 bytes each, the registry's form), all or none.
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn add_blob(&mut self, blob: &[u8], source: KeySource) -> Result<usize, KeyListError> {
        let whole = blob.len().checked_rem(PUBLIC_KEY_LEN) == Some(0);
        if !whole {
            return Err(KeyListError {
                index: blob.len() / PUBLIC_KEY_LEN,
                kind: KeyErrorKind::BlobLength { len: blob.len() },
            });
        }
        let mut staged = *self;
        let mut added = 0usize;
        for (index, chunk) in blob.chunks_exact(PUBLIC_KEY_LEN).enumerate() {
            let mut key = [0u8; PUBLIC_KEY_LEN];
            key.copy_from_slice(chunk);
            staged.add(key, source).map_err(|kind| KeyListError { index, kind })?;
            added = added.saturating_add(1);
        }
        *self = staged;
        Ok(added)
    }

    /// Adds the keys of a comma-separated hex list (the build-time form), all or none.
    pub fn add_hex_list(&mut self, list: &str, source: KeySource) -> Result<usize, KeyListError> {
        let mut staged = *self;
        let mut added = 0usize;
        for (index, item) in list.split(',').map(str::trim).filter(|s| !s.is_empty()).enumerate() {
            let key = parse_hex_key(item).map_err(|kind| KeyListError { index, kind })?;
            staged.add(key, source).map_err(|kind| KeyListError { index, kind })?;
            added = added.saturating_add(1);
        }
        *self = staged;
        Ok(added)
    }
}

/// One key as 64 hex digits.
pub fn parse_hex_key(text: &str) -> Result<[u8; PUBLIC_KEY_LEN], KeyErrorKind> {
    let digits = text.as_bytes();
    if digits.len() != PUBLIC_KEY_LEN * 2 {
        return Err(KeyErrorKind::WrongLength { len: digits.len() / 2 });
    }
    let mut key = [0u8; PUBLIC_KEY_LEN];
    for (i, (byte, pair)) in key.iter_mut().zip(digits.chunks_exact(2)).enumerate() {
        let nibble = |at: usize, c: u8| match c {
            b'0'..=b'9' => Ok(c.wrapping_sub(b'0')),
            b'a'..=b'f' => Ok(c.wrapping_sub(b'a').wrapping_add(10)),
            b'A'..=b'F' => Ok(c.wrapping_sub(b'A').wrapping_add(10)),
            _ => Err(KeyErrorKind::NotHex { at }),
        };
        let [high, low] = [pair.first().copied().unwrap_or(0), pair.get(1).copied().unwrap_or(0)];
        let at = i.saturating_mul(2);
        *byte = (nibble(at, high)? << 4) | nibble(at.saturating_add(1), low)?;
    }
    Ok(key)
}
