//! The enrichment stage of the event stream: for each decoded record, its
//! paths in DOS form, its users' account names, and its image file's identity
//! (hashes, PE version resource), from the machine's own sources.
//!
//! A READ batch is enriched in two passes: every file of the batch is asked
//! for first (a warm cache answers at once, the rest go to the workers), then
//! each event takes its answer, waiting until the batch's deadline at the
//! latest ([`EnrichConfig::wait`]); an event whose answer is late goes out
//! not enriched, with the reason, counted in [`StageCounts`].

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ringfence_wire::schema::field;
use ringfence_wire::{EventKind, Fields, Record};

use super::account::{Account, AccountLookup, AccountTable, Accounts};
use super::dos_path::{PathOrigin, VolumeMap};
use super::files::{FileConfig, FileEnrichment, FileIdentities, FileLookup, NotEnriched};
use super::process_guid::HostIdentity;
use super::sid::Sid;

/// What the machine says about itself: from Windows on Windows, from the
/// scenario in emulation.
pub struct Sources {
    /// The machine's stable identity, from which ProcessGuids and entity ids
    /// follow: `MachineGuid` on Windows, the scenario's in emulation; `None`:
    /// the host name in lower case stands in.
    pub host_identity: Option<String>,
    pub volumes: VolumeMap,
    pub accounts: Box<dyn AccountLookup>,
    /// Where the files that DOS paths name are read.
    pub files: FileLocation,
}

impl fmt::Debug for Sources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sources")
            .field("host_identity", &self.host_identity)
            .field("volumes", &self.volumes)
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl Default for Sources {
    /// The fixed rules only: `\??\C:\` paths convert, volumes do not; only
    /// well-known SIDs are named; files are opened by their DOS paths.
    fn default() -> Self {
        Sources {
            host_identity: None,
            volumes: VolumeMap::default(),
            accounts: Box::new(AccountTable::default()),
            files: FileLocation::Native,
        }
    }
}

impl Sources {
    /// This machine's device map (`QueryDosDevice`), account database
    /// (`LookupAccountSid`) and `MachineGuid`.
    #[cfg(windows)]
    pub fn this_machine() -> Result<Self, super::dos_path::VolumeMapError> {
        use super::windows;
        Ok(Sources {
            host_identity: windows::machine_guid(),
            volumes: windows::machine_volume_map()?,
            accounts: Box::new(windows::WindowsAccounts),
            files: FileLocation::Native,
        })
    }

    /// Off Windows there is no device map or account database to ask (and no
    /// driver to watch): the fixed rules and well-known SIDs only.
    #[cfg(not(windows))]
    pub fn this_machine() -> Result<Self, super::dos_path::VolumeMapError> {
        Ok(Sources::default())
    }
}

/// Where a DOS path's file is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileLocation {
    /// Opened by its DOS path, on the machine the events come from.
    Native,
    /// Read under this folder: `C:\a\b.dll` is `<root>/C/a/b.dll`, `\\server\share\x`
    /// `<root>/UNC/server/share/x` (an emulated machine's files on this one).
    Rooted(PathBuf),
}

impl FileLocation {
    /// The local path of a DOS path; `None` for a path that is not in DOS form.
    pub fn local(&self, dos: &str) -> Option<PathBuf> {
        match self {
            FileLocation::Native => Some(PathBuf::from(dos)),
            FileLocation::Rooted(root) => {
                let (head, rest) = if let Some(unc) = dos.strip_prefix(r"\\") {
                    ("UNC".to_owned(), unc)
                } else {
                    let (drive, rest) = dos.split_once(':')?;
                    let letter =
                        drive.chars().next().filter(|c| c.is_ascii_alphabetic() && drive.len() == 1)?;
                    (letter.to_ascii_uppercase().to_string(), rest)
                };
                let mut path = root.join(head);
                // `..` and `.` components are not followed out of the root.
                for part in rest.split('\\').filter(|p| !p.is_empty() && *p != "." && *p != "..") {
                    path.push(part);
                }
                Some(path)
            }
        }
    }
}

/// How much the stage does and waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnrichConfig {
    /// Image files' identities; `None`: not computed (no hashes, no PE fields).
    pub files: Option<FileConfig>,
    /// The longest a READ batch waits for its files and accounts.
    pub wait: Duration,
    /// Accounts remembered (least recently used forgotten first).
    pub account_cache: usize,
    /// SIDs waiting for a lookup; more are refused (the SID stands in).
    pub account_queue: usize,
}

