//! Signed content: `content keygen | sign | verify`, `content compile --sign`, and what a
//! sensor will make of a file before it is pushed (its policy comes from the TRUST request).
//!
//! Key files are text: the secret key file holds the 32-byte Ed25519 seed as 64 hex digits
//! (created readable by its owner only where the platform allows), the `.pub` file beside it
//! the public key, also in hex: the form `RINGFENCE_TRUSTED_KEYS` takes at build time, and
//! what `Install-Ringfence.ps1 -TrustedKey` writes to `Parameters\TrustedKeys`.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use ringfence_content::{ValidationError, validate};
use ringfence_trust::envelope::{self, Declaration};
use ringfence_trust::keys::{KeyErrorKind, parse_hex_key};
use ringfence_trust::reason::{RingName, SensorVersion};
use ringfence_trust::signature::sign_in_place;
use ringfence_trust::{
    AuthError, Envelope, KeyId, KeySource, Pin, Policy, RING_GENERAL, Reason, SignatureError,
    SignaturePolicy, SigningKey, TrustedKeys, decide,
};
use ringfence_wire::SCHEMA;
use ringfence_wire::ioctl::TrustResponse;

use crate::commands::{Failure, read_file};

/// Why a key file is not usable.
#[derive(Debug)]
pub enum KeyFileError {
    /// Not 64 hex digits (what is wrong, as the key parser says).
    Malformed(KeyErrorKind),
    /// The all-zero seed: no generator produces it.
    ZeroSeed,
    /// Refusing to overwrite an existing key.
    Exists,
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileError::Malformed(KeyErrorKind::NotHex { at }) => {
                write!(f, "character {at} is not a hex digit")
            }
            KeyFileError::Malformed(KeyErrorKind::WrongLength { len }) => {
                write!(f, "it holds {len} bytes, a key is 32 (64 hex digits)")
            }
            KeyFileError::Malformed(KeyErrorKind::NotAPoint | KeyErrorKind::WeakKey) => {
                f.write_str("it is not a usable Ed25519 public key")
            }
            KeyFileError::Malformed(other) => write!(f, "{other:?}"),
            KeyFileError::ZeroSeed => f.write_str("the all-zero seed is not a key"),
            KeyFileError::Exists => f.write_str("it already exists; keys are never overwritten"),
        }
    }
}

/// Why content would be (or was) refused: the validator's reason or a trust reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Validation(ValidationError),
    /// Format 2's validator's reason.
    Validation2(ringfence_content::v2::ValidationError),
    Trust(Reason),
}

/// The version of valid content of either format (the header's format version picks the
/// validator, as the driver's LOAD_CONTENT does), or the validator's reason.
pub fn content_version(bytes: &[u8]) -> Result<u32, Refusal> {
    if crate::content2_cmd::is_format2(bytes) {
        let content = ringfence_content::v2::validate(bytes, &SCHEMA).map_err(Refusal::Validation2)?;
        return Ok(content.content_version());
    }
    validate(bytes, &SCHEMA).map(|c| c.version()).map_err(Refusal::Validation)
}

impl Refusal {
    /// The failure of `path` whose content this refusal judged invalid.
    fn invalid(self, path: &Path) -> Failure {
        match self {
            Refusal::Validation(error) => Failure::Invalid { path: path.to_owned(), error },
            Refusal::Validation2(error) => Failure::Invalid2 { path: path.to_owned(), error },
            Refusal::Trust(_) => Failure::Refused { path: path.to_owned(), refusal: self },
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Validation(e) => write!(f, "the content is invalid: {e}"),
            Refusal::Validation2(e) => write!(f, "the content is invalid: {e}"),
            Refusal::Trust(r) => r.fmt(f),
        }
    }
}

