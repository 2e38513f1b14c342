//! How content becomes active: restored at start, offered through
//! `LOAD_CONTENT`, and concluded once it has run healthily. Every path admits
//! with the same code ([`crate::admission`]) and persists through the guard
//! ([`crate::guard`]); every outcome is a `ContentChanged` record.

use super::Sensor;
use crate::admission::{Refusal, TrustSettings, admit};
use crate::content_slot::ContentSlot;
use crate::guard::{Conclusion, Guard, StartRecord};
use crate::health::HealthCriteria;
use crate::platform::{Guard as _, Platform};
use crate::processes::ProcessTable;
use crate::queue::Queue;
use ringfence_trust::{KeyId, Level, Pin, Reason, SignaturePolicy};
use ringfence_wire::ioctl::{MAX_KEY_IDS, Notes, TrustResponse};
use ringfence_wire::schema::Event;

/// The content-trust side of the sensor, behind its own lock.
#[derive(Debug)]
pub struct Trust<S> {
    settings: TrustSettings,
    guard: Guard<S>,
    notes: Notes,
    refused: Refusals,
    start_fallbacks: u64,
}

impl<S> Default for Trust<S> {
    fn default() -> Self {
        Trust {
            settings: TrustSettings::default(),
            guard: Guard::default(),
            notes: Notes::NONE,
            refused: Refusals::default(),
            start_fallbacks: 0,
        }
    }
}

/// Refused loads by the stage that refused them.
#[derive(Clone, Copy, Debug, Default)]
struct Refusals {
    signature: u64,
    validation: u64,
    policy: u64,
    persistence: u64,
}

impl Refusals {
    fn count(&mut self, refusal: &Refusal) {
        let counter = match refusal {
            Refusal::Validation(_) | Refusal::Validation2(_) => &mut self.validation,
            Refusal::Trust(Reason::Auth(_)) => &mut self.signature,
            Refusal::Trust(Reason::Policy(_)) => &mut self.policy,
            Refusal::Trust(_) => &mut self.persistence,
        };
        *counter = counter.saturating_add(1);
    }
}

impl<S> Trust<S> {
    /// What STATS reports about trust: fallbacks at start, bad parameters.
    pub fn notes(&self) -> Notes {
        self.notes
    }
}

/// What a `LOAD_CONTENT` came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offered {
    /// Admitted, persisted as the trial, and active.
    Accepted { version: u32 },
    /// Refused at some stage; nothing changed but the counters (and, for N−1, the newest version offered).
    Refused { declared_version: u32, refusal: Refusal },
    /// No pool for a copy of the content; nothing changed.
    OutOfPool,
}

/// How the sensor was configured at DriverEntry.
#[derive(Debug)]
pub struct StartSettings<S> {
    pub trust: TrustSettings,
    /// `None`: persistence is unavailable (the directory could not be prepared).
    pub store: Option<S>,
    pub threshold: u32,
    pub health: HealthCriteria,
    /// Notes from reading the trust parameters.
    pub notes: Notes,
}

impl<P: Platform> Sensor<P> {
    /// A sensor that restores its persisted content ([`Sensor::restore`]).
    pub fn start(
        queue: Queue,
        processes: ProcessTable,
        notes: Notes,
        settings: StartSettings<P::Store>,
    ) -> Self {
        let mut sensor = Sensor::new(queue, processes, notes);
        sensor.restore(settings);
        sensor
    }

    /// DriverEntry: takes the trust settings and restores the persisted content through the
    /// guard, in place (the sensor is already where it will live: nothing large is moved),
    /// before any callback is registered; reports what it restored or refused. Its own
    /// frame, so that its locals and the signature check's never stack on DriverEntry's.
    #[inline(never)]
    pub fn restore(&mut self, settings: StartSettings<P::Store>) {
        let (guard, mut restored) = Guard::start(settings.store, &settings.trust, settings.threshold);
        let fallbacks = restored.records().filter(|r| !r.accepted).count();
        let fallbacks = u64::try_from(fallbacks).unwrap_or(u64::MAX);
        let mut trust_notes = settings.notes;
        if fallbacks > 0 {
            trust_notes = trust_notes.union(Notes::CONTENT_FALLBACK);
        }
        self.trust.write(|trust| {
            *trust = Trust {
                settings: settings.trust,
                guard,
                notes: trust_notes,
                refused: Refusals::default(),
                start_fallbacks: fallbacks,
            };
        });
        self.health = crate::health::TrialWatch::new(settings.health);
        if let Some(content) = restored.content.take() {
            self.install(content);
            self.health.watch(P::now());
        }
        let active_version = self.content_version();
        for record in restored.records() {
            self.report_content(record, active_version);
        }
    }

