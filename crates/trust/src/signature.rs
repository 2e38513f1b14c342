//! Ed25519 (RFC 8032) over the envelope, with `ed25519-compact`.
//!
//! Why that crate: pure Rust with no dependencies at all (no SIMD backend to
//! select, so nothing touches AVX state in a kernel that has not saved it; no
//! allocation; no randomness to verify), `no_std`, maintained by the author of
//! libsodium, and strict: it refuses a non-canonical `S`, a signer key or an
//! `R` that is not a canonical point or has small order, so one message has one
//! valid signature per key.
//!
//! Bounded: verification hashes the signed bytes once (SHA-512, linear in the
//! envelope, which the caller bounds) and then does a fixed amount of curve
//! arithmetic; it allocates nothing and uses a few KiB of stack.
//!
//! Panic paths: [`verify`] is outside the link-time no-panic proof, because
//! `ed25519-compact` 2.6 keeps bounds checks the optimiser cannot remove. They
//! were read off the release build's code (each call to a slice or index
//! failure routine in the verification path), and each is unreachable by an
//! invariant of the crate's own code:
//! - `sha512::State::blocks`: `&input[128..]` and the 8-byte reads in
//!   `load_be`, inside `while inlen >= 128`, where `inlen` starts as
//!   `input.len()` and both shrink by 128 together;
//! - `sha512::Hash::finalize`: `w[..r]`, `padded[..r]` and `padded[r]`, where
//!   `r`, the count of buffered bytes, is only ever set below 128 by `update`
//!   (the partial block it keeps, or the remainder `blocks` returns);
//! - `edwards25519::GeP2::slide`: `a[i >> 3]` with `i < 256` on 32-byte
//!   scalars, and `r[i + b]` with `b < min(7, 256 - i)`;
//! - `edwards25519::GeP2::double_scalarmult_vartime`: `ai[|s| / 2]` and
//!   `BI[|s| / 2]` (8 entries each) indexed by `slide` digits, which `slide`
//!   keeps odd and within −15..=15, so the index is at most 7.
//!
//! The key check ([`crate::keys::check_key`]: point decoding, small-order
//! test) is in the proof, through `TrustedKeys::add_blob`; verification is
//! fuzzed (`fuzz/fuzz_targets/envelope.rs`) and tested with every byte of an
//! envelope flipped.

use crate::envelope::{Declaration, Envelope, PUBLIC_KEY_LEN, layout};
use crate::keys::{KeyId, TrustedKeys};

/// Why a signature did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// The signer's key is not one the sensor trusts.
    UntrustedSigner { key: KeyId, trusted: u32 },
    /// The signature is not well-formed: `S` is not canonical or `R` is not a
    /// usable point (the signer key was checked when it was trusted).
    Malformed,
    /// Well-formed, but not a signature of these bytes by this key.
    Mismatch,
}

/// An envelope whose signature verified against a trusted key.
#[derive(Clone, Copy, Debug)]
pub struct Verified<'a> {
    pub declaration: Declaration,
    pub content: &'a [u8],
}

/// Checks the signer against `trusted`, then the signature over the header and content.
pub fn verify<'a>(envelope: &Envelope<'a>, trusted: &TrustedKeys) -> Result<Verified<'a>, SignatureError> {
    let declaration = envelope.declaration();
    if !trusted.contains(&declaration.signer) {
        let count = u32::try_from(trusted.len()).unwrap_or(u32::MAX);
        return Err(SignatureError::UntrustedSigner { key: KeyId::of(&declaration.signer), trusted: count });
    }
    let mut state = begin(&declaration.signer, &envelope.signature())?;
    state.absorb(envelope.signed_bytes());
    finish(&state)?;
    Ok(Verified { declaration, content: envelope.content() })
}

// The two halves of verification in frames of their own, so that their temporaries are
// never live at once: this runs in DriverEntry and in IOCTL dispatch, on kernel stacks.
#[inline(never)]
fn begin(
    signer: &[u8; PUBLIC_KEY_LEN],
    signature: &[u8; layout::SIGNATURE_LEN],
) -> Result<ed25519_compact::VerifyingState, SignatureError> {
    let key = ed25519_compact::PublicKey::new(*signer);
    key.verify_incremental(&ed25519_compact::Signature::new(*signature))
        .map_err(|_| SignatureError::Malformed)
}

#[inline(never)]
fn finish(state: &ed25519_compact::VerifyingState) -> Result<(), SignatureError> {
    state.verify().map_err(|_| SignatureError::Mismatch)
}

/// A signing key: the 32-byte seed from which the key pair is derived (RFC 8032).
#[derive(Clone)]
pub struct SigningKey(ed25519_compact::KeyPair);

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SigningKey").field("public", &KeyId::of(&self.public_key())).finish_non_exhaustive()
    }
}

/// The all-zero seed, which no key generator produces and the signer refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZeroSeed;

impl SigningKey {
    pub fn from_seed(seed: [u8; 32]) -> Result<SigningKey, ZeroSeed> {
        let pair = ed25519_compact::KeyPair::try_from_seed(ed25519_compact::Seed::new(seed))
            .map_err(|_| ZeroSeed)?;
        Ok(SigningKey(pair))
    }

    pub fn seed(&self) -> [u8; 32] {
        *self.0.sk.seed()
    }

    pub fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        *self.0.pk
    }

    /// The deterministic Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; layout::SIGNATURE_LEN] {
        *self.0.sk.sign(message, None)
    }
}

/// Fills the signature slot of an envelope that [`crate::envelope::emit`]
/// wrote into `envelope` (exactly the envelope's bytes); `false` when the
/// buffer is too short to be one.
pub fn sign_in_place(envelope: &mut [u8], key: &SigningKey) -> bool {
    let Some(signed_len) = envelope.len().checked_sub(layout::SIGNATURE_LEN) else { return false };
    if signed_len < layout::HEADER_LEN {
        return false;
    }
    let (signed, slot) = envelope.split_at_mut(signed_len);
    slot.copy_from_slice(&key.sign(signed));
    true
}
