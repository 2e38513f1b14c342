//! `TRUST`: the sensor's content-trust policy and crash-loop guard, so that
//! user mode can say what the sensor will accept before it pushes, and what
//! the guard did. Reason codes and the guard's levels are ringfence-trust's;
//! this layout only carries them.

use super::{
    IoctlError, Message, bool_field, check_header, emit_header, put_u32, put_u64, u32_field, u64_field,
};
use crate::bytes;

/// Byte offsets of [`TrustResponse`].
pub mod trust_response {
    pub const SIZE: usize = 0;
    pub const VERSION: usize = 4;
    /// `u32`: 1 when only signed content is taken.
    pub const SIGNATURES_REQUIRED: usize = 8;
    /// `u32`: 1 when accepted content is persisted and restored at start.
    pub const PERSISTENT: usize = 12;
    pub const RING: usize = 16;
    /// `u32`: 0 follow, `u32::MAX` N−1, otherwise the pinned version.
    pub const PIN: usize = 20;
    pub const SENSOR_VERSION: usize = 24;
    pub const TRUSTED_KEYS: usize = 28;
    pub const THRESHOLD: usize = 32;
    /// `u32`: what the next start loads: 0 nothing, 1 last-known-good, 2 trial.
    pub const LEVEL: usize = 36;
    pub const UNHEALTHY_STARTS: usize = 40;
    pub const NEWEST_OFFERED: usize = 44;
    /// `u32`: where the active content came from (same levels; 0 none active).
    pub const ACTIVE_LEVEL: usize = 48;
    /// `u32`: 1 while the active content's health is still being watched.
    pub const WATCHING: usize = 52;
    pub const WATCHED_EVENTS: usize = 56;
    pub const HEALTH_EVENTS: usize = 64;
    pub const HEALTH_SECONDS: usize = 72;
    pub const REFUSED_SIGNATURE: usize = 80;
    pub const REFUSED_VALIDATION: usize = 88;
    pub const REFUSED_POLICY: usize = 96;
    pub const REFUSED_PERSISTENCE: usize = 104;
    pub const START_FALLBACKS: usize = 112;
    pub const PROMOTIONS: usize = 120;
    /// [`super::MAX_KEY_IDS`] key ids of 8 bytes; the first `TRUSTED_KEYS` are used, the rest zero.
    pub const KEY_IDS: usize = 128;
    pub const KEY_ID_LEN: usize = 8;
    pub const LEN: usize = KEY_IDS + super::MAX_KEY_IDS * KEY_ID_LEN;
    pub const LAYOUT_VERSION: u32 = 1;
}

/// As many trusted keys as the sensor can hold.
pub const MAX_KEY_IDS: usize = 16;

/// The sensor's trust policy and guard, as `TRUST` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TrustResponse {
    pub signatures_required: bool,
    pub persistent: bool,
    pub ring: u32,
    pub pin: u32,
    pub sensor_version: u32,
    pub threshold: u32,
    pub level: u32,
    pub unhealthy_starts: u32,
    pub newest_offered: u32,
    pub active_level: u32,
    pub watching: bool,
    /// Events the active content evaluated while watched.
    pub watched_events: u64,
    pub health_events: u64,
    pub health_seconds: u64,
    /// Loads refused, by the stage that refused them.
    pub refused_signature: u64,
    pub refused_validation: u64,
    pub refused_policy: u64,
    pub refused_persistence: u64,
    /// Levels the guard stepped down at this start.
    pub start_fallbacks: u64,
    pub promotions: u64,
    pub key_count: u32,
    /// The first eight bytes of each trusted public key; `key_count` are used.
    pub key_ids: [[u8; 8]; MAX_KEY_IDS],
}

impl TrustResponse {
    pub const LEN: usize = trust_response::LEN;
    pub const LAYOUT_VERSION: u32 = trust_response::LAYOUT_VERSION;

