//! [`super::vocabulary_rules`]: the rules of [`super::literal_rules`] with
//! values built from the words process-creation rules are made of (program
//! names, switches, paths, registry keys, script fragments; listed here),
//! and a typical process start made of the same kind of text.
//!
//! Random letters share few prefixes, with each other or with a real command
//! line: the scan over them falls back to the root after a unit or two. Rules
//! written against Windows share long prefixes (`\appdata\local\`,
//! `-executionpolicy`, `\windows\system32\`), and so does a real command line
//! with them, so the automaton walks deep and takes failure links the way
//! SigmaHQ's own content makes it.

use super::Rng;

/// Program names (an image or parent image value is `\<name>.exe`).
const PROGRAMS: &[&str] = &[
    "powershell",
    "pwsh",
    "cmd",
    "wscript",
    "cscript",
    "mshta",
    "rundll32",
    "regsvr32",
    "certutil",
    "bitsadmin",
    "schtasks",
    "wmic",
    "net",
    "net1",
    "reg",
    "sc",
    "msiexec",
    "installutil",
    "regasm",
    "regsvcs",
    "msbuild",
    "csc",
    "vbc",
    "cmstp",
    "odbcconf",
    "forfiles",
    "pcalua",
    "hh",
    "control",
    "explorer",
    "winword",
    "excel",
    "powerpnt",
    "outlook",
    "msedge",
    "chrome",
    "firefox",
    "iexplore",
    "curl",
    "wget",
    "tar",
    "expand",
    "extrac32",
    "makecab",
    "esentutl",
    "vssadmin",
    "wbadmin",
    "bcdedit",
    "wevtutil",
    "fsutil",
    "icacls",
    "takeown",
    "attrib",
    "whoami",
    "nltest",
    "dsquery",
    "adfind",
    "ipconfig",
    "netsh",
    "route",
    "arp",
    "nslookup",
    "ping",
    "tasklist",
    "taskkill",
    "procdump",
    "rclone",
    "ngrok",
    "anydesk",
    "teamviewer",
    "psexec",
    "paexec",
    "wmiprvse",
    "svchost",
    "services",
    "lsass",
    "winlogon",
    "userinit",
    "dllhost",
    "conhost",
    "sdbinst",
    "msdt",
    "diskshadow",
    "ntdsutil",
    "dnscmd",
    "findstr",
    "where",
    "systeminfo",
    "query",
    "quser",
    "qwinsta",
    "tscon",
    "mstsc",
    "bash",
    "wsl",
    "node",
    "python",
    "java",
    "javaw",
    "onenote",
    "eqnedt32",
    "regini",
    "sqlcmd",
];

/// Command-line fragments: switches, paths, keys, script and URL pieces.
const FRAGMENTS: &[&str] = &[
    " -enc ",
    " -encodedcommand ",
    " -nop ",
    " -noprofile ",
    " -w hidden",
    " -windowstyle hidden",
    " -executionpolicy bypass",
    " -ep bypass",
    " -noninteractive",
    " -command ",
    " /c ",
    " /k ",
    " /create ",
    " /tn ",
    " /tr ",
    " /sc onlogon",
    " /ru system",
    " /delete ",
    " /f",
    " /q",
    " /s",
    " /add",
    " /domain",
    " /all",
    " /priv",
    " /transfer ",
    " -urlcache ",
    " -split ",
    " -decode ",
    " -encode ",
    " /i:",
    " /u ",
    " /n ",
    " call create ",
    " process ",
    " shadowcopy ",
    " delete ",
    " shadows ",
    " /quiet",
    " /norestart",
    " recoveryenabled no",
    " bootstatuspolicy ",
    " cl ",
    " set ",
    " config ",
    " binpath=",
    " start= ",
    " --headless",
    " --remote-debugging-port=",
    " --user-data-dir=",
    " --type=",
    " --config ",
    " --verbose",
    " -accepteula",
    " -ma ",
    " -s ",
    " -o ",
    " --output ",
    " -urlcache -split -f ",
    " copy ",
    " move ",
    " del ",
    " rename ",
    "\\appdata\\local\\temp\\",
    "\\appdata\\roaming\\",
    "\\users\\public\\",
    "\\programdata\\",
    "\\windows\\temp\\",
    "\\windows\\system32\\",
    "\\windows\\syswow64\\",
    "\\perflogs\\",
    "\\downloads\\",
    "\\desktop\\",
    "\\microsoft.net\\framework",
    "\\windows\\tasks\\",
    "\\$recycle.bin\\",
    "\\program files\\",
    "\\program files (x86)\\",
    "c:\\windows\\",
    "hklm\\software\\microsoft\\windows\\currentversion\\run",
    "hkcu\\software\\classes\\",
    "\\currentcontrolset\\services\\",
    "\\image file execution options\\",
    "\\policies\\system",
    "invoke-expression",
    "invoke-webrequest",
    "iex(",
    "iex (",
    "new-object net.webclient",
    "downloadstring(",
    "downloadfile(",
    "frombase64string(",
    "start-process",
    "set-mppreference",
    "add-mppreference",
    "-exclusionpath",
    "get-wmiobject",
    "invoke-command",
    "[convert]::",
    "system.reflection.assembly",
    "::load(",
    "http://",
    "https://",
    "ftp://",
    "\\\\127.0.0.1\\",
    "admin$",
    "c$\\",
    "ipc$",
    ".ps1",
    ".psm1",
    ".vbs",
    ".vbe",
    ".js",
    ".jse",
    ".wsf",
    ".hta",
    ".bat",
    ".cmd",
    ".dll",
    ".exe",
    ".scr",
    ".cpl",
    ".lnk",
    ".iso",
    ".zip",
    ".7z",
    ".rar",
    ".dmp",
    ".dit",
    "javascript:",
    "vbscript:",
    "scrobj.dll",
    "comsvcs.dll",
    "minidump",
    "sekurlsa",
    "lsass",
    "ntds.dit",
    "\\sam",
    "\\security",
    "\\system ",
    "save hklm\\",
    "localgroup administrators",
    "user /add",
    "accepteula",
    "-nop -w hidden",
    "bypass -file",
    "-file ",
    "shell32.dll,",
    "url.dll,",
    "advpack.dll,",
    "ieadvpack.dll,",
    "setupapi.dll,",
    "zipfldr.dll,",
    "pcwutl.dll,",
];

