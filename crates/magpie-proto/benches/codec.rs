//! Micro-benchmarks of the wire protocol's per-frame hot paths.
//!
//! Every request a client sends and every frame the server pushes passes
//! through this code, so its cost is paid once per frame per connection:
//!
//! - `tcp_codec/*`: the length-prefixed TCP framing
//!   ([`magpie_proto::frame::tcp_codec`]). `roundtrip_200b` encodes and
//!   decodes one typical 200-byte JSON payload; `batch_64x200b` encodes 64
//!   such frames into one buffer and decodes them all again, as happens when
//!   many frames arrive in one read (the sticky-packet case), so the cost
//!   per frame without per-read overhead shows.
//! - `request_parse/send_100b_body`: [`RequestFrame::parse`] of a `send`
//!   request with a 100-byte body, the two-step envelope-then-args parse
//!   every incoming request goes through.
//! - `push_encode/message_100b_body`: [`Push::encode`] of a message push,
//!   done once per stored message (the same bytes then go to every
//!   recipient connection).
//!
//! Run with `cargo bench -p magpie-proto --bench codec`.

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use magpie_proto::frame::{DEFAULT_MAX_FRAME_BYTES, tcp_codec};
use magpie_proto::{Message, MessageKind, Push, Request, RequestFrame, Send};
use std::hint::black_box;
use std::time::Duration;
use tokio_util::codec::{Decoder, Encoder};

/// A 100-byte message body (ASCII text, as most chat lines are).
fn body_100() -> String {
    let text: String = "The quick brown fox jumps over the lazy dog. "
        .chars()
        .cycle()
        .take(100)
        .collect();
    assert_eq!(text.len(), 100);
    text
}

/// A message as it is pushed to recipients.
fn message() -> Message {
    Message {
        file: None,
        msg_id: 1_234_567,
        conv: 4_321,
        seq: 98_765,
        from: "alice".into(),
        kind: MessageKind::Text,
        body: body_100(),
        ts: 1_767_225_600_000,
        cmid: "6f1c2a3e-8d4b-4f7a-9e21-0c5d7b3a9f18".into(),
        event: None,
        mention_all: false,
        mentions: Vec::new(),
        ..Message::default()
    }
}

/// A typical 200-byte JSON frame payload.
fn payload_200() -> Bytes {
    let mut json = String::from_utf8(Push::Message(message()).encode().to_vec())
        .expect("push encodes to UTF-8 JSON");
    // The push above is a little over 200 bytes; trim the body to land on
    // exactly 200 so the number in the bench name is true.
    let excess = json.len() - 200;
    let body = body_100();
    let shorter = &body[..body.len() - excess];
    json = json.replace(&body, shorter);
    assert_eq!(json.len(), 200, "{json}");
    Bytes::from(json)
}

fn tcp_codec_benches(c: &mut Criterion) {
    let payload = payload_200();
    let mut group = c.benchmark_group("tcp_codec");

    group.throughput(Throughput::Elements(1));
    group.bench_function("roundtrip_200b", |b| {
        let mut codec = tcp_codec(DEFAULT_MAX_FRAME_BYTES);
        let mut buf = BytesMut::with_capacity(4096);
        b.iter(|| {
            codec
                .encode(black_box(payload.clone()), &mut buf)
                .expect("encode");
            let frame = codec
                .decode(&mut buf)
                .expect("decode")
                .expect("a whole frame");
            black_box(frame);
        });
    });

    const BATCH: usize = 64;
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("batch_64x200b", |b| {
        let mut codec = tcp_codec(DEFAULT_MAX_FRAME_BYTES);
        let mut buf = BytesMut::with_capacity(BATCH * 256);
        b.iter(|| {
            for _ in 0..BATCH {
                codec
                    .encode(black_box(payload.clone()), &mut buf)
                    .expect("encode");
            }
            let mut n = 0;
            while let Some(frame) = codec.decode(&mut buf).expect("decode") {
                black_box(frame);
                n += 1;
            }
            assert_eq!(n, BATCH);
        });
    });
    group.finish();
}

fn request_parse_benches(c: &mut Criterion) {
    let frame = RequestFrame {
        id: 42,
        request: Request::Send(Send {
            file: None,
            kind: None,
            to: Some("bob".into()),
            conv: None,
            cmid: "6f1c2a3e-8d4b-4f7a-9e21-0c5d7b3a9f18".into(),
            body: body_100(),
            mention_all: false,
            mentions: Vec::new(),
            reply: None,
        }),
    };
    let json = frame.to_json();
    assert_eq!(
        RequestFrame::parse(&json).expect("the send request parses"),
        frame
    );

    let mut group = c.benchmark_group("request_parse");
    group.throughput(Throughput::Elements(1));
    group.bench_function("send_100b_body", |b| {
        b.iter(|| RequestFrame::parse(black_box(&json)).expect("parse"));
    });
    group.finish();
}

fn push_encode_benches(c: &mut Criterion) {
    let push = Push::Message(message());
    let mut group = c.benchmark_group("push_encode");
    group.throughput(Throughput::Elements(1));
    group.bench_function("message_100b_body", |b| {
        b.iter(|| black_box(&push).encode());
    });
    group.finish();
}

fn config() -> Criterion {
    // These run in nanoseconds: a short warm-up and measurement give tight
    // intervals and keep `cargo bench --workspace` quick.
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = tcp_codec_benches, request_parse_benches, push_encode_benches
}
criterion_main!(benches);
