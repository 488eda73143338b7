//! Instant upload (秒传): a client that has content the server already
//! stores gets a file of its own without sending the bytes, once it proves
//! it holds them.
//!
//! A hash alone is not proof: hashes get published (a link, a log, a
//! torrent), and whoever knows one must not thereby get the content. So:
//! 1. the client offers `(sha256, size, name)`;
//! 2. if that content is stored, the server answers with a fresh random
//!    nonce and byte ranges it chose at random (the whole content when it
//!    is at most [`WHOLE_PROOF_BYTES`]);
//! 3. the client answers `SHA-256(nonce || range)` for each range, which it
//!    can compute only with those bytes in hand: the nonce makes every
//!    answer new, so no answer can be looked up or reused;
//! 4. the server reads the same ranges from storage, compares in constant
//!    time, and makes the file.
//!
//! The challenge is stateless: its terms (user, hash, size, name, nonce,
//! ranges, expiry) travel with it, signed with the secret every node
//! shares, so the proof may reach any node of a cluster.
//!
//! What remains: whoever knows most of a large file (a template with one
//! secret field) may pass if no range lands on the unknown part; the
//! chance falls with each range asked ([`RANGES`]). And an offer tells
//! whether the server stores a hash at all, the usual price of
//! deduplication across users; the offers are rate-limited per user.

use super::http::Failure;
use super::{file_info, hex, new_id, unhex};
use crate::clock::now_ms;
use crate::error::from_store;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use magpie_proto::{
    ByteRange, ErrorCode, InstantAnswer, InstantChallenge, InstantOffer, InstantProof, UserId,
};
use magpie_store::files::{FilePurpose, FileRecord};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Content up to this size is proved whole.
pub const WHOLE_PROOF_BYTES: u64 = 1024 * 1024;
/// Ranges asked of larger content.
pub const RANGES: usize = 4;
/// Length of each range.
pub const RANGE_BYTES: u64 = 64 * 1024;
/// How long a challenge may be answered.
const CHALLENGE_TTL_MS: i64 = 5 * 60 * 1000;

/// The signed terms of a challenge.
#[derive(Debug, Serialize, Deserialize)]
struct Terms {
    user: UserId,
    sha256: String,
    size: u64,
    name: String,
    nonce: String,
    ranges: Vec<ByteRange>,
    exp: i64,
}

fn sign(secret: &[u8], payload: &str) -> Hmac<Sha256> {
    super::keyed_mac(secret, "magpie-instant", &[payload.as_bytes()])
}

/// Ranges to ask of `size` bytes.
fn pick_ranges(size: u64) -> Vec<ByteRange> {
    if size <= WHOLE_PROOF_BYTES {
        return vec![ByteRange {
            offset: 0,
            length: size,
        }];
    }
    let mut rng = rand::rng();
    (0..RANGES)
        .map(|_| ByteRange {
            offset: rng.random_range(0..=size - RANGE_BYTES),
            length: RANGE_BYTES,
        })
        .collect()
}

/// The proof for one range, as the client computes it.
pub fn range_proof(nonce: &[u8], bytes: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(nonce);
    hasher.update(bytes);
    hasher.finalize().into()
}

fn parse_sha(text: &str) -> Result<[u8; 32], Failure> {
    unhex(text)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidArgs,
                "sha256 must be 64 hex digits",
            )
        })
}