/// What to do about a refusal, in plain words.
pub fn advice(refusal: &Refusal) -> &'static str {
    use ringfence_trust::PolicyRefusal as P;
    match refusal {
        Refusal::Validation(_) | Refusal::Validation2(_) => "fix the content and push again",
        Refusal::Trust(Reason::Auth(AuthError::Unsigned)) => {
            "sign it with `ringfence content sign --key KEY` (or, on a test machine only, set \
             Parameters\\RequireSignedContent to 0)"
        }
        Refusal::Trust(Reason::Auth(AuthError::Signature(SignatureError::UntrustedSigner { .. }))) => {
            "sign it with a key the sensor trusts, or provision this key in Parameters\\TrustedKeys"
        }
        Refusal::Trust(Reason::Auth(_)) => "the file was damaged or altered: sign the content again",
        Refusal::Trust(Reason::Policy(P::RingNotReleased { .. })) => {
            "release it to this ring when the earlier rings are healthy (`ringfence content sign --ring`)"
        }
        Refusal::Trust(Reason::Policy(P::SensorVersion { .. })) => {
            "sign it for this driver version, or update the driver"
        }
        Refusal::Trust(Reason::Policy(P::Pinned { .. })) => {
            "push the pinned version, or change Parameters\\ContentPin"
        }
        Refusal::Trust(Reason::Policy(P::HeldBack { .. })) => {
            "this machine runs one version behind: push the version before the newest"
        }
        Refusal::Trust(Reason::Policy(P::VersionMismatch { .. })) => {
            "sign the content again: the envelope is wrong"
        }
        Refusal::Trust(Reason::NotPersisted { .. }) => {
            "the driver could not save the content (disk full or protected?); nothing changed, try again"
        }
        Refusal::Trust(_) => "see docs/windows.md, \"Recovering from a content crash loop\"",
    }
}

/// What content declares in its envelope: `--ring`, `--sensor-min`, `--sensor-max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Release {
    pub ring: u32,
    pub sensor_min: u32,
    pub sensor_max: u32,
}

impl Default for Release {
    fn default() -> Self {
        Release { ring: RING_GENERAL, sensor_min: 0, sensor_max: u32::MAX }
    }
}

/// `general` or a number.
pub fn parse_ring(text: &str) -> Result<u32, String> {
    if text.eq_ignore_ascii_case("general") {
        return Ok(RING_GENERAL);
    }
    text.parse().map_err(|_| format!("`{text}` is neither a ring number nor `general`"))
}

/// `major.minor.patch` (each 0–255; major up to 65535) in the driver-version encoding.
pub fn parse_sensor_version(text: &str) -> Result<u32, String> {
    let parts: Vec<&str> = text.split('.').collect();
    let bad = || format!("`{text}` is not a version like 0.1.0");
    let [major, minor, patch] = parts.as_slice() else { return Err(bad()) };
    let major: u32 = major.parse().ok().filter(|m| *m <= 0xFFFF).ok_or_else(bad)?;
    let minor: u32 = minor.parse().ok().filter(|m| *m <= 0xFF).ok_or_else(bad)?;
    let patch: u32 = patch.parse().ok().filter(|m| *m <= 0xFF).ok_or_else(bad)?;
    Ok((major << 16) | (minor << 8) | patch)
}

fn key_failure(path: &Path, error: KeyFileError) -> Failure {
    Failure::KeyFile { path: path.to_owned(), error }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `.pub` file beside a secret key file.
pub fn public_path(secret: &Path) -> PathBuf {
    let mut name = secret.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

fn write_new(path: &Path, text: &str, secret: bool) -> Result<(), Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::AlreadyExists => key_failure(path, KeyFileError::Exists),
        _ => Failure::WriteFile { path: path.to_owned(), error },
    })?;
    file.write_all(text.as_bytes()).map_err(|error| Failure::WriteFile { path: path.to_owned(), error })
}

/// `content keygen KEY`: a new key pair; the secret in KEY, the public key in KEY.pub.
pub fn content_keygen<W: Write + ?Sized>(secret: &Path, out: &mut W) -> Result<(), Failure> {
    let seed = ed25519_compact::Seed::generate();
    let key = SigningKey::from_seed(*seed).map_err(|_| key_failure(secret, KeyFileError::ZeroSeed))?;
    let public = public_path(secret);
    write_new(secret, &format!("{}\n", hex(&key.seed())), true)?;
    write_new(&public, &format!("{}\n", hex(&key.public_key())), false)?;
    writeln!(
        out,
        "secret key written to {} (keep it offline; it signs content every sensor trusting it will load)\n\
         public key {} (key id {}) written to {}\n\
         trust it: Parameters\\TrustedKeys (REG_BINARY, Install-Ringfence.ps1 -TrustedKey {}), or build \
         with RINGFENCE_TRUSTED_KEYS={}",
        secret.display(),
        hex(&key.public_key()),
        KeyId::of(&key.public_key()),
        public.display(),
        public.display(),
        hex(&key.public_key())
    )?;
    Ok(())
}

