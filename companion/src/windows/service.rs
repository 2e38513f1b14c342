//! The Windows side of the service (Windows only; compiled and checked by
//! clippy for x86_64-pc-windows-msvc, never run on Linux): the Service Control
//! Manager's entry point and stop control, `service install | uninstall |
//! start | stop | status`, the event log source's registration, and the
//! driver service's state for [`crate::service::Connector::driver_stopping`].

use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use windows_service::service::{
    Service, ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
    ServiceDependency, ServiceErrorControl, ServiceExitCode, ServiceFailureActions,
    ServiceFailureResetPeriod, ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_dispatcher;
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_sys::Win32::Foundation::ERROR_SUCCESS;
use windows_sys::Win32::System::Registry::{
    HKEY, HKEY_LOCAL_MACHINE, KEY_SET_VALUE, REG_DWORD, REG_EXPAND_SZ, REG_OPTION_NON_VOLATILE, RegCloseKey,
    RegCreateKeyExW, RegDeleteKeyW, RegSetValueExW,
};

use crate::output::eventlog::EventLog;

/// The companion's service.
pub const SERVICE_NAME: &str = "ringfencesvc";
pub const DISPLAY_NAME: &str = "ringfence sensor service";
/// The driver's service (ringfence.inf installs it).
pub const DRIVER_SERVICE: &str = "ringfence";
/// The message file .NET's `EventLog.CreateEventSource` registers: every message is `%1`.
const MESSAGE_FILE: &str = r"%SystemRoot%\Microsoft.NET\Framework64\v4.0.30319\EventLogMessages.dll";
/// The Win32 error `StartServiceCtrlDispatcher` gives a program not started by the SCM.
const ERROR_FAILED_SERVICE_CONTROLLER_CONNECT: i32 = 1063;

/// The driver's service, to watch for a stop request.
pub struct DriverService {
    service: Service,
}

impl std::fmt::Debug for DriverService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(DRIVER_SERVICE)
    }
}

impl DriverService {
    pub fn open() -> windows_service::Result<Self> {
        let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)?;
        let service = manager.open_service(DRIVER_SERVICE, ServiceAccess::QUERY_STATUS)?;
        Ok(DriverService { service })
    }

    /// Whether `sc stop ringfence` (or an uninstall) is waiting for the driver to unload.
    pub fn is_stopping(&self) -> bool {
        self.service.query_status().is_ok_and(|s| s.current_state == ServiceState::StopPending)
    }
}

/// `ringfence service install`: an automatic-start LocalSystem service that
/// runs `ringfence.exe service run --config CONFIG`, restarted by the SCM on
/// failure, started after the driver (which the SCM then starts first, even
/// though the driver itself is demand-start) unless `driver_dependency` is false,
/// and the event log source `source` registered.
pub fn install(config: &Path, driver_dependency: bool, source: &str) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program's path: {e}"))?;
    let config = std::path::absolute(config).unwrap_or_else(|_| config.to_owned());
    let manager = manager(ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE)?;
    let info = ServiceInfo {
        name: SERVICE_NAME.into(),
        display_name: DISPLAY_NAME.into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: exe,
        launch_arguments: vec!["service".into(), "run".into(), "--config".into(), config.into_os_string()],
        dependencies: if driver_dependency {
            vec![ServiceDependency::Service(DRIVER_SERVICE.into())]
        } else {
            Vec::new()
        },
        account_name: None,
        account_password: None,
    };
    let access = ServiceAccess::CHANGE_CONFIG | ServiceAccess::START;
    let service = manager.create_service(&info, access).map_err(|e| scm("creating the service", &e))?;
    service
        .set_description("Writes ringfence.sys events to rotating JSON Lines files and the event log")
        .map_err(|e| scm("describing the service", &e))?;
    let restart =
        |secs| ServiceAction { action_type: ServiceActionType::Restart, delay: Duration::from_secs(secs) };
    service
        .update_failure_actions(ServiceFailureActions {
            reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(86_400)),
            reboot_msg: None,
            command: None,
            actions: Some(vec![restart(5), restart(30), restart(60)]),
        })
        .map_err(|e| scm("setting the restart-on-failure actions", &e))?;
    register_event_source(source)
}