    fn report_content(&self, record: &StartRecord, active_version: u32) {
        self.report(&Event::ContentChanged {
            accepted: record.accepted,
            content_version: record.content_version,
            active_version,
            reason: record.refusal.code(),
            offset: record.refusal.offset(),
        });
    }

    /// `LOAD_CONTENT`: admit (signature → validation → policy), copy to pool, persist as the
    /// trial, install. The caller reports the outcome.
    pub fn offer(&self, bytes: &[u8]) -> Offered {
        self.trust.write(|trust| {
            let admission = admit(bytes, &trust.settings, trust.guard.state().newest_offered);
            let admitted = match admission.verdict {
                Ok(admitted) => admitted,
                Err(refused) => {
                    trust.guard.remember_offer(admission.newest_offered);
                    trust.refused.count(&refused.refusal);
                    self.count_rejected();
                    let declared_version = refused.declared_version;
                    return Offered::Refused { declared_version, refusal: refused.refusal };
                }
            };
            let Ok(accepted) = admitted.into_owned() else { return Offered::OutOfPool };
            if let Err(reason) =
                trust.guard.persist_trial(accepted.persisted_bytes(), admission.newest_offered)
            {
                let refusal = Refusal::Trust(reason);
                trust.refused.count(&refusal);
                self.count_rejected();
                return Offered::Refused { declared_version: accepted.version(), refusal };
            }
            let version = self.install(accepted);
            if trust.guard.persistent() {
                self.health.watch(P::now());
            } else {
                self.health.stop();
            }
            Offered::Accepted { version }
        })
    }

    /// Whether active content became healthy and waits for [`Sensor::conclude`] (one load).
    pub fn health_is_due(&self) -> bool {
        self.health.is_due()
    }

    /// The generation of active content that just became healthy, once: whoever takes it
    /// must call [`Sensor::conclude`] at PASSIVE_LEVEL outside any callback.
    pub fn health_due(&self) -> Option<u64> {
        self.health.take_due()
    }

    /// Concludes the trial of `generation` if it is still the active content: promotes it to
    /// last-known-good (reported as a `ContentChanged` record) or clears the start count.
    pub fn conclude(&self, generation: u64) -> Conclusion {
        self.trust.write(|trust| {
            if self.health.generation() != generation {
                return Conclusion::Nothing;
            }
            let conclusion = self.content.read(|slot| trust.guard.conclude(slot.active()));
            if let Conclusion::Promoted { version } = conclusion {
                self.content.write(ContentSlot::mark_last_known_good);
                let promoted = StartRecord {
                    accepted: true,
                    content_version: version,
                    refusal: Refusal::Trust(Reason::Promoted),
                };
                self.report_content(&promoted, version);
            }
            conclusion
        })
    }

    /// `TRUST`: the policy, the guard and the counters.
    pub fn trust_report(&self) -> TrustResponse {
        let (watching, watched_events) = self.health.progress();
        let criteria = self.health.criteria();
        let active_level = self.content.read(|slot| slot.active().map_or(Level::Nothing, |a| a.level()));
        self.trust.read(|trust| {
            let policy = trust.settings.policy;
            let state = trust.guard.state();
            let mut key_ids = [[0u8; 8]; MAX_KEY_IDS];
            for (slot, (key, _)) in key_ids.iter_mut().zip(trust.settings.keys.iter()) {
                *slot = KeyId::of(key).0;
            }
            let key_count = trust.settings.keys.len().min(MAX_KEY_IDS);
            TrustResponse {
                signatures_required: policy.signatures == SignaturePolicy::Required,
                persistent: trust.guard.persistent(),
                ring: policy.ring,
                pin: Pin::to_dword(policy.pin),
                sensor_version: policy.sensor_version,
                threshold: trust.guard.threshold(),
                level: state.level as u32,
                unhealthy_starts: state.unhealthy_starts,
                newest_offered: state.newest_offered,
                active_level: active_level as u32,
                watching,
                watched_events,
                health_events: criteria.events,
                health_seconds: criteria.seconds,
                refused_signature: trust.refused.signature,
                refused_validation: trust.refused.validation,
                refused_policy: trust.refused.policy,
                refused_persistence: trust.refused.persistence,
                start_fallbacks: trust.start_fallbacks,
                promotions: trust.guard.promotions(),
                key_count: u32::try_from(key_count).unwrap_or(0),
                key_ids,
            }
        })
    }
}