    /// The trusted key ids in use.
    pub fn keys(&self) -> &[[u8; 8]] {
        let count = usize::try_from(self.key_count).unwrap_or(0);
        self.key_ids.get(..count).unwrap_or(&[])
    }

    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn parse(buf: &[u8]) -> Result<Self, IoctlError> {
        use trust_response as at;
        check_header(buf, Self::LEN, Self::LAYOUT_VERSION)?;
        let level = |offset| match u32_field(buf, offset) {
            v @ 0..=2 => Ok(v),
            _ => Err(IoctlError::Value { offset }),
        };
        let key_count = u32_field(buf, at::TRUSTED_KEYS);
        let used = usize::try_from(key_count).unwrap_or(usize::MAX);
        if used > MAX_KEY_IDS {
            return Err(IoctlError::Value { offset: at::TRUSTED_KEYS });
        }
        let mut key_ids = [[0u8; 8]; MAX_KEY_IDS];
        let mut offset = at::KEY_IDS;
        for (i, id) in key_ids.iter_mut().enumerate() {
            *id = bytes::array(buf, offset).unwrap_or([0; 8]);
            if i >= used && *id != [0; 8] {
                return Err(IoctlError::Reserved { offset });
            }
            offset = offset.saturating_add(at::KEY_ID_LEN);
        }
        Ok(TrustResponse {
            signatures_required: bool_field(buf, at::SIGNATURES_REQUIRED)?,
            persistent: bool_field(buf, at::PERSISTENT)?,
            ring: u32_field(buf, at::RING),
            pin: u32_field(buf, at::PIN),
            sensor_version: u32_field(buf, at::SENSOR_VERSION),
            threshold: u32_field(buf, at::THRESHOLD),
            level: level(at::LEVEL)?,
            unhealthy_starts: u32_field(buf, at::UNHEALTHY_STARTS),
            newest_offered: u32_field(buf, at::NEWEST_OFFERED),
            active_level: level(at::ACTIVE_LEVEL)?,
            watching: bool_field(buf, at::WATCHING)?,
            watched_events: u64_field(buf, at::WATCHED_EVENTS),
            health_events: u64_field(buf, at::HEALTH_EVENTS),
            health_seconds: u64_field(buf, at::HEALTH_SECONDS),
            refused_signature: u64_field(buf, at::REFUSED_SIGNATURE),
            refused_validation: u64_field(buf, at::REFUSED_VALIDATION),
            refused_policy: u64_field(buf, at::REFUSED_POLICY),
            refused_persistence: u64_field(buf, at::REFUSED_PERSISTENCE),
            start_fallbacks: u64_field(buf, at::START_FALLBACKS),
            promotions: u64_field(buf, at::PROMOTIONS),
            key_count,
            key_ids,
        })
    }

    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, IoctlError> {
        use trust_response as at;
        let out = emit_header(buf, Self::LEN, Self::LAYOUT_VERSION)?;
        put_u32(out, at::SIGNATURES_REQUIRED, u32::from(self.signatures_required));
        put_u32(out, at::PERSISTENT, u32::from(self.persistent));
        put_u32(out, at::RING, self.ring);
        put_u32(out, at::PIN, self.pin);
        put_u32(out, at::SENSOR_VERSION, self.sensor_version);
        put_u32(out, at::THRESHOLD, self.threshold);
        put_u32(out, at::LEVEL, self.level);
        put_u32(out, at::UNHEALTHY_STARTS, self.unhealthy_starts);
        put_u32(out, at::NEWEST_OFFERED, self.newest_offered);
        put_u32(out, at::ACTIVE_LEVEL, self.active_level);
        put_u32(out, at::WATCHING, u32::from(self.watching));
        put_u64(out, at::WATCHED_EVENTS, self.watched_events);
        put_u64(out, at::HEALTH_EVENTS, self.health_events);
        put_u64(out, at::HEALTH_SECONDS, self.health_seconds);
        put_u64(out, at::REFUSED_SIGNATURE, self.refused_signature);
        put_u64(out, at::REFUSED_VALIDATION, self.refused_validation);
        put_u64(out, at::REFUSED_POLICY, self.refused_policy);
        put_u64(out, at::REFUSED_PERSISTENCE, self.refused_persistence);
        put_u64(out, at::START_FALLBACKS, self.start_fallbacks);
        put_u64(out, at::PROMOTIONS, self.promotions);
        let used = usize::try_from(self.key_count).unwrap_or(usize::MAX).min(MAX_KEY_IDS);
        put_u32(out, at::TRUSTED_KEYS, u32::try_from(used).unwrap_or(0));
        let mut offset = at::KEY_IDS;
        for id in self.key_ids.iter().take(used) {
            let _ = bytes::put(out, offset, id);
            offset = offset.saturating_add(at::KEY_ID_LEN);
        }
        Ok(Self::LEN)
    }
}

