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

/// Reactions: an emoji (or short token) is at most this many characters …
pub const EMOJI_CHARS_MAX: usize = 16;
/// … and this many bytes.
pub const EMOJI_BYTES_MAX: usize = 64;
/// Distinct emoji on one entry.
pub const REACTION_KINDS_MAX: usize = 20;
/// Entries one `forward` takes.
pub const FORWARD_MAX: usize = 100;
/// Destinations of one `forward`.
pub const FORWARD_TARGETS_MAX: usize = 10;
/// Bytes of each message's text kept in a chat record.
pub const RECORD_ITEM_BYTES: usize = 1024;

/// Profile text fields, in bytes of UTF-8.
pub const NICKNAME_MAX: usize = 64;
/// … the avatar reference (a URL or, later, a file id).
pub const AVATAR_MAX: usize = 512;
/// … the signature line.
pub const SIGNATURE_MAX: usize = 256;
/// … an email address (RFC 5321's path limit).
pub const EMAIL_MAX: usize = 254;
/// Phone numbers: digits, optionally after a `+`, this many at least …
pub const PHONE_DIGITS_MIN: usize = 5;
/// … and at most.
pub const PHONE_DIGITS_MAX: usize = 20;
/// The note sent with a friend request, in bytes.
pub const REQUEST_NOTE_MAX: usize = 256;
/// A friend's remark (alias), in bytes.
pub const REMARK_MAX: usize = 64;
/// A friend category's name, in bytes.
pub const CATEGORY_NAME_MAX: usize = 32;
/// Friend categories per user.
pub const CATEGORIES_MAX: usize = 50;
/// Friends per user.
pub const FRIENDS_MAX: usize = 5000;
/// Users one user may block.
pub const BLOCKS_MAX: usize = 1000;
/// Friend requests one user may have waiting for an answer.
pub const OUTGOING_REQUESTS_MAX: usize = 100;
/// Incoming requests `friend_requests` lists (the newest).
pub const INCOMING_REQUESTS_LISTED: usize = 200;
/// A presence status text, in bytes.
pub const PRESENCE_TEXT_MAX: usize = 64;
/// A department's name, in bytes.
pub const DEPT_NAME_MAX: usize = 64;
/// A job title, in bytes.
pub const TITLE_MAX: usize = 64;
/// Departments in the directory (the whole tree is one response).
pub const DEPTS_MAX: usize = 2000;
/// A search query, in bytes.
pub const SEARCH_QUERY_MAX: usize = 64;
/// `search` page size when the client names none …
pub const SEARCH_LIMIT_DEFAULT: u32 = 20;
/// … and the most it may ask for.
pub const SEARCH_LIMIT_MAX: u32 = 50;
/// `friends` and `blocks` page size when the client names none …
pub const PAGE_LIMIT_DEFAULT: u32 = 200;
/// … and the most it may ask for.
pub const PAGE_LIMIT_MAX: u32 = 500;
/// `changes` page size when the client names none …
pub const CHANGES_LIMIT_DEFAULT: u32 = 200;
/// … and the most it may ask for.
pub const CHANGES_LIMIT_MAX: u32 = 1000;

/// Most members one message mentions by name.
pub const MENTIONS_MAX: usize = 50;
/// Most entries one `read_receipts` asks about.
pub const READ_RECEIPTS_MAX: usize = 100;
/// Longest group name, in bytes.
pub const GROUP_NAME_MAX: usize = 64;
/// Longest group description, in bytes.
pub const GROUP_DESCRIPTION_MAX: usize = 512;
/// Longest group announcement, in bytes (line breaks allowed).
pub const GROUP_ANNOUNCEMENT_MAX: usize = 2048;
/// Most users named in one `group_create` or `group_invite`.
pub const GROUP_INVITE_MAX: usize = 500;
/// Default most members of a group (`--group-member-limit`).
pub const GROUP_MEMBER_LIMIT_DEFAULT: u32 = 2000;
/// A conversation's draft (`conv_set`), in bytes: about a screen of
/// text, and never more than the server's `max_body_bytes`.
pub const DRAFT_MAX: usize = 4096;
/// Most entries before their join a group may show new members.
pub const GROUP_HISTORY_VISIBLE_MAX: u32 = 1000;
/// Longest mute of a member: 30 days.
pub const GROUP_MUTE_MAX_SECS: u64 = 30 * 24 * 3600;

/// Check a multi-line free-text field: like [`check_line`], but line
/// breaks (`\n`) are allowed.
pub fn check_text(field: &str, value: &str, max: usize) -> Result<(), String> {
    check_line(field, &value.replace('\n', " "), max)
}

/// Check a free-text field: at most `max` bytes of UTF-8 and no control
/// characters (line breaks included: every such field is one line). Emoji
/// and every script are welcome. The error names the field.
pub fn check_line(field: &str, value: &str, max: usize) -> Result<(), String> {
    if value.len() > max {
        return Err(format!(
            "{field} is {} bytes; the limit is {max}",
            value.len()
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{field} must not contain control characters"));
    }
    Ok(())
}

/// Whether `phone` is `+`? followed by 5–20 ASCII digits.
pub fn is_phone(phone: &str) -> bool {
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    (PHONE_DIGITS_MIN..=PHONE_DIGITS_MAX).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `email` looks like an address: `local@domain.tld`, ASCII
/// without spaces, at most [`EMAIL_MAX`] bytes. Deliberately loose on the
/// local part (mail servers decide), strict on shape.
pub fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    email.len() <= EMAIL_MAX
        && (1..=64).contains(&local.len())
        && local.bytes().all(|b| b.is_ascii_graphic() && b != b'@')
        && domain.contains('.')
        && domain.split('.').all(label_ok)
}

/// Whether `date` is a real calendar date `YYYY-MM-DD` from 1900 on.
pub fn is_birthday(date: &str) -> bool {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = date.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    y >= 1900 && (1..=days).contains(&d)
}

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
    fn profile_field_rules() {
        assert!(check_line("nickname", "小明 🐦", NICKNAME_MAX).is_ok());
        assert!(check_line("nickname", "a\nb", NICKNAME_MAX).is_err());
        assert!(check_line("nickname", "a\u{7f}", NICKNAME_MAX).is_err());
        assert!(check_line("nickname", &"好".repeat(22), NICKNAME_MAX).is_err());
        for (phone, ok) in [
            ("+8613800138000", true),
            ("12345", true),
            ("1234", false),
            ("+", false),
            ("138-0013", false),
            ("１２３４５", false),
            (&"1".repeat(21), false),
        ] {
            assert_eq!(is_phone(phone), ok, "{phone}");
        }
        for (email, ok) in [
            ("a@b.cn", true),
            ("first.last+tag@mail.example.com", true),
            ("a@b", false),
            ("@b.cn", false),
            ("a@@b.cn", false),
            ("a b@c.cn", false),
            ("a@-b.cn", false),
            ("a@b..cn", false),
            ("用户@b.cn", false),
        ] {
            assert_eq!(is_email(email), ok, "{email}");
        }
        for (date, ok) in [
            ("2000-02-29", true),
            ("1900-02-29", false),
            ("1999-12-31", true),
            ("1899-12-31", false),
            ("2001-04-31", false),
            ("2001-13-01", false),
            ("2001-1-01", false),
            ("2001-01-01x", false),
            ("+001-01-01", false),
        ] {
            assert_eq!(is_birthday(date), ok, "{date}");
        }
    }

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