impl Default for EnrichConfig {
    /// File identities with SHA256 and the default bounds, 100 ms per batch.
    fn default() -> Self {
        EnrichConfig {
            files: Some(FileConfig::default()),
            wait: Duration::from_millis(100),
            account_cache: 1024,
            account_queue: 64,
        }
    }
}

/// What the stage did since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StageCounts {
    /// Events whose image file's identity was asked for.
    pub files_asked: u64,
    /// Of those, events that went out without it because the answer was late
    /// (`timed_out`) or the workers' queue was full (`busy`).
    pub not_enriched: u64,
    pub timed_out: u64,
    pub busy: u64,
    /// Events whose file could not be read (gone, denied, too large, …).
    pub unreadable: u64,
    /// Events whose image path has no DOS form, so no file to read.
    pub no_dos_path: u64,
    /// Users left without a name (the SID stands in).
    pub users_unnamed: u64,
    /// Files waiting for a worker or being read now.
    pub backlog: u64,
}

/// A path as the kernel gave it and in DOS form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathForms {
    pub dos: Vec<u16>,
    /// Whether a rule or the volume map changed it (the NT form is then kept beside it).
    pub converted: bool,
    pub is_dos: bool,
}

/// What the stage added to one record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Enrichment {
    /// The event's own image: the new or exiting process's, or the loaded image.
    pub image: Option<PathForms>,
    /// An image load's loading process.
    pub process_image: Option<PathForms>,
    /// A process start's parent.
    pub parent_image: Option<PathForms>,
    pub user: Option<Account>,
    pub parent_user: Option<Account>,
    /// The identity of `image`'s file (process starts and image loads), when asked for.
    pub file: Option<FileEnrichment>,
}

/// The stage: sources, caches and workers.
#[derive(Debug)]
pub struct Enricher {
    volumes: VolumeMap,
    accounts: Accounts,
    files: Option<FileIdentities>,
    location: FileLocation,
    host: HostIdentity,
    wait: Duration,
    counts: StageCounts,
}

impl Enricher {
    /// Starts the workers of `config` over `sources`; `host_name` stands in
    /// for a missing host identity.
    pub fn new(config: EnrichConfig, sources: Sources, host_name: &str) -> std::io::Result<Self> {
        let host = sources
            .host_identity
            .as_deref()
            .map_or_else(|| HostIdentity::from_host_name(host_name), HostIdentity::new);
        let accounts = Accounts::new(sources.accounts, config.account_cache, config.account_queue)?;
        let files = config.files.map(FileIdentities::new).transpose()?;
        Ok(Enricher {
            volumes: sources.volumes,
            accounts,
            files,
            location: sources.files,
            host,
            wait: config.wait,
            counts: StageCounts::default(),
        })
    }

    /// The machine's volume map: what the driver is handed, and what paths convert with here.
    pub fn volumes(&self) -> &VolumeMap {
        &self.volumes
    }

    pub fn host(&self) -> HostIdentity {
        self.host
    }

    /// The counters, with the current backlog.
    pub fn counts(&self) -> StageCounts {
        let backlog = self.files.as_ref().map_or(0, |f| f.in_flight() as u64);
        StageCounts { backlog, ..self.counts }
    }