impl Message for TrustResponse {
    const LEN: usize = trust_response::LEN;
    fn parse(buf: &[u8]) -> Result<Self, IoctlError> {
        TrustResponse::parse(buf)
    }
    fn emit(&self, buf: &mut [u8]) -> Result<usize, IoctlError> {
        TrustResponse::emit(self, buf)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::ioctl::STATUS_INVALID_PARAMETER;

    fn sample() -> TrustResponse {
        let mut key_ids = [[0u8; 8]; MAX_KEY_IDS];
        key_ids[0] = [1, 2, 3, 4, 5, 6, 7, 8];
        key_ids[1] = [9; 8];
        TrustResponse {
            signatures_required: true,
            persistent: true,
            ring: 2,
            pin: u32::MAX,
            sensor_version: 0x100,
            threshold: 2,
            level: 2,
            unhealthy_starts: 1,
            newest_offered: 12,
            active_level: 2,
            watching: true,
            watched_events: 10,
            health_events: 1000,
            health_seconds: 300,
            refused_signature: 1,
            refused_validation: 2,
            refused_policy: 3,
            refused_persistence: 4,
            start_fallbacks: 1,
            promotions: 5,
            key_count: 2,
            key_ids,
        }
    }

    #[test]
    fn a_trust_response_round_trips_exactly() {
        let mut buf = [0xAAu8; TrustResponse::LEN];
        assert_eq!(sample().emit(&mut buf), Ok(TrustResponse::LEN));
        assert_eq!(TrustResponse::parse(&buf), Ok(sample()));
        assert_eq!(TrustResponse::parse(&buf).map(|t| t.keys().len()), Ok(2));
    }

    #[test]
    fn out_of_range_values_and_stray_key_bytes_are_refused_at_their_offset() {
        let mut buf = [0u8; TrustResponse::LEN];
        sample().emit(&mut buf).unwrap();
        let mut bad = buf;
        bad[trust_response::LEVEL] = 3;
        assert_eq!(TrustResponse::parse(&bad), Err(IoctlError::Value { offset: trust_response::LEVEL }));
        let mut bad = buf;
        bad[trust_response::TRUSTED_KEYS] = 17;
        assert_eq!(
            TrustResponse::parse(&bad),
            Err(IoctlError::Value { offset: trust_response::TRUSTED_KEYS })
        );
        let mut bad = buf;
        let third = trust_response::KEY_IDS + 2 * trust_response::KEY_ID_LEN;
        bad[third] = 1;
        assert_eq!(TrustResponse::parse(&bad), Err(IoctlError::Reserved { offset: third }));
        let mut bad = buf;
        bad[trust_response::WATCHING] = 2;
        assert_eq!(
            TrustResponse::parse(&bad).map_err(|e| e.status()),
            Err(STATUS_INVALID_PARAMETER),
            "a bool that is neither 0 nor 1"
        );
    }
}
