//! Presence, as a client call. Contacts' presence arrives as `presence`
//! pushes and in `friends` rows.

use crate::{Client, ClientError};
use magpie_proto::{PresenceSet, PresenceState, Request, Status};

impl Client {
    /// Choose how contacts see this user while connected; `text: None`
    /// keeps the current status text, `Some("")` clears it.
    pub async fn set_presence(
        &self,
        status: Status,
        text: Option<&str>,
    ) -> Result<PresenceState, ClientError> {
        self.call(Request::PresenceSet(PresenceSet {
            status,
            text: text.map(str::to_string),
        }))
        .await
    }
}
