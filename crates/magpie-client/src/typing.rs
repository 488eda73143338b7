//! Typing indicators, as a client call. Others' notices arrive as
//! `typing` pushes ([`magpie_proto::TypingNotice`]): show the indicator
//! for its `ttl_ms`, renewed by each new notice, and clear it on one with
//! `active: false` or on a message from that user.

use crate::{Client, ClientError};
use magpie_proto::{ConvId, Empty, Request, Typing};

impl Client {
    /// Tell the other members of `conv` that this user is typing
    /// (`active`) or stopped. While typing, repeat it well within the
    /// notice's lifetime (every few seconds); the server limits how often.
    pub async fn typing(&self, conv: ConvId, active: bool) -> Result<(), ClientError> {
        let _: Empty = self.call(Request::Typing(Typing { conv, active })).await?;
        Ok(())
    }
}
