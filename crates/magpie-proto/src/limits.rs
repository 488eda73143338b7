//! Bounds on client input that are part of the protocol, so that clients can
//! check before sending. Size limits that an operator may tune (frame and
//! body size) are announced in `hello` instead.

/// Usernames: this many bytes at least …
pub const USERNAME_MIN: usize = 3;
/// … and at most.
pub const USERNAME_MAX: usize = 32;
/// Passwords: this many bytes at least …
pub const PASSWORD_MIN: usize = 8;
/// … and at most (Argon2 work does not depend on it, but memory does).
pub const PASSWORD_MAX: usize = 1024;
/// Client message ids: at most this many bytes (and at least one).
pub const CMID_MAX: usize = 64;
/// Device names: at most this many bytes.
pub const DEVICE_MAX: usize = 64;
/// `sync` page size when the client names none …
pub const SYNC_LIMIT_DEFAULT: u32 = 500;
/// … and the most it may ask for.
pub const SYNC_LIMIT_MAX: u32 = 1000;
/// `history` page size when the client names none …
pub const HISTORY_LIMIT_DEFAULT: u32 = 50;
/// … and the most it may ask for.
pub const HISTORY_LIMIT_MAX: u32 = 500;

/// `conversations` page size when the client names none …
pub const CONVERSATIONS_LIMIT_DEFAULT: u32 = 50;
/// … and the most it may ask for.
pub const CONVERSATIONS_LIMIT_MAX: u32 = 200;
/// Characters of a body shown as the excerpt of a conversation's last
/// message. With JSON escaping (at most 6 bytes per character) an excerpt
/// takes at most 768 bytes, so a page of the list always fits in a frame.
pub const EXCERPT_CHARS: usize = 128;

/// The canonical (lower-case) form of a username, or `None` if it breaks
/// the rules: 3–32 characters from `a-z 0-9 _ . -`, any case on input.
///
/// Usernames are ASCII on purpose: they are login handles that must be easy
/// to type on any keyboard and impossible to spoof with look-alike Unicode;
/// display names (a later feature) carry the rest.
pub fn normalize_username(name: &str) -> Option<String> {
    let ok = (USERNAME_MIN..=USERNAME_MAX).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    ok.then(|| name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        let cases: &[(&str, Option<&str>)] = &[
            ("alice", Some("alice")),
            ("Alice.B-2_x", Some("alice.b-2_x")),
            ("ab", None),
            ("abc", Some("abc")),
            (&"a".repeat(32), Some(&"a".repeat(32))),
            (&"a".repeat(33), None),
            ("al ice", None),
            ("al'ice", None),
            ("用户名", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_username(input).as_deref(), *want, "{input:?}");
        }
    }
}