/// `POST /api/files/instant`.
pub async fn offer(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    let user = super::http::authenticate(&state, &headers).await?;
    let offer: InstantOffer = super::http::json_body(&body)?;
    super::http::rate_limit(&state, user)?;
    let sha = parse_sha(&offer.sha256)?;
    let files = &state.files;
    if offer.size > files.limits().max_file_bytes {
        return Err(Failure::from(magpie_proto::ErrorBody::new(
            ErrorCode::FileTooLarge,
            "the file is larger than this server's limit",
        )));
    }
    let blob = state.store.blob(&sha).await.map_err(from_store)?;
    let Some(blob) = blob.filter(|b| u64::try_from(b.size).ok() == Some(offer.size)) else {
        return Ok(Json(InstantAnswer {
            stored: false,
            challenge: None,
        })
        .into_response());
    };
    let nonce: [u8; 16] = rand::rng().random();
    let terms = Terms {
        user,
        sha256: hex(&blob.sha256),
        size: offer.size,
        name: super::clean_name(&offer.name),
        nonce: hex(&nonce),
        ranges: pick_ranges(offer.size),
        exp: now_ms() + CHALLENGE_TTL_MS,
    };
    let payload = B64URL.encode(serde_json::to_vec(&terms).map_err(super::internal)?);
    let sig = B64URL.encode(sign(files.secret(), &payload).finalize().into_bytes());
    Ok(Json(InstantAnswer {
        stored: true,
        challenge: Some(InstantChallenge {
            challenge: format!("{payload}.{sig}"),
            nonce: terms.nonce,
            ranges: terms.ranges,
            expires_at: terms.exp,
        }),
    })
    .into_response())
}

/// `POST /api/files/instant/proof`.
pub async fn prove(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    let user = super::http::authenticate(&state, &headers).await?;
    let proof: InstantProof = super::http::json_body(&body)?;
    let files = &state.files;
    let refused = || {
        Failure::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "the proof does not match, or the challenge is not yours or has expired; upload the file",
        )
    };
    let (payload, sig) = proof.challenge.split_once('.').ok_or_else(refused)?;
    let sig = B64URL.decode(sig).map_err(|_| refused())?;
    sign(files.secret(), payload)
        .verify_slice(&sig)
        .map_err(|_| refused())?;
    let terms: Terms = B64URL
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(refused)?;
    if terms.user != user || terms.exp < now_ms() || proof.proofs.len() != terms.ranges.len() {
        return Err(refused());
    }
    let sha = parse_sha(&terms.sha256)?;
    let nonce = unhex(&terms.nonce).ok_or_else(refused)?;
    let Some(blob) = state.store.blob(&sha).await.map_err(from_store)? else {
        return Err(gone());
    };
    let mut all_match = true;
    for (range, answer) in terms.ranges.iter().zip(&proof.proofs) {
        let bytes = if range.length == 0 {
            bytes::Bytes::new()
        } else {
            files
                .storage()
                .read_range(&blob.storage_key, range.offset..range.offset + range.length)
                .await
                .map_err(|e| Failure::from(super::internal(e)))?
        };
        let want = range_proof(&nonce, &bytes);
        let given = unhex(answer).unwrap_or_default();
        use subtle::ConstantTimeEq;
        all_match &= bool::from(want.as_slice().ct_eq(&given));
    }
    if !all_match {
        return Err(refused());
    }
    let file = FileRecord {
        id: new_id(),
        owner: user,
        name: terms.name,
        purpose: FilePurpose::Upload,
        conv: None,
        seq: None,
        created_at: now_ms(),
        blob,
    };
    let quota = files.quota_of(user).await?;
    let made = state
        .store
        .reference_blob(&file, quota)
        .await
        .map_err(from_store)?
        .ok_or_else(gone)?;
    Ok((StatusCode::CREATED, Json(file_info(&made))).into_response())
}

/// The content was deleted between the offer and the proof.
fn gone() -> Failure {
    Failure::new(
        StatusCode::NOT_FOUND,
        ErrorCode::UnknownFile,
        "the content is no longer stored; upload the file",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_content_is_proved_whole_and_large_by_ranges_inside_it() {
        assert_eq!(
            pick_ranges(10),
            vec![ByteRange {
                offset: 0,
                length: 10
            }]
        );
        let size = 10 * 1024 * 1024;
        let ranges = pick_ranges(size);
        assert_eq!(ranges.len(), RANGES);
        assert!(ranges.iter().all(|r| r.offset + r.length <= size));
    }
}
