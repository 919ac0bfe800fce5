//! Runtime costs that matter per call and per start:
//! - fresh Store + instantiate + `describe` (the fixed cost of every call);
//! - start to ready: loading the built-in plugin from the precompiled cache
//!   vs compiling it cold.
//!
//! Run: `cargo bench -p buildsnap --bench runtime`

use std::path::PathBuf;

use buildsnap::runtime::engine::EngineSettings;
use buildsnap::runtime::{PluginSource, Registry};
use criterion::{Criterion, criterion_group, criterion_main};

fn guest(name: &str) -> Vec<u8> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    std::fs::read(root.join("tests/plugins/dist").join(format!("{name}.wasm"))).unwrap()
}

fn call_overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("fresh_store_instantiate_describe");
    let variants = [
        // Default: PAGEMAP_SCAN on, 8 MiB kept resident.
        ("pooling", EngineSettings::default()),
        (
            "pooling_keep_256k",
            EngineSettings {
                pool_keep_resident_bytes: 256 << 10,
                ..EngineSettings::default()
            },
        ),
        (
            "pooling_keep_1m",
            EngineSettings {
                pool_keep_resident_bytes: 1 << 20,
                ..EngineSettings::default()
            },
        ),
        // Without PAGEMAP_SCAN the kept size is capped at 256 KiB.
        (
            "pooling_no_scan",
            EngineSettings {
                pool_pagemap_scan: false,
                ..EngineSettings::default()
            },
        ),
        (
            "on_demand",
            EngineSettings {
                pooling: false,
                ..EngineSettings::default()
            },
        ),
        (
            "pooling_reserve_64m",
            EngineSettings {
                memory_reservation_bytes: 64 << 20,
                ..EngineSettings::default()
            },
        ),
    ];
    for (allocator, settings) in variants {
        let registry = rt
            .block_on(
                Registry::builder()
                    .engine(settings)
                    .source(PluginSource {
                        origin: "bench:echo".into(),
                        bytes: guest("echo"),
                    })
                    .build(),
            )
            .unwrap();
        for id in ["echo", "circleci"] {
            let plugin = registry.get(id).unwrap();
            group.bench_function(format!("{id}/{allocator}"), |b| {
                b.to_async(&rt)
                    .iter(|| async { plugin.describe().await.unwrap() })
            });
        }
    }
    group.finish();
}

fn start_to_ready(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("start_to_ready_builtin_circleci");
    group.sample_size(10);
    let cache = tempfile::tempdir().unwrap();
    rt.block_on(Registry::builder().cache_dir(cache.path()).build())
        .unwrap();
    group.bench_function("cached", |b| {
        b.to_async(&rt).iter(|| async {
            Registry::builder()
                .cache_dir(cache.path())
                .build()
                .await
                .unwrap()
        })
    });
    group.bench_function("cold_compile", |b| {
        b.to_async(&rt)
            .iter(|| async { Registry::builder().build().await.unwrap() })
    });
    group.finish();
}

criterion_group!(benches, call_overhead, start_to_ready);
criterion_main!(benches);