/// Reads a secret key file.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, Failure> {
    let text = String::from_utf8_lossy(&read_file(path)?).into_owned();
    let seed = parse_hex_key(text.trim()).map_err(|e| key_failure(path, KeyFileError::Malformed(e)))?;
    SigningKey::from_seed(seed).map_err(|_| key_failure(path, KeyFileError::ZeroSeed))
}

/// Reads a public key file (or a secret key file, whose public key it derives).
pub fn read_public_key(path: &Path) -> Result<[u8; 32], Failure> {
    let text = String::from_utf8_lossy(&read_file(path)?).into_owned();
    let key = parse_hex_key(text.trim()).map_err(|e| key_failure(path, KeyFileError::Malformed(e)))?;
    ringfence_trust::keys::check_key(&key).map_err(|e| key_failure(path, KeyFileError::Malformed(e)))?;
    Ok(key)
}

/// Seals valid content: the envelope declares `release` and the content's own version.
pub fn seal(path: &Path, content: &[u8], key: &SigningKey, release: Release) -> Result<Vec<u8>, Failure> {
    let version = content_version(content).map_err(|r| r.invalid(path))?;
    let declaration = Declaration {
        signer: key.public_key(),
        ring: release.ring,
        sensor_min: release.sensor_min,
        sensor_max: release.sensor_max,
        content_version: version,
    };
    let len = envelope::envelope_len(content.len())
        .ok_or(Failure::Client(crate::ClientError::ContentTooLarge { len: content.len() }))?;
    let mut sealed = vec![0u8; len];
    envelope::emit(&declaration, content, &mut sealed)
        .map_err(|_| Failure::Sealing { path: path.to_owned() })?;
    if !sign_in_place(&mut sealed, key) {
        return Err(Failure::Sealing { path: path.to_owned() });
    }
    Ok(sealed)
}

/// `content sign CONTENT --key KEY -o OUT`.
pub fn content_sign<W: Write + ?Sized>(
    content: &Path,
    key: &Path,
    output: &Path,
    release: Release,
    out: &mut W,
) -> Result<(), Failure> {
    let bytes = read_file(content)?;
    if envelope::is_envelope(&bytes) {
        return Err(Failure::AlreadySigned { path: content.to_owned() });
    }
    let key = read_signing_key(key)?;
    let sealed = seal(content, &bytes, &key, release)?;
    std::fs::write(output, &sealed).map_err(|error| Failure::WriteFile { path: output.to_owned(), error })?;
    let d = Envelope::new_checked(&sealed)
        .map(|e| e.declaration())
        .map_err(|_| Failure::Sealing { path: output.to_owned() })?;
    writeln!(out, "{}: signed, {} bytes written to {}", content.display(), sealed.len(), output.display())?;
    describe(&d, out)
}

fn describe<W: Write + ?Sized>(d: &Declaration, out: &mut W) -> Result<(), Failure> {
    let max =
        if d.sensor_max == u32::MAX { "any".to_owned() } else { SensorVersion(d.sensor_max).to_string() };
    writeln!(
        out,
        "  content version {}, released to ring {}, driver versions {} to {}, signed by key {}",
        d.content_version,
        RingName(d.ring),
        SensorVersion(d.sensor_min),
        max,
        KeyId::of(&d.signer)
    )?;
    Ok(())
}

