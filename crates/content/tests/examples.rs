//! Every rule file in examples/content compiles and validates against the
//! running schema, and the noise-reduction set does what its comments say.

mod common;

use common::*;
use ringfence_content::{Verdict, compile, validate};
use ringfence_wire::SCHEMA;
use std::path::Path;

fn example(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/content").join(name);
    let source = std::fs::read_to_string(&path).unwrap();
    compile(&source, &SCHEMA).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_example_compiles_and_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/content");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let bytes = example(path.file_name().unwrap().to_str().unwrap());
            let content = validate(&bytes, &SCHEMA).unwrap();
            assert!(content.rule_count() > 0, "{} has rules", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 2, "minimal.toml and noise-reduction.toml at least");
}

#[test]
fn the_minimal_example_drops_system_dlls_and_keeps_everything_else() {
    let bytes = example("minimal.toml");
    let content = validate(&bytes, &SCHEMA).unwrap();
    let ntdll = wide(r"\Device\HarddiskVolume3\Windows\System32\ntdll.dll");
    let app = wide(r"\Device\HarddiskVolume3\Program Files\App\app.dll");
    assert_eq!(content.evaluate(&image_load(&ntdll)), Verdict::Drop);
    assert_eq!(content.evaluate(&image_load(&app)), untagged());
    assert_eq!(content.evaluate(&process_exit(0)), untagged());
}

#[test]
fn noise_reduction_names_suspicious_process_starts_and_drops_the_noise() {
    let bytes = example("noise-reduction.toml");
    let content = validate(&bytes, &SCHEMA).unwrap();
    let cases: [(&str, &str, Option<&str>); 7] = [
        (
            r"\??\C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
            "powershell.exe -NoP -Enc SQBFAFgA",
            Some("encoded powershell"),
        ),
        (
            r"\??\C:\Windows\System32\rundll32.exe",
            r"rundll32.exe C:\Users\bob\AppData\Local\Temp\x.dll,Start",
            Some("rundll32 from user temp"),
        ),
        (r"\??\C:\Windows\System32\svchost.exe", "svchost.exe -k netsvcs -p", None),
        (r"\??\C:\Program Files (x86)\Google\Update\GoogleUpdate.exe", "GoogleUpdate.exe /ua", None),
        (r"\??\C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.2\MsMpEng.exe", "MsMpEng.exe", None),
        (r"\??\C:\Windows\System32\notepad.exe", "notepad.exe a.txt", Some("other process")),
        (
            r"\??\C:\Windows\System32\vssadmin.exe",
            "vssadmin.exe Delete Shadows /all /quiet",
            Some("shadow copy deletion"),
        ),
    ];
    for (image, cmd, expected) in cases {
        let (image, cmd) = (wide(image), wide(cmd));
        let name = expected.map(wide);
        let verdict = content.evaluate(&process_start(&image, &cmd));
        assert_eq!(
            verdict,
            name.as_deref().map_or(Verdict::Drop, kept),
            "{}",
            String::from_utf16_lossy(&cmd)
        );
    }
}

#[test]
fn noise_reduction_keeps_only_named_image_loads_and_crashes() {
    let bytes = example("noise-reduction.toml");
    let content = validate(&bytes, &SCHEMA).unwrap();
    // image_load's fixture is signed at level 12 (Windows) and is not a kernel image.
    let ntdll = wide(r"\Device\HarddiskVolume3\Windows\System32\ntdll.dll");
    let temp = wide(r"\Device\HarddiskVolume3\Users\bob\AppData\Local\Temp\payload.dll");
    let program = wide(r"\Device\HarddiskVolume3\Program Files\App\app.dll");
    assert_eq!(content.evaluate(&image_load(&ntdll)), Verdict::Drop);
    assert_eq!(content.evaluate(&image_load(&temp)), kept(&wide("dll from user temp")));
    assert_eq!(content.evaluate(&image_load(&program)), Verdict::Drop);
    assert_eq!(content.evaluate(&process_exit(0xC000_0005)), kept(&wide("access violation")));
    assert_eq!(content.evaluate(&process_exit(0)), Verdict::Drop);
}

/// The figures examples/content/README.md quotes for the cost function.
#[test]
fn the_examples_cost_what_their_readme_says() {
    let cost = |name| validate(&example(name), &SCHEMA).unwrap().worst_case_cost(&SCHEMA);
    assert_eq!(cost("noise-reduction.toml"), 1_312_302);
    assert_eq!(cost("minimal.toml"), 131_193);
}