/// `ringfence service uninstall`: stops the service if it runs, deletes it and the event source.
pub fn uninstall(source: &str) -> Result<(), String> {
    let service = open(ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE)?;
    if service.query_status().is_ok_and(|s| s.current_state != ServiceState::Stopped) {
        let _ = service.stop();
    }
    service.delete().map_err(|e| scm("deleting the service", &e))?;
    unregister_event_source(source)
}

pub fn start() -> Result<(), String> {
    open(ServiceAccess::START)?.start(&[] as &[&OsStr]).map_err(|e| scm("starting the service", &e))
}

pub fn stop() -> Result<(), String> {
    open(ServiceAccess::STOP)?.stop().map(|_| ()).map_err(|e| scm("stopping the service", &e))
}

/// `ringfence service status`: state and process id, one line.
pub fn status(out: &mut dyn Write) -> Result<(), String> {
    let status =
        open(ServiceAccess::QUERY_STATUS)?.query_status().map_err(|e| scm("querying the service", &e))?;
    let state = format!("{:?}", status.current_state).to_lowercase();
    let pid = status.process_id.map(|p| format!(", process {p}")).unwrap_or_default();
    writeln!(out, "{SERVICE_NAME}: {state}{pid}").map_err(|e| e.to_string())
}

fn manager(access: ServiceManagerAccess) -> Result<ServiceManager, String> {
    ServiceManager::local_computer(None::<&str>, access)
        .map_err(|e| scm("opening the Service Control Manager", &e))
}

fn open(access: ServiceAccess) -> Result<Service, String> {
    manager(ServiceManagerAccess::CONNECT)?
        .open_service(SERVICE_NAME, access)
        .map_err(|e| scm("opening the service", &e))
}

fn scm(step: &str, error: &windows_service::Error) -> String {
    let hint = match error {
        windows_service::Error::Winapi(e) if e.raw_os_error() == Some(5) => " (run from an elevated prompt)",
        windows_service::Error::Winapi(e) if e.raw_os_error() == Some(1060) => {
            " (the service is not installed)"
        }
        windows_service::Error::Winapi(e) if e.raw_os_error() == Some(1073) => {
            " (the service is already installed)"
        }
        _ => "",
    };
    format!("{step} failed: {error}{hint}")
}

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(Some(0)).collect()
}

fn source_key(source: &str) -> Vec<u16> {
    wide(&format!(r"SYSTEM\CurrentControlSet\Services\EventLog\Application\{source}"))
}

/// Registers `source` under the Application log, as .NET does.
fn register_event_source(source: &str) -> Result<(), String> {
    let key_name = source_key(source);
    let mut key: HKEY = std::ptr::null_mut();
    // SAFETY: `key_name` is NUL-terminated and outlives the call; `key` receives the opened key;
    // the class, security attributes and disposition may be null.
    let status = unsafe {
        RegCreateKeyExW(
            HKEY_LOCAL_MACHINE,
            key_name.as_ptr(),
            0,
            std::ptr::null(),
            REG_OPTION_NON_VOLATILE,
            KEY_SET_VALUE,
            std::ptr::null(),
            &mut key,
            std::ptr::null_mut(),
        )
    };
    if status != ERROR_SUCCESS {
        return Err(format!("registering the event log source {source} failed with Windows error {status}"));
    }
    let file = wide(MESSAGE_FILE);
    let file_bytes: Vec<u8> = file.iter().flat_map(|u| u.to_le_bytes()).collect();
    let types = 7u32.to_le_bytes();
    let (name_file, name_types) = (wide("EventMessageFile"), wide("TypesSupported"));
    let len = |b: &[u8]| u32::try_from(b.len()).unwrap_or(u32::MAX);
    // SAFETY: `key` is the key opened above; the name and data buffers outlive the call and
    // their lengths are given.
    let set_file = unsafe {
        RegSetValueExW(key, name_file.as_ptr(), 0, REG_EXPAND_SZ, file_bytes.as_ptr(), len(&file_bytes))
    };
    // SAFETY: as above, for the DWORD value.
    let set_types =
        unsafe { RegSetValueExW(key, name_types.as_ptr(), 0, REG_DWORD, types.as_ptr(), len(&types)) };
    // SAFETY: `key` was opened above and is not used after this.
    unsafe { RegCloseKey(key) };
    match (set_file, set_types) {
        (ERROR_SUCCESS, ERROR_SUCCESS) => Ok(()),
        (e, ERROR_SUCCESS) | (_, e) => Err(format!(
            "writing the event log source {source}'s registry values failed with Windows error {e}"
        )),
    }
}

