//! How the service reaches the driver: open the device, and learn when the
//! driver is being stopped (it cannot unload while the service holds it open).

use crate::device::{Device, DeviceError};

/// Opens devices on a driver, again after each disconnection.
pub trait Connector {
    type Device: Device;

    fn connect(&mut self) -> Result<Self::Device, DeviceError>;

    /// Whether the driver has been asked to stop: the service then drains the
    /// queue and closes its handle so that the unload can proceed.
    fn driver_stopping(&mut self) -> bool;
}

/// `\\.\Ringfence` on this machine. The driver's service state comes from the
/// Service Control Manager on Windows; elsewhere there is no device to open.
#[derive(Debug, Default)]
pub struct SystemConnector {
    #[cfg(windows)]
    driver: Option<super::windows::DriverService>,
}

impl Connector for SystemConnector {
    type Device = Box<dyn Device>;

    fn connect(&mut self) -> Result<Box<dyn Device>, DeviceError> {
        crate::device::open_system_device()
    }

    #[cfg(windows)]
    fn driver_stopping(&mut self) -> bool {
        if self.driver.is_none() {
            self.driver = super::windows::DriverService::open().ok();
        }
        self.driver.as_ref().is_some_and(super::windows::DriverService::is_stopping)
    }

    #[cfg(not(windows))]
    fn driver_stopping(&mut self) -> bool {
        false
    }
}
