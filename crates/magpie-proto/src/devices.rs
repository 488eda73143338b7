//! Devices: each login is one signed-in device, named by the user and of
//! one platform. A user lists their devices and signs any of them out.

use serde::{Deserialize, Serialize};

/// What kind of client a device is. The server's session policy may treat
/// platforms differently (e.g. one signed-in mobile device per user).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    #[default]
    Desktop,
    Mobile,
    Web,
    Cli,
    Bot,
}

impl Platform {
    /// Every platform, in wire order.
    pub const ALL: [Platform; 5] = [
        Platform::Desktop,
        Platform::Mobile,
        Platform::Web,
        Platform::Cli,
        Platform::Bot,
    ];

    /// The wire name, e.g. `"mobile"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Desktop => "desktop",
            Platform::Mobile => "mobile",
            Platform::Web => "web",
            Platform::Cli => "cli",
            Platform::Bot => "bot",
        }
    }
}

impl std::str::FromStr for Platform {
    type Err = String;

    fn from_str(s: &str) -> Result<Platform, String> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown platform {s:?}: desktop, mobile, web, cli or bot"))
    }
}

/// One signed-in device of the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Stable while the device stays signed in; pass it to
    /// `device_revoke`. Not a secret, and useless without the token.
    pub id: String,
    /// The name given at login (may be empty).
    pub name: String,
    pub platform: Platform,
    /// When it signed in (ms since the epoch).
    pub created_at: i64,
    /// Its last login, resume or disconnect (ms since the epoch).
    pub last_seen: i64,
    /// A connection with this device's token is open now.
    pub online: bool,
    /// This is the device asking.
    pub current: bool,
}

/// Result of `devices`: the caller's signed-in devices, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicesOk {
    pub devices: Vec<Device>,
}

/// `device_revoke`: sign one of the caller's devices out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRevoke {
    pub id: String,
}