fn unregister_event_source(source: &str) -> Result<(), String> {
    let key_name = source_key(source);
    // SAFETY: `key_name` is NUL-terminated and outlives the call.
    let status = unsafe { RegDeleteKeyW(HKEY_LOCAL_MACHINE, key_name.as_ptr()) };
    // Already gone (ERROR_FILE_NOT_FOUND) is what uninstall wants.
    if status == ERROR_SUCCESS || status == 2 {
        Ok(())
    } else {
        Err(format!("removing the event log source {source} failed with Windows error {status}"))
    }
}

/// The configuration file the SCM's start hands to `service_main`.
static CONFIG: OnceLock<PathBuf> = OnceLock::new();

windows_service::define_windows_service!(ffi_service_main, service_main);

/// `ringfence service run`: under the SCM, the service; started from a
/// console instead, the same loop until Ctrl-C.
pub fn run(config: PathBuf, console: impl FnOnce(PathBuf) -> Result<(), String>) -> Result<(), String> {
    let _ = CONFIG.set(config.clone());
    match service_dispatcher::start(SERVICE_NAME, ffi_service_main) {
        Ok(()) => Ok(()),
        Err(windows_service::Error::Winapi(e))
            if e.raw_os_error() == Some(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) =>
        {
            console(config)
        }
        Err(e) => Err(scm("starting the service dispatcher", &e)),
    }
}

fn service_main(_arguments: Vec<OsString>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            flag.store(true, Ordering::SeqCst);
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let Ok(status) = service_control_handler::register(SERVICE_NAME, handler) else { return };
    let report = |state, accept, exit| ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: accept,
        exit_code: exit,
        checkpoint: 0,
        // Draining the driver's queue and syncing the files takes well under this.
        wait_hint: Duration::from_secs(10),
        process_id: None,
    };
    let _ = status.set_service_status(report(
        ServiceState::Running,
        ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN,
        ServiceExitCode::Win32(0),
    ));
    let exit = match CONFIG.get().map(|path| (path, crate::config::load(path))) {
        Some((_, Ok(config))) => {
            let diag = diagnostics(&config);
            match crate::service::run_on_this_machine(config, diag, &|| stop.load(Ordering::SeqCst)) {
                Ok(_) => 0,
                Err(_) => 1,
            }
        }
        Some((_, Err(error))) => {
            let _ = EventLog::open(SERVICE_NAME).map(|mut log| log.write(format!("{error}\n").as_bytes()));
            1
        }
        None => 1,
    };
    let _ = status.set_service_status(report(
        ServiceState::Stopped,
        ServiceControlAccept::empty(),
        ServiceExitCode::ServiceSpecific(exit),
    ));
}

/// Where the service's messages go when it runs under the SCM: the event log
/// source of the configuration's eventlog output (whose records then carry
/// them already, so nothing is written twice), or else the `ringfence` source.
fn diagnostics(config: &crate::config::Config) -> Box<dyn Write + Send> {
    let has_eventlog = config.outputs.iter().any(|o| matches!(o, crate::config::Output::EventLog { .. }));
    match EventLog::open(crate::config::defaults::EVENT_LOG_SOURCE) {
        Ok(log) if !has_eventlog => Box::new(EventLogLines { log, partial: Vec::new() }),
        _ => Box::new(io::sink()),
    }
}

/// A `Write` that sends every complete line to the event log.
struct EventLogLines {
    log: EventLog,
    partial: Vec<u8>,
}

impl Write for EventLogLines {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.partial.extend_from_slice(bytes);
        if let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') {
            let lines: Vec<u8> = self.partial.drain(..=end).collect();
            let _ = self.log.write(&lines);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