/// `content verify FILE [--key PUB]...`: the envelope, its signature (against the given
/// keys, or only against the key it names), and the content inside.
pub fn content_verify<W: Write + ?Sized>(path: &Path, keys: &[PathBuf], out: &mut W) -> Result<(), Failure> {
    let bytes = read_file(path)?;
    let refuse = |refusal| Failure::Refused { path: path.to_owned(), refusal };
    let envelope = Envelope::new_checked(&bytes).map_err(|e| {
        refuse(Refusal::Trust(Reason::Auth(if envelope::is_envelope(&bytes) {
            AuthError::Envelope(e)
        } else {
            AuthError::Unsigned
        })))
    })?;
    let declaration = envelope.declaration();
    let mut trusted = TrustedKeys::new();
    for key in keys {
        let public = read_public_key(key)?;
        trusted
            .add(public, KeySource::Provisioned)
            .map_err(|e| key_failure(key, KeyFileError::Malformed(e)))?;
    }
    let checked_against = if keys.is_empty() {
        // Only the signature's own soundness: the key it names is not vouched for.
        trusted.add(declaration.signer, KeySource::Provisioned).ok();
        "the key it names (pass --key to check it against keys you trust)"
    } else {
        "the given keys"
    };
    ringfence_trust::verify(&envelope, &trusted)
        .map_err(|e| refuse(Refusal::Trust(Reason::Auth(AuthError::Signature(e)))))?;
    let version = content_version(envelope.content()).map_err(refuse)?;
    if version != declaration.content_version {
        let mismatch = ringfence_trust::PolicyRefusal::VersionMismatch {
            declared: declaration.content_version,
            content: version,
        };
        return Err(refuse(Refusal::Trust(Reason::Policy(mismatch))));
    }
    writeln!(out, "{}: signature valid against {checked_against}; content valid", path.display())?;
    describe(&declaration, out)
}

/// What a sensor with this TRUST answer will make of `bytes`: the version it takes, or why not.
/// The sensor's trusted keys are known by id only; a signer whose id matches is checked
/// with the key the envelope names, as the sensor will check it.
pub fn predict(trust: &TrustResponse, bytes: &[u8]) -> Result<u32, Refusal> {
    let mut keys = TrustedKeys::new();
    if let Ok(e) = Envelope::new_checked(bytes) {
        let signer = e.declaration().signer;
        if trust.keys().iter().any(|id| *id == KeyId::of(&signer).0) {
            let _ = keys.add(signer, KeySource::Provisioned);
        }
    }
    let signatures =
        if trust.signatures_required { SignaturePolicy::Required } else { SignaturePolicy::AcceptUnsigned };
    let authentic = ringfence_trust::authenticate(bytes, &keys, signatures).map_err(|e| {
        // The sensor reports how many keys it trusts; the prediction holds at most one.
        match e {
            AuthError::Signature(SignatureError::UntrustedSigner { key, .. }) => {
                Refusal::Trust(Reason::Auth(AuthError::Signature(SignatureError::UntrustedSigner {
                    key,
                    trusted: trust.key_count,
                })))
            }
            other => Refusal::Trust(Reason::Auth(other)),
        }
    })?;
    let version = content_version(authentic.content)?;
    let policy = Policy {
        signatures,
        ring: trust.ring,
        pin: Pin::from_dword(trust.pin),
        sensor_version: trust.sensor_version,
    };
    decide(&policy, authentic.declaration.as_ref(), version, trust.newest_offered)
        .verdict
        .map_err(|r| Refusal::Trust(Reason::Policy(r)))?;
    Ok(version)
}

/// The sensor's policy, one line each.
pub fn describe_policy<W: Write + ?Sized>(trust: &TrustResponse, out: &mut W) -> std::io::Result<()> {
    let signatures =
        if trust.signatures_required { "signed content only" } else { "unsigned content accepted" };
    let keys: Vec<String> = trust.keys().iter().map(|id| KeyId(*id).to_string()).collect();
    let pin = match Pin::from_dword(trust.pin) {
        Pin::Follow => "none (the newest pushed wins)".to_owned(),
        Pin::Previous => format!("N-1 (older than {}, the newest offered)", trust.newest_offered),
        Pin::Version(v) => format!("version {v}"),
    };
    writeln!(
        out,
        "policy           {signatures}; trusted keys: {}",
        if keys.is_empty() { "none".to_owned() } else { keys.join(", ") }
    )?;
    writeln!(
        out,
        "ring             {}; pin {pin}; driver {}",
        RingName(trust.ring),
        SensorVersion(trust.sensor_version)
    )?;
    Ok(())
}
