//! Devices, as client calls: list the user's signed-in devices, sign one
//! out. Log in naming the platform with [`Client::login_on`].

use crate::{Client, ClientError};
use magpie_proto::{Device, DeviceRevoke, DevicesOk, Empty, Request};

impl Client {
    /// The user's signed-in devices, newest first.
    pub async fn devices(&self) -> Result<Vec<Device>, ClientError> {
        let ok: DevicesOk = self.call(Request::Devices).await?;
        Ok(ok.devices)
    }

    /// Sign the device with this id out: its token stops working and its
    /// connections close with `goaway` reason `revoked`.
    pub async fn device_revoke(&self, id: &str) -> Result<(), ClientError> {
        self.call::<Empty>(Request::DeviceRevoke(DeviceRevoke { id: id.to_string() }))
            .await
            .map(drop)
    }
}
