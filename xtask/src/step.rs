//! One named step: prints what it does, runs, and on failure names itself and
//! the likely fix.

use std::ffi::OsStr;
use std::fmt;
use std::process::Command;
use std::time::Instant;

#[derive(Debug)]
pub(crate) struct Failure {
    step: String,
    detail: String,
}

impl Failure {
    pub(crate) fn new(step: impl Into<String>, detail: impl Into<String>) -> Self {
        Failure { step: step.into(), detail: detail.into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.detail)
    }
}

pub(crate) struct Step {
    name: String,
    command: Command,
    hint: Option<&'static str>,
}

impl Step {
    pub(crate) fn new(name: &str, program: &str) -> Self {
        let mut command = Command::new(program);
        command.current_dir(crate::root());
        Step { name: name.to_owned(), command, hint: None }
    }

    pub(crate) fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.command.arg(arg);
        self
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    pub(crate) fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    pub(crate) fn current_dir(mut self, dir: impl AsRef<std::path::Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// Sends the step's standard output to ours' standard error, so that a task's
    /// own output (the demo's events) stays alone on standard output.
    pub(crate) fn stdout_to_stderr(mut self) -> Self {
        self.command.stdout(std::process::Stdio::from(std::io::stderr()));
        self
    }

    /// What to try when the step fails.
    pub(crate) fn hint(mut self, hint: &'static str) -> Self {
        self.hint = Some(hint);
        self
    }

    pub(crate) fn run(mut self) -> Result<(), Failure> {
        eprintln!("==> {}", self.name);
        let started = Instant::now();
        let status = self
            .command
            .status()
            .map_err(|e| Failure::new(&self.name, format!("could not start {:?}: {e}", self.command)))?;
        finish(&self.name, self.hint, status, started)
    }

    /// Starts the step without waiting for it: [`Running::wait`] finishes it. For steps
    /// that each keep one core busy (a fuzz target), run as many at once as there are cores.
    pub(crate) fn spawn(mut self) -> Result<Running, Failure> {
        eprintln!("==> {} (started)", self.name);
        let child = self
            .command
            .spawn()
            .map_err(|e| Failure::new(&self.name, format!("could not start {:?}: {e}", self.command)))?;
        Ok(Running { name: self.name, hint: self.hint, child, started: Instant::now() })
    }

    /// Runs quietly and reports only whether it succeeded (for probes).
    pub(crate) fn probe(mut self) -> bool {
        self.command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        self.command.status().is_ok_and(|s| s.success())
    }
}

/// A step started by [`Step::spawn`].
pub(crate) struct Running {
    name: String,
    hint: Option<&'static str>,
    child: std::process::Child,
    started: Instant,
}

impl Running {
    pub(crate) fn wait(mut self) -> Result<(), Failure> {
        let status =
            self.child.wait().map_err(|e| Failure::new(&self.name, format!("could not wait for it: {e}")))?;
        finish(&self.name, self.hint, status, self.started)
    }
}

fn finish(
    name: &str,
    hint: Option<&'static str>,
    status: std::process::ExitStatus,
    started: Instant,
) -> Result<(), Failure> {
    let took = started.elapsed().as_secs_f64();
    if status.success() {
        eprintln!("<== {name} ({took:.0} s)");
        return Ok(());
    }
    let mut detail = format!("{status} after {took:.0} s");
    if let Some(hint) = hint {
        detail.push_str(&format!("\n  hint: {hint}"));
    }
    Err(Failure::new(name, detail))
}
