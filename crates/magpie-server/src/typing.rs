//! The typing service: checks a `typing` request and pushes the notice to
//! the other members' connections, on every node (the cluster router
//! carries it on the bus like any delivery).
//!
//! Nothing is stored and nothing is remembered: a notice lives on the
//! receivers' screens for `ttl_ms` unless renewed, so a lost notice costs
//! at most that long a wrong indicator, and a reconnecting client has
//! nothing to catch up. The typist's own other devices are not told: they
//! show what others type, not what their user types elsewhere.

use crate::conversations::{Conversations, Target};
use crate::messages::Actor;
use crate::people::People;
use crate::router::Router;
use magpie_proto::{Empty, ErrorBody, ErrorCode, Push, Typing, TypingNotice, UserId};
use std::sync::Arc;

/// The typing service.
#[derive(Debug)]
pub struct TypingService {
    conversations: Arc<Conversations>,
    people: Arc<People>,
    router: Arc<dyn Router>,
    /// Groups above this many members get no typing notices.
    max_members: usize,
    ttl_ms: u64,
}

impl TypingService {
    /// The service; `max_members` and `ttl_ms` come from the config
    /// (`typing_max_members`, `typing_ttl`).
    pub fn new(
        conversations: Arc<Conversations>,
        people: Arc<People>,
        router: Arc<dyn Router>,
        max_members: u32,
        ttl_ms: u64,
    ) -> TypingService {
        TypingService {
            conversations,
            people,
            router,
            max_members: usize::try_from(max_members).unwrap_or(usize::MAX),
            ttl_ms,
        }
    }

    /// `typing`: the caller may write in `conv` (a member, not muted, and
    /// in 1:1 allowed by the messaging policy), which is a 1:1
    /// conversation or a group of at most `typing_max_members`; every
    /// other member's connections get the notice.
    pub async fn typing(&self, actor: &Actor, req: Typing, now: i64) -> Result<Empty, ErrorBody> {
        let me = actor.user_id;
        let Target { conv, members } = self.conversations.target(me, req.conv, now).await?;
        if members.set.group {
            if members.users.len() > self.max_members {
                return Err(ErrorBody::new(
                    ErrorCode::NotAllowed,
                    format!(
                        "typing indicators are off in groups of more than {} members",
                        self.max_members
                    ),
                ));
            }
        } else if let Some(&peer) = members.users.iter().find(|&&m| m != me) {
            // A peer who blocked the typist (or whom the policy shields)
            // is not told, exactly as a message would be refused.
            self.people.may_message(me, peer).await?;
        }
        let others: Vec<UserId> = members.users.iter().copied().filter(|&u| u != me).collect();
        let frame = Push::Typing(TypingNotice {
            conv,
            user_id: me,
            user: actor.username.clone(),
            active: req.active,
            ttl_ms: self.ttl_ms,
        })
        .encode();
        self.router.deliver(&others, &frame, None);
        Ok(Empty {})
    }
}
