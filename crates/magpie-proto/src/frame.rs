//! TCP framing: every JSON document travels as a 4-byte big-endian length
//! followed by that many bytes of UTF-8 JSON.
//!
//! A naive chat server reads "whatever arrived" and parses it, which breaks
//! as soon as two requests arrive in one read or one request is split over
//! two (the sticky-packet problem). The length prefix makes frame boundaries
//! explicit; the maximum length bounds how much a peer can make us buffer.
//!
//! The codec itself is tokio-util's `LengthDelimitedCodec`; this module only
//! fixes its parameters so that server and clients cannot disagree on them.

use tokio_util::codec::LengthDelimitedCodec;

/// Size of the length prefix in bytes.
pub const LENGTH_PREFIX_BYTES: usize = 4;

/// Default upper bound for one frame's payload: 1 MiB.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 1024 * 1024;

/// Default upper bound for one message body: 64 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// The TCP frame codec with the given payload limit. A frame announcing a
/// larger payload is an error before any of its payload is buffered.
pub fn tcp_codec(max_frame_bytes: usize) -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .big_endian()
        .length_field_length(LENGTH_PREFIX_BYTES)
        .max_frame_length(max_frame_bytes)
        .new_codec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, Bytes, BytesMut};
    use proptest::prelude::*;
    use tokio_util::codec::{Decoder, Encoder};

    fn encode(payloads: &[&[u8]]) -> BytesMut {
        let mut codec = tcp_codec(DEFAULT_MAX_FRAME_BYTES);
        let mut buf = BytesMut::new();
        for p in payloads {
            codec
                .encode(Bytes::copy_from_slice(p), &mut buf)
                .expect("encode");
        }
        buf
    }

    #[test]
    fn two_frames_in_one_read_decode_separately() {
        let mut buf = encode(&[b"{\"a\":1}", b"{\"b\":2}"]);
        let mut codec = tcp_codec(DEFAULT_MAX_FRAME_BYTES);
        assert_eq!(
            &codec.decode(&mut buf).expect("ok").expect("frame")[..],
            b"{\"a\":1}"
        );
        assert_eq!(
            &codec.decode(&mut buf).expect("ok").expect("frame")[..],
            b"{\"b\":2}"
        );
        assert!(codec.decode(&mut buf).expect("ok").is_none());
    }

    #[test]
    fn a_frame_split_over_reads_waits_for_the_rest() {
        let whole = encode(&[b"hello world"]);
        let mut codec = tcp_codec(DEFAULT_MAX_FRAME_BYTES);
        let mut buf = BytesMut::new();
        for (i, byte) in whole.iter().enumerate() {
            buf.put_u8(*byte);
            let got = codec.decode(&mut buf).expect("ok");
            if i + 1 < whole.len() {
                assert!(got.is_none(), "frame complete too early at byte {i}");
            } else {
                assert_eq!(&got.expect("frame")[..], b"hello world");
            }
        }
    }

    #[test]
    fn oversized_length_is_rejected_before_buffering() {
        let mut codec = tcp_codec(16);
        let mut buf = BytesMut::new();
        buf.put_u32(17);
        buf.put_slice(b"x");
        assert!(codec.decode(&mut buf).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8)) {
            let refs: Vec<&[u8]> = payloads.iter().map(|p| p.as_slice()).collect();
            let mut buf = encode(&refs);
            let mut codec = tcp_codec(DEFAULT_MAX_FRAME_BYTES);
            for p in &payloads {
                let frame = codec.decode(&mut buf).expect("ok").expect("frame");
                prop_assert_eq!(&frame[..], &p[..]);
            }
            prop_assert!(codec.decode(&mut buf).expect("ok").is_none());
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut codec = tcp_codec(1024);
            let mut buf = BytesMut::from(&data[..]);
            // Decode until the codec wants more bytes or reports an error.
            while let Ok(Some(_)) = codec.decode(&mut buf) {}
        }
    }
}
