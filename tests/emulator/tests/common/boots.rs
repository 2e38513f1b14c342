//! Boots of the real driver over a persisted disk, content to push (signed or not), and
//! what the driver reported about content.

use ringfence_content::compile;
use ringfence_emulator::{Caller, Disk, Emulator, RegValue, Stop};
use ringfence_trust::RING_GENERAL;
use ringfence_trust::envelope::{self, Declaration};
use ringfence_trust::signature::{SigningKey, sign_in_place};
use ringfence_wire::SCHEMA;
use ringfence_wire::batch::Batch;
use ringfence_wire::ioctl::{
    Code, HelloRequest, HelloResponse, LoadContentResponse, StatsResponse, TrustResponse,
};
use ringfence_wire::schema::Event;

use super::sys::ringfence_sys;

/// Content of `version` with one include rule on process exits with that exit status.
pub fn content(version: u32) -> Vec<u8> {
    let rules = format!(
        "version = {version}\n[[rule]]\nname = \"v{version}\"\nkind = \"process_exit\"\naction = \"include\"\nmatch = [{{ field = \"exit_status\", equals = {version} }}]\n"
    );
    compile(&rules, &SCHEMA).expect("test rules compile")
}

pub fn signer() -> SigningKey {
    SigningKey::from_seed([0x5A; 32]).expect("a non-zero seed")
}

pub fn stranger() -> SigningKey {
    SigningKey::from_seed([0xA5; 32]).expect("a non-zero seed")
}

/// `bytes` sealed by `key`, declaring `ring` and every sensor version.
pub fn sealed_for(bytes: &[u8], version: u32, ring: u32, key: &SigningKey) -> Vec<u8> {
    let declaration = Declaration {
        signer: key.public_key(),
        ring,
        sensor_min: 0,
        sensor_max: u32::MAX,
        content_version: version,
    };
    seal(&declaration, bytes, key)
}

pub fn seal(declaration: &Declaration, bytes: &[u8], key: &SigningKey) -> Vec<u8> {
    let mut out = vec![0u8; envelope::envelope_len(bytes.len()).expect("fits")];
    envelope::emit(declaration, bytes, &mut out).expect("fits");
    assert!(sign_in_place(&mut out, key));
    out
}

/// `content(version)` signed by the test signer for every ring.
pub fn signed(version: u32) -> Vec<u8> {
    sealed_for(&content(version), version, RING_GENERAL, &signer())
}

/// The parameters that make the test signer trusted (and so signatures required).
pub fn trusting_signer() -> (&'static str, RegValue) {
    ("TrustedKeys", RegValue::Binary(signer().public_key().to_vec()))
}

/// A booted driver, its device open.
pub struct Booted {
    pub emu: Emulator,
    pub file: u64,
}

/// Boots the driver on `disk` with `parameters`; DriverEntry and the open must succeed.
pub fn boot(disk: &Disk, parameters: &[(&str, RegValue)]) -> Booted {
    let mut emu = boot_unopened(disk, parameters);
    let status = emu.driver_entry().unwrap_or_else(|s| panic!("DriverEntry stopped: {s}"));
    assert_eq!(status, 0, "DriverEntry succeeds");
    open(emu)
}

/// The driver on `disk`, DriverEntry not yet run.
pub fn boot_unopened(disk: &Disk, parameters: &[(&str, RegValue)]) -> Emulator {
    let mut emu = Emulator::boot(ringfence_sys(), disk).unwrap_or_else(|e| panic!("{e}"));
    emu.ioctl_layout = super::ioctl_layout();
    for (name, value) in parameters {
        emu.set_parameter(name, value.clone());
    }
    emu
}

pub fn open(mut emu: Emulator) -> Booted {
    let (status, file) = emu.open(Caller::Administrator, true, true).expect("IRP_MJ_CREATE returns");
    assert_eq!(status, 0, "an administrator opens the device");
    let file = file.expect("a file object");
    let mut request = [0u8; HelloRequest::LEN];
    HelloRequest::current().emit(&mut request).expect("fits");
    let r = emu.ioctl(file, Code::Hello as u32, &request, HelloResponse::LEN as u32).expect("HELLO returns");
    assert_eq!(r.status, 0);
    Booted { emu, file }
}

/// A `ContentChanged` record: (accepted, version, active version, reason).
pub type ContentRecord = (bool, u32, u32, u32);

impl Booted {
    pub fn try_load(&mut self, bytes: &[u8]) -> Result<LoadContentResponse, Stop> {
        let r =
            self.emu.ioctl(self.file, Code::LoadContent as u32, bytes, LoadContentResponse::LEN as u32)?;
        assert_eq!(r.status, 0, "LOAD_CONTENT answers with a verdict");
        Ok(LoadContentResponse::parse(&r.output).expect("a well-formed verdict"))
    }

    pub fn load(&mut self, bytes: &[u8]) -> LoadContentResponse {
        self.try_load(bytes).unwrap_or_else(|s| panic!("LOAD_CONTENT stopped: {s}"))
    }

    pub fn stats(&mut self) -> StatsResponse {
        let r = self.emu.ioctl(self.file, Code::Stats as u32, &[], StatsResponse::LEN as u32).expect("STATS");
        StatsResponse::parse(&r.output).expect("a well-formed STATS")
    }

    pub fn trust(&mut self) -> TrustResponse {
        let r = self.emu.ioctl(self.file, Code::Trust as u32, &[], TrustResponse::LEN as u32).expect("TRUST");
        assert_eq!(r.status, 0, "TRUST succeeds");
        TrustResponse::parse(&r.output).expect("a well-formed TRUST")
    }

    /// Every `ContentChanged` record queued so far (other records are read and dropped).
    pub fn content_records(&mut self) -> Vec<ContentRecord> {
        let mut out = Vec::new();
        loop {
            let r = self.emu.ioctl(self.file, Code::Read as u32, &[], 1 << 16).expect("READ");
            assert_eq!(r.status, 0);
            if r.output.is_empty() {
                return out;
            }
            for record in Batch::new_checked(&r.output).expect("a batch").iter() {
                if let Event::ContentChanged { accepted, content_version, active_version, reason, .. } =
                    record.event()
                {
                    out.push((accepted, content_version, active_version, reason));
                }
            }
        }
    }

    /// Process exits through the callback: the active content evaluates each.
    pub fn run_events(&mut self, n: usize) -> Result<(), Stop> {
        for i in 0..n {
            self.emu.process_exit(1000 + i as u32, 1, 1)?;
            self.emu.run_work_items()?;
        }
        Ok(())
    }

    /// Orderly stop: handle closed, driver unloaded, books clean; the disk as shutdown leaves it.
    pub fn shutdown(mut self) -> Disk {
        self.emu.close(self.file).expect("close returns");
        assert_eq!(self.emu.unload(), Ok(ringfence_emulator::Unload::Done));
        assert_eq!(self.emu.report().problems(), Vec::new(), "the books are clean after unload");
        self.emu.shutdown_disk()
    }
}