/// A word of a rule's own (a tool's name, a file's): what makes a value one rule's.
fn own_word(rng: &mut Rng) -> String {
    rng.word(3, 10)
}

/// An image or parent image value: a program, sometimes a tool of the rule's own.
pub(super) fn program(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => format!("\\{}.exe", own_word(rng)),
        _ => format!("\\{}.exe", rng.pick(PROGRAMS)),
    }
}

/// A parent image value: a directory, then a program.
pub(super) fn parent(rng: &mut Rng) -> String {
    let dir =
        rng.pick(&["\\windows\\system32", "\\windows\\syswow64", "\\program files", "\\appdata\\local"]);
    format!("{dir}{}", program(rng))
}

/// A command-line value: one to three fragments, sometimes a word of the
/// rule's own between or after them.
pub(super) fn command_line(rng: &mut Rng) -> String {
    let mut value = String::new();
    for k in 0..1 + rng.below(3) {
        if k > 0 && rng.below(3) == 0 {
            value.push_str(&own_word(rng));
        }
        value.push_str(rng.pick(FRAGMENTS));
    }
    if rng.below(3) == 0 {
        value.push_str(&own_word(rng));
    }
    value
}

/// A typical process start in this vocabulary: a 120-unit image path, a
/// 400-unit command line (an updater launched by a scheduled task, 389 units
/// padded with spaces), the task scheduler's host as the parent. Benign, but
/// in the rules' words: no literal rule matches it; with globs and regular
/// expressions (`with_globs_and_regexes`) four rules do.
pub fn typical_start() -> [String; 3] {
    let image = "C:\\Users\\jdoe\\AppData\\Local\\Contoso\\Updater\\app-4.12.0.1234\\resources\\app.asar.unpacked\\bin\\win32\\x64\\ContosoUpdater.exe";
    let mut line = String::from(
        "\"C:\\Users\\jdoe\\AppData\\Local\\Contoso\\Updater\\app-4.12.0\\ContosoUpdater.exe\" --type=utility \
         --config \"C:\\ProgramData\\Contoso\\updater.json\" --user-data-dir=\"C:\\Users\\jdoe\\AppData\\Roaming\\Contoso\" \
         -NoProfile -ExecutionPolicy RemoteSigned -File \"C:\\Program Files\\Contoso\\scripts\\check.ps1\" \
         --url https://updates.contoso.com/windows/x64/stable --log \"C:\\Windows\\Temp\\contoso-update.log\" --quiet",
    );
    line.truncate(400);
    while line.len() < 400 {
        line.push(' ');
    }
    [image.to_string(), line, "C:\\Windows\\System32\\svchost.exe".to_string()]
}