    /// Enriches the records of one READ batch, in order.
    pub fn enrich_batch(&mut self, records: &[Record<'_>]) -> Vec<Enrichment> {
        let deadline = Instant::now().checked_add(self.wait).unwrap_or_else(Instant::now);
        let mut enrichments: Vec<Enrichment> =
            records.iter().map(|r| self.paths_and_users(r, deadline)).collect();
        let Some(files) = &self.files else { return enrichments };
        let mut batch = files.batch();
        // First pass: ask for every file, so that the workers read them side by side.
        let lookups: Vec<Option<Result<FileLookup, NotEnriched>>> = records
            .iter()
            .zip(&enrichments)
            .map(|(record, e)| {
                let image = e.image.as_ref().filter(|_| has_file_identity(record.kind()))?;
                Some(
                    local_path(&self.location, image)
                        .map(|p| batch.request(&p))
                        .ok_or(NotEnriched::NoDosPath),
                )
            })
            .collect();
        // Second pass: take each answer, waiting until the deadline at the latest.
        for (enrichment, lookup) in enrichments.iter_mut().zip(lookups) {
            let Some(lookup) = lookup else { continue };
            self.counts.files_asked = self.counts.files_asked.saturating_add(1);
            let file = match lookup {
                Ok(lookup) => files.resolve(lookup, deadline),
                Err(why) => FileEnrichment::NotEnriched(why),
            };
            count_file(&mut self.counts, &file);
            enrichment.file = Some(file);
        }
        drop(batch);
        enrichments
    }

    fn paths_and_users(&mut self, record: &Record<'_>, deadline: Instant) -> Enrichment {
        let path = |i: u8| {
            record.field(i).and_then(|v| v.as_text()).map(|t| self.dos(&t.units().collect::<Vec<_>>()))
        };
        let sid = |i: u8| {
            record
                .field(i)
                .and_then(|v| v.as_text())
                .map(|t| String::from_utf16_lossy(&t.units().collect::<Vec<_>>()))
        };
        let (image, process_image, parent_image, user, parent_user) = match record.kind() {
            EventKind::ProcessStart => {
                use field::ProcessStart as F;
                (
                    path(F::image_path as u8),
                    None,
                    path(F::parent_image_path as u8),
                    sid(F::user_sid as u8),
                    sid(F::parent_user_sid as u8),
                )
            }
            EventKind::ProcessExit => {
                use field::ProcessExit as F;
                (path(F::image_path as u8), None, None, sid(F::user_sid as u8), None)
            }
            EventKind::ImageLoad => {
                use field::ImageLoad as F;
                (
                    path(F::image_path as u8),
                    path(F::process_image_path as u8),
                    None,
                    sid(F::user_sid as u8),
                    None,
                )
            }
            EventKind::LostEvents | EventKind::ContentChanged => return Enrichment::default(),
        };
        let user = user.and_then(|s| self.account(&s, deadline));
        let parent_user = parent_user.and_then(|s| self.account(&s, deadline));
        Enrichment { image, process_image, parent_image, user, parent_user, file: None }
    }

    fn dos(&self, nt: &[u16]) -> PathForms {
        let converted = self.volumes.to_dos(nt);
        let changed = !matches!(converted.origin, PathOrigin::AlreadyDos | PathOrigin::UnknownDevice);
        PathForms { is_dos: converted.is_dos(), dos: converted.path, converted: changed }
    }

    /// A malformed SID (not one the driver writes) gets no account.
    fn account(&mut self, text: &str, deadline: Instant) -> Option<Account> {
        let sid: Sid = text.parse().ok()?;
        let account = self.accounts.resolve(&sid, deadline);
        if matches!(account, Account::Unnamed { .. }) {
            self.counts.users_unnamed = self.counts.users_unnamed.saturating_add(1);
        }
        Some(account)
    }
}

/// Events whose image file is identified: Sysmon's events 1 and 7 carry it.
fn has_file_identity(kind: EventKind) -> bool {
    matches!(kind, EventKind::ProcessStart | EventKind::ImageLoad)
}

/// The local path of `path`'s file; `None` when it has no DOS form.
fn local_path(location: &FileLocation, path: &PathForms) -> Option<PathBuf> {
    if !path.is_dos {
        return None;
    }
    #[cfg(windows)]
    if *location == FileLocation::Native {
        // Exact, even for a name holding an unpaired surrogate.
        use std::os::windows::ffi::OsStringExt;
        return Some(PathBuf::from(std::ffi::OsString::from_wide(&path.dos)));
    }
    location.local(&String::from_utf16_lossy(&path.dos))
}

fn count_file(counts: &mut StageCounts, file: &FileEnrichment) {
    let add = |n: &mut u64| *n = n.saturating_add(1);
    match file {
        FileEnrichment::NotEnriched(NotEnriched::TimedOut) => {
            add(&mut counts.timed_out);
            add(&mut counts.not_enriched);
        }
        FileEnrichment::NotEnriched(NotEnriched::Busy) => {
            add(&mut counts.busy);
            add(&mut counts.not_enriched);
        }
        FileEnrichment::NotEnriched(NotEnriched::NoDosPath) => add(&mut counts.no_dos_path),
        FileEnrichment::Done(outcome) => {
            if outcome.is_err() {
                add(&mut counts.unreadable);
            }
        }
    }
}
