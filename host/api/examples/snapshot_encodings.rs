//! Measures candidate encodings of a snapshot's `builds` JSON (the column
//! that dominates a deploy's stored size) on the realistic shape that
//! `seed_deploys complete` writes: bytes per snapshot and the time to encode
//! and decode one, for zstd at levels 3/9/19 with and without a dictionary,
//! and gzip.
//!
//! `cargo run --release -p buildsnap-api --example snapshot_encodings [N]`
//!
//! The dictionary is trained on snapshots of other deploys (ids from
//! 10,000,000 on) than the N it is measured on (ids 0..N), so it cannot
//! have seen the ids, SHAs and URLs it compresses.

use std::io::Write;
use std::time::Instant;

use buildsnap_domain::{FrozenBuild, freeze};

mod realistic;
use realistic::{builds_of, sha};

fn snapshot(i: u64) -> String {
    let deployed_at =
        time::OffsetDateTime::from_unix_timestamp(1_790_000_000 + 60 * i as i64).expect("time");
    let builds: Vec<FrozenBuild> = builds_of(i, "gh/acme/web", &sha(i), deployed_at)
        .iter()
        .rev()
        .map(|b| freeze::freeze_build(b, deployed_at))
        .collect();
    serde_json::to_string(&builds).expect("json")
}

struct Row {
    name: String,
    bytes: usize,
    enc_us: f64,
    dec_us: f64,
}

fn measure(
    name: &str,
    samples: &[String],
    enc: impl Fn(&[u8]) -> Vec<u8>,
    dec: impl Fn(&[u8]) -> Vec<u8>,
) -> Row {
    let t = Instant::now();
    let encoded: Vec<Vec<u8>> = samples.iter().map(|s| enc(s.as_bytes())).collect();
    let enc_us = t.elapsed().as_secs_f64() * 1e6 / samples.len() as f64;
    let t = Instant::now();
    for (e, s) in encoded.iter().zip(samples) {
        assert_eq!(dec(e), s.as_bytes(), "{name} round trip");
    }
    let dec_us = t.elapsed().as_secs_f64() * 1e6 / samples.len() as f64;
    Row {
        name: name.to_string(),
        bytes: encoded.iter().map(Vec::len).sum::<usize>() / samples.len(),
        enc_us,
        dec_us,
    }
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map_or(2000, |a| a.parse().expect("N: a number"));
    let samples: Vec<String> = (0..n).map(snapshot).collect();
    let training: Vec<String> = (10_000_000..10_002_000).map(snapshot).collect();
    let plain = samples.iter().map(String::len).sum::<usize>() / samples.len();
    let mut rows = vec![Row {
        name: "plain JSON (today)".into(),
        bytes: plain,
        enc_us: 0.0,
        dec_us: 0.0,
    }];
    for level in [3, 9, 19] {
        rows.push(measure(
            &format!("zstd {level}"),
            &samples,
            |b| zstd::bulk::compress(b, level).expect("zstd"),
            |b| zstd::bulk::decompress(b, 1 << 20).expect("unzstd"),
        ));
    }
    for dict_size in [16 * 1024, 64 * 1024] {
        let dict = zstd::dict::from_samples(&training, dict_size).expect("train");
        for level in [3, 19] {
            let c = zstd::dict::EncoderDictionary::copy(&dict, level);
            let d = zstd::dict::DecoderDictionary::copy(&dict);
            rows.push(measure(
                &format!("zstd {level} + {} KiB dictionary", dict.len() / 1024),
                &samples,
                |b| {
                    let mut z = zstd::bulk::Compressor::with_prepared_dictionary(&c).expect("c");
                    z.compress(b).expect("zstd")
                },
                |b| {
                    let mut z = zstd::bulk::Decompressor::with_prepared_dictionary(&d).expect("d");
                    z.decompress(b, 1 << 20).expect("unzstd")
                },
            ));
        }
    }
    for level in [6, 9] {
        rows.push(measure(
            &format!("gzip {level}"),
            &samples,
            |b| {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
                e.write_all(b).expect("gzip");
                e.finish().expect("gzip")
            },
            |b| {
                let mut out = vec![];
                std::io::copy(&mut flate2::read::GzDecoder::new(b), &mut out).expect("gunzip");
                out
            },
        ));
    }
    println!("{n} snapshots, plain JSON {plain} bytes each on average");
    println!("| encoding | bytes per snapshot | ratio | encode µs | decode µs |");
    println!("| --- | --- | --- | --- | --- |");
    for r in rows {
        println!(
            "| {} | {} | {:.1}× | {:.1} | {:.1} |",
            r.name,
            r.bytes,
            plain as f64 / r.bytes as f64,
            r.enc_us,
            r.dec_us
        );
    }
}
