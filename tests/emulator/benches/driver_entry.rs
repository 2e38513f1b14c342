//! DriverEntry of the real ringfence.sys in the emulated kernel, restoring persisted signed
//! content (read, Ed25519-verified, validated, counted in the service key) beside the same
//! DriverEntry on a machine with nothing persisted. Emulated time, not native time: the
//! difference between the two is what restoring content adds, in emulation.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, missing_docs)]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ringfence_content::compile;
use ringfence_emulator::{Caller, Disk, Emulator, RegValue};
use ringfence_trust::envelope::{self, Declaration};
use ringfence_trust::signature::sign_in_place;
use ringfence_trust::{RING_GENERAL, SigningKey};
use ringfence_wire::SCHEMA;
use ringfence_wire::ioctl::{Code, LoadContentResponse};
use std::path::PathBuf;
use std::process::Command;

/// `RINGFENCE_SYS`, or the release image built into this bench's own target directory.
fn ringfence_sys() -> Vec<u8> {
    let path = match std::env::var_os("RINGFENCE_SYS") {
        Some(p) => PathBuf::from(p),
        None => {
            let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("driver");
            let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let status = Command::new(cargo)
                .current_dir(&workspace)
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "ringfence",
                    "--target",
                    "x86_64-pc-windows-msvc",
                    "--release",
                ])
                .env("CARGO_TARGET_DIR", &target)
                .status()
                .unwrap();
            assert!(status.success(), "ringfence.sys builds");
            target.join("x86_64-pc-windows-msvc/release/ringfence.dll")
        }
    };
    std::fs::read(path).unwrap()
}

fn signed_content(key: &SigningKey) -> Vec<u8> {
    let rules: String = (0..200)
        .map(|i| {
            format!(
                "[[rule]]\nname = \"r{i}\"\nkind = \"process_start\"\naction = \"exclude\"\nmatch = [{{ field = \
                 \"image_path\", ends_with = \"\\\\vendor{i}\\\\app{i}.exe\" }}]\n"
            )
        })
        .collect();
    let content = compile(&format!("version = 3\n{rules}"), &SCHEMA).unwrap();
    let d = Declaration {
        signer: key.public_key(),
        ring: RING_GENERAL,
        sensor_min: 0,
        sensor_max: u32::MAX,
        content_version: 3,
    };
    let mut out = vec![0u8; envelope::envelope_len(content.len()).unwrap()];
    envelope::emit(&d, &content, &mut out).unwrap();
    assert!(sign_in_place(&mut out, key));
    out
}

fn boot(sys: &[u8], disk: &Disk, key: &SigningKey) -> Emulator {
    let mut emu = Emulator::boot(sys, disk).unwrap();
    emu.set_parameter("TrustedKeys", RegValue::Binary(key.public_key().to_vec()));
    emu
}

fn driver_entry(c: &mut Criterion) {
    let sys = ringfence_sys();
    let key = SigningKey::from_seed([3; 32]).unwrap();
    let content = signed_content(&key);
    // A disk on which the signed content was loaded (and so persisted on trial).
    let mut emu = boot(&sys, &Disk::default(), &key);
    assert_eq!(emu.driver_entry(), Ok(0));
    let (_, file) = emu.open(Caller::Administrator, true, true).unwrap();
    let file = file.unwrap();
    let r = emu.ioctl(file, Code::LoadContent as u32, &content, LoadContentResponse::LEN as u32).unwrap();
    assert!(LoadContentResponse::parse(&r.output).unwrap().accepted);
    let persisted = emu.shutdown_disk();
    let empty = Disk::default();

    let mut group =
        c.benchmark_group(format!("DriverEntry (emulated), {} bytes of signed content", content.len()));
    group.sample_size(20);
    group.bench_function("restoring persisted content", |b| {
        b.iter_batched(
            || boot(&sys, &persisted, &key),
            |mut emu| {
                assert_eq!(emu.driver_entry(), Ok(0));
                emu
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("nothing persisted (baseline)", |b| {
        b.iter_batched(
            || boot(&sys, &empty, &key),
            |mut emu| {
                assert_eq!(emu.driver_entry(), Ok(0));
                emu
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, driver_entry);
criterion_main!(benches);
