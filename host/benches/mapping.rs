//! Mapping 10,000 CircleCI jobs' JSON: the CircleCI plugin as a wasm
//! component vs the same Rust code compiled natively.
//!
//! One scenario, served by the CircleCI simulator on 127.0.0.1: 50
//! pipelines of one commit, each with 10 workflows of 20 jobs (10,000 jobs,
//! 500 builds). A `builds-for-commit` for that commit reads 3 pipeline
//! pages, 50 workflow lists and 500 job lists (553 GETs, about 5 MB of
//! JSON) and maps all of it. Four ways of running that same search:
//!
//! | id | code | where the 553 bodies come from |
//! |---|---|---|
//! | `native/in-memory` | `buildsnap_circleci::search::builds_for_commit` (rlib) | a `Transport` serving the recorded bodies from a map |
//! | `component/in-memory` | `BUILTIN_CIRCLECI` on the host's engine settings, fresh instance per call | the `http` import answered from the same map (bench-local embedding) |
//! | `component/host+simulator` | the real host: `Registry` → `Plugin::builds_for_commit` | the host's outbound HTTP (policy, auth header, retries) to the simulator |
//! | `native/loopback+simulator` | the rlib | reqwest to the simulator, batches 8 at a time like the host |
//!
//! The bodies of the in-memory runs are recorded from the simulator by a
//! native loopback run, so all four parse the same bytes, and the results
//! are checked to be the same builds before anything is timed.
//!
//! Run: `cargo bench -p buildsnap --bench mapping` (add `PERF_MAP=1` to
//! profile the guest with `perf record`). A summary (medians,
//! ratios, component size) is printed at the end, then the in-memory ratio
//! once more from interleaved blocks of runs (`INTERLEAVED_ROUNDS` rounds,
//! default 20): native, the component, and the component on a 64 MiB
//! reservation (bounds checks on), and the component with its result left
//! in guest memory, one block after the other in each round. On a shared
//! VM those ratios are the ones to quote: criterion's groups run seconds
//! apart, and the machine's speed drifts in between.
//!
//! Last come the aims of issue 4, as `docs/performance.md` ("What the 1.5×
//! aim measures") defines them: the mapping ratio is the plugin's own work
//! against native; the full call, with the host's copy of the result, is
//! printed beside it.
//!
//! The last case splits the component's time in two. The plugin's own work
//! is instantiation, the answers copied in, parsing and mapping into its
//! own records, and the store thrown away: the same work the native run
//! does, in wasm. The rest is the host lifting the result (~95,000 strings
//! bounds-checked, UTF-8 checked and copied into host `String`s), a cost of
//! the contract's copy-out boundary that a native library does not have.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use buildsnap::runtime::engine::{EngineSettings, deadline_ticks};
use buildsnap::runtime::limits::PluginLimits;
use buildsnap::runtime::origin::AllowList;
use buildsnap::runtime::registry::BUILTIN_CIRCLECI;
use buildsnap::runtime::{Credential, Integration, Registry};
use buildsnap_circleci::transport::Transport;
use buildsnap_circleci::wit as native;
use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec, stable_sha};
use circleci_sim::{Scenario, SimHandle, SimOptions, Simulator};
use criterion::Criterion;
use futures::StreamExt;
use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

const TOKEN: &str = "bench-token";
const PROJECT: &str = "gh/bench/app";
const PIPELINES: i64 = 50;
const WORKFLOWS: usize = 10;
const JOBS: usize = 20;

// ------------------------------------------------------------------ scenario

fn scenario(sha: &str) -> Scenario {
    let mut b = Scenario::builder().user("bench", TOKEN).project(PROJECT);
    let statuses = [
        "success", "success", "success", "failed", "canceled", "running", "not_run", "blocked",
    ];
    for n in 1..=PIPELINES {
        let mut p =
            PipelineSpec::new(n)
                .revision(sha)
                .branch(if n % 3 == 0 { "develop" } else { "main" });
        for w in 0..WORKFLOWS {
            let mut wf = WorkflowSpec::new(&format!("workflow-{w}")).status(if w % 4 == 3 {
                "failed"
            } else {
                "success"
            });
            for j in 0..JOBS {
                wf = if j == JOBS - 1 && w % 2 == 0 {
                    wf.job(JobSpec::approval("hold").status("success"))
                } else {
                    wf.job(
                        JobSpec::new(&format!("job-{j}"))
                            .status(statuses[(j + w) % statuses.len()]),
                    )
                };
            }
            p = p.workflow(wf);
        }
        b = b.pipeline(p);
    }
    b.build().expect("bench scenario")
}

// ------------------------------------------------------------------ native transports

#[derive(Clone)]
struct Recorded {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Recorded {
    fn native(&self) -> native::Response {
        native::Response {
            status: self.status,
            headers: self.headers.clone(),
            body: self.body.clone(),
            cache_state: native::CacheState::Miss,
            received_at: 0,
        }
    }
}

/// Serves recorded answers by URL (the plugin's tests' fake, without the checks).
struct InMemory(Arc<HashMap<String, Recorded>>);

impl InMemory {
    fn answer(&self, url: &str) -> Result<native::Response, native::HttpError> {
        self.0
            .get(url)
            .map(Recorded::native)
            .ok_or_else(|| native::HttpError::Other(format!("not recorded: {url}")))
    }
}

impl Transport for InMemory {
    fn send(&self, req: &native::Request) -> Result<native::Response, native::HttpError> {
        self.answer(&req.url)
    }
    fn send_batch(
        &self,
        reqs: &[native::Request],
    ) -> Vec<Result<native::Response, native::HttpError>> {
        reqs.iter().map(|r| self.answer(&r.url)).collect()
    }
}

/// Real HTTP to the simulator from native code: reqwest with the token
/// header, batches 8 at a time (the host's default `batch_concurrency`).
/// Optionally records every answer.
struct Loopback {
    rt: tokio::runtime::Handle,
    client: reqwest::Client,
    record: Option<RefCell<HashMap<String, Recorded>>>,
}

impl Loopback {
    async fn fetch(&self, req: &native::Request) -> Result<Recorded, native::HttpError> {
        let mut rb = self.client.get(&req.url).header("circle-token", TOKEN);
        for (k, v) in &req.headers {
            rb = rb.header(k, v);
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| native::HttpError::Other(e.to_string()))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp
            .bytes()
            .await
            .map_err(|e| native::HttpError::Other(e.to_string()))?
            .to_vec();
        Ok(Recorded {
            status,
            headers,
            body,
        })
    }

    fn keep(&self, url: &str, r: &Result<Recorded, native::HttpError>) {
        if let (Some(map), Ok(r)) = (&self.record, r) {
            map.borrow_mut().insert(url.to_string(), r.clone());
        }
    }
}

impl Transport for Loopback {
    fn send(&self, req: &native::Request) -> Result<native::Response, native::HttpError> {
        let r = self.rt.block_on(self.fetch(req));
        self.keep(&req.url, &r);
        r.map(|r| r.native())
    }
    fn send_batch(
        &self,
        reqs: &[native::Request],
    ) -> Vec<Result<native::Response, native::HttpError>> {
        let answers: Vec<_> = self.rt.block_on(
            futures::stream::iter(reqs)
                .map(|r| self.fetch(r))
                .buffered(8)
                .collect(),
        );
        reqs.iter()
            .zip(answers)
            .map(|(req, r)| {
                self.keep(&req.url, &r);
                r.map(|r| r.native())
            })
            .collect()
    }
}

/// The [`Shape`] of a list of builds. A macro, not a function: the native
/// rlib, the bench's guest bindings and the host's bindings each have their
/// own `Build` type with the same fields.
macro_rules! shape_of {
    ($builds:expr) => {
        $builds
            .iter()
            .map(|b| {
                (
                    b.id.clone(),
                    b.jobs.iter().map(|j| j.id.clone()).collect::<Vec<_>>(),
                    b.jobs_complete,
                    b.url.clone(),
                )
            })
            .collect::<Shape>()
    };
}

// ------------------------------------------------------------------ component, in-memory http import

mod guest {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit/since_v0.2.0",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

use guest::buildsnap::provider::http as ghttp;

struct MemState {
    bodies: Arc<HashMap<String, Recorded>>,
}

impl MemState {
    fn answer(&self, url: &str) -> Result<ghttp::Response, ghttp::Error> {
        match self.bodies.get(url) {
            Some(r) => Ok(ghttp::Response {
                status: r.status,
                headers: r.headers.clone(),
                body: r.body.clone(),
                cache_state: ghttp::CacheState::Miss,
                received_at: 0,
            }),
            None => Err(ghttp::Error::Other(format!("not recorded: {url}"))),
        }
    }
}

impl guest::buildsnap::provider::types::Host for MemState {}

impl guest::buildsnap::provider::log::Host for MemState {
    async fn log(
        &mut self,
        _level: guest::buildsnap::provider::log::Level,
        _message: String,
    ) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl ghttp::Host for MemState {
    async fn send(
        &mut self,
        req: ghttp::Request,
    ) -> wasmtime::Result<Result<ghttp::Response, ghttp::Error>> {
        Ok(self.answer(&req.url))
    }
    async fn send_batch(
        &mut self,
        reqs: Vec<ghttp::Request>,
    ) -> wasmtime::Result<Vec<Result<ghttp::Response, ghttp::Error>>> {
        Ok(reqs.iter().map(|r| self.answer(&r.url)).collect())
    }
}

/// The built-in component on an engine with the host's own settings
/// (pooling, epochs, Cranelift `Speed`), instantiated fresh per call like
/// the host does, with the `http` import answered from memory.
struct MemComponent {
    engine: wasmtime::Engine,
    pre: guest::PluginPre<MemState>,
    /// `builds-for-commit`, for calling it with the result left in place.
    export: wasmtime::component::ComponentExportIndex,
    bodies: Arc<HashMap<String, Recorded>>,
}

impl MemComponent {
    fn new(bodies: Arc<HashMap<String, Recorded>>, settings: EngineSettings) -> MemComponent {
        // PERF_MAP=1 names the guest's functions for `perf report` (by index:
        // map them with the name section of the unstripped core module in
        // target/wasm/wasm32-unknown-unknown/plugin/).
        let settings = EngineSettings {
            perf_map: std::env::var_os("PERF_MAP").is_some(),
            ..settings
        };
        let engine = settings.build().expect("engine");
        let component = Component::new(&engine, BUILTIN_CIRCLECI).expect("component compiles");
        let mut linker = Linker::new(&engine);
        guest::Plugin::add_to_linker::<MemState, HasSelf<MemState>>(&mut linker, |s| s)
            .expect("link");
        let pre =
            guest::PluginPre::new(linker.instantiate_pre(&component).expect("instantiate_pre"))
                .expect("pre");
        let (_, iface) = component
            .get_export(None, "buildsnap:provider/provider@0.2.0")
            .expect("interface");
        let (_, export) = component
            .get_export(Some(&iface), "builds-for-commit")
            .expect("export");
        MemComponent {
            engine,
            pre,
            export,
            bodies,
        }
    }

    /// A fresh store with the host's call deadline, as the host makes one
    /// per call.
    fn store(&self) -> Store<MemState> {
        let mut store = Store::new(
            &self.engine,
            MemState {
                bodies: self.bodies.clone(),
            },
        );
        store.set_epoch_deadline(deadline_ticks(Duration::from_secs(300)));
        store.epoch_deadline_trap();
        store
    }

    async fn builds_for_commit(
        &self,
        base: &str,
        sha: &str,
    ) -> guest::exports::buildsnap::provider::provider::CommitBuilds {
        let mut store = self.store();
        let instance = self
            .pre
            .instantiate_async(&mut store)
            .await
            .expect("instantiate");
        let (ctx, query) = guest_args(base, sha);
        instance
            .buildsnap_provider_provider()
            .call_builds_for_commit(&mut store, &ctx, &query)
            .await
            .expect("no trap")
            .expect("no provider error")
    }
}

/// The call context and query of the bench's search, as the guest
/// bindings spell them.
fn guest_args(
    base: &str,
    sha: &str,
) -> (
    guest::buildsnap::provider::types::CallContext,
    guest::exports::buildsnap::provider::provider::CommitQuery,
) {
    use guest::exports::buildsnap::provider::provider::{CommitQuery, Horizon};
    let ctx = guest::buildsnap::provider::types::CallContext {
        now: 0,
        base_url: base.to_string(),
        settings: vec![],
    };
    let query = CommitQuery {
        project: PROJECT.into(),
        sha: sha.into(),
        branch: None,
        horizon: Horizon {
            max_pipelines: 1_000,
            not_before: None,
        },
    };
    (ctx, query)
}

/// The export's result as the canonical ABI leaves it in guest memory: a
/// pointer and a length, nothing copied out. Reading it in place (or
/// lifting it later) is the host's part of the call; leaving it lets the
/// bench time the plugin's own part alone.
#[derive(wasmtime::component::ComponentType, wasmtime::component::Lift)]
#[component(record)]
struct BuildsInGuest {
    builds: wasmtime::component::WasmList<guest::buildsnap::provider::types::Build>,
    // Unread, but part of the type: the record must match the WIT's.
    #[allow(dead_code)]
    report: guest::exports::buildsnap::provider::provider::SearchReport,
}

impl MemComponent {
    /// `builds-for-commit` with the result left in guest memory: the
    /// plugin's own work (instantiation, the 553 answers copied in, parsing
    /// and mapping into its own records, the store thrown away), without
    /// the host lifting ~95,000 strings out. `check` lifts the result after
    /// all, to compare it with the native one.
    async fn builds_in_guest(&self, base: &str, sha: &str, check: Option<&Shape>) -> usize {
        use guest::buildsnap::provider::types::{CallContext, ProviderError};
        use guest::exports::buildsnap::provider::provider::CommitQuery;
        let mut store = self.store();
        let instance = self
            .pre
            .instance_pre()
            .instantiate_async(&mut store)
            .await
            .expect("instantiate");
        let (ctx, query) = guest_args(base, sha);
        let func = instance
            .get_typed_func::<(&CallContext, &CommitQuery), (Result<BuildsInGuest, ProviderError>,)>(&mut store, self.export)
            .expect("typed export");
        let (result,) = func
            .call_async(&mut store, (&ctx, &query))
            .await
            .expect("no trap");
        let found = result.expect("no provider error");
        if let Some(shape) = check {
            let builds: Vec<_> = found
                .builds
                .iter(&mut store)
                .expect("list")
                .map(|b| b.expect("build"))
                .collect();
            assert_eq!(
                &shape_of!(builds),
                shape,
                "component (result in guest memory) = native"
            );
        }
        found.builds.len()
    }
}

// ------------------------------------------------------------------ main

fn native_query(sha: &str) -> native::CommitQuery {
    native::CommitQuery {
        project: PROJECT.into(),
        sha: sha.into(),
        branch: None,
        horizon: native::Horizon {
            max_pipelines: 1_000,
            not_before: None,
        },
    }
}

fn native_search(t: &dyn Transport, base: &str, sha: &str) -> native::CommitBuilds {
    let ctx = native::CallContext {
        now: 0,
        base_url: base.to_string(),
        settings: vec![],
    };
    let out = buildsnap_circleci::search::builds_for_commit(t, &ctx, &native_query(sha))
        .expect("native search");
    // Natively, log lines pile up per thread; drop them each run.
    let _ = buildsnap_circleci::logging::take_lines();
    out
}

/// (build id, job ids, jobs-complete, link) of each build, to check that
/// every variant produced the same answer.
type Shape = Vec<(String, Vec<String>, bool, Option<String>)>;

fn count_jobs(s: &Shape) -> usize {
    s.iter().map(|b| b.1.len()).sum()
}

// Also the root of `mapping_mimalloc`, which includes this file as a module.
#[allow(dead_code)]
fn main() {
    run("the system allocator (glibc)");
}

/// The whole bench, in a process whose global allocator is `allocator`
/// (named for the printout only).
pub fn run(allocator: &str) {
    println!("host process allocator: {allocator}");
    let started = std::time::SystemTime::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sha = stable_sha("bench:mapping");
    let sim: SimHandle = rt.block_on(async {
        Simulator::start(
            scenario(&sha),
            SimOptions {
                clock_running: Some(false),
                ..SimOptions::default()
            },
        )
        .await
        .expect("simulator")
    });
    let base = sim.base_url();

    // Record the bodies with a native loopback run.
    let recorder = Loopback {
        rt: rt.handle().clone(),
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        record: Some(RefCell::new(HashMap::new())),
    };
    let reference = native_search(&recorder, &base, &sha);
    let recorded = recorder.record.unwrap().into_inner();
    let requests = sim.requests().len();
    let body_bytes: usize = recorded.values().map(|r| r.body.len()).sum();
    let bodies = Arc::new(recorded);
    let shape = shape_of!(reference.builds);
    assert_eq!(shape.len(), PIPELINES as usize * WORKFLOWS);
    assert_eq!(count_jobs(&shape), PIPELINES as usize * WORKFLOWS * JOBS);
    assert!(shape.iter().all(|b| b.2), "every job list complete");

    // Everyone must give the same answer.
    let mem = InMemory(bodies.clone());
    assert_eq!(native_search(&mem, &base, &sha), reference);
    let component = MemComponent::new(bodies.clone(), EngineSettings::default());
    // The same with a reservation only as large as memories may grow: every
    // load and store then carries a bounds check (EngineSettings docs).
    let checked = MemComponent::new(
        bodies.clone(),
        EngineSettings {
            memory_reservation_bytes: 64 << 20,
            ..EngineSettings::default()
        },
    );
    let c = rt.block_on(component.builds_for_commit(&base, &sha));
    let c_shape = shape_of!(c.builds);
    assert_eq!(c_shape, shape, "component (in-memory) = native");
    assert_eq!(
        rt.block_on(component.builds_in_guest(&base, &sha, Some(&shape))),
        shape.len()
    );
    let registry = rt.block_on(async {
        Registry::builder()
            .grants(AllowList::parse(&base).unwrap())
            .limits(PluginLimits::default())
            .build()
            .await
            .unwrap()
    });
    let plugin = registry.get("circleci").unwrap();
    let integ = Integration {
        org: None,
        base_url: url::Url::parse(&base).unwrap(),
        settings: vec![],
        credential: Some(Credential::new(TOKEN)),
    };
    let host_query = buildsnap::runtime::wit::CommitQuery {
        project: PROJECT.into(),
        sha: sha.clone(),
        branch: None,
        horizon: buildsnap::runtime::wit::latest::provider::Horizon {
            max_pipelines: 1_000,
            not_before: None,
        },
    };
    sim.clear_requests();
    let h = rt
        .block_on(plugin.builds_for_commit(&integ, &host_query))
        .expect("host call");
    let h_shape = shape_of!(h.builds);
    assert_eq!(h_shape, shape, "component (host + simulator) = native");
    assert_eq!(
        sim.requests().len(),
        requests,
        "same requests through the host"
    );
    let loopback = Loopback {
        rt: rt.handle().clone(),
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        record: None,
    };

    let size = std::fs::metadata(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist/circleci.wasm"),
    )
    .map(|m| m.len())
    .unwrap_or(BUILTIN_CIRCLECI.len() as u64);
    println!(
        "scenario: {} builds, {} jobs; {requests} GETs per search, {body_bytes} bytes of JSON; component {size} bytes ({} KiB)",
        shape.len(),
        count_jobs(&shape),
        size / 1024
    );

    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8))
        .configure_from_args();
    {
        let mut g = criterion.benchmark_group("circleci_mapping_10k_jobs");
        g.bench_function("native/in-memory", |b| {
            b.iter(|| native_search(&mem, &base, &sha))
        });
        g.bench_function("component/in-memory", |b| {
            b.iter(|| rt.block_on(component.builds_for_commit(&base, &sha)))
        });
        g.bench_function("component/host+simulator", |b| {
            b.iter(|| {
                rt.block_on(plugin.builds_for_commit(&integ, &host_query))
                    .unwrap()
            })
        });
        g.bench_function("native/loopback+simulator", |b| {
            b.iter(|| native_search(&loopback, &base, &sha))
        });
        g.finish();
    }
    criterion.final_summary();

    // Medians from criterion's estimates, and the ratios.
    let dir = criterion_dir().join("circleci_mapping_10k_jobs");
    // Only estimates this process wrote: a filter that skipped a case
    // leaves an older run's file behind.
    let median = |id: &str| -> Option<f64> {
        let file = dir.join(id).join("new/estimates.json");
        if std::fs::metadata(&file).and_then(|m| m.modified()).ok()? < started {
            return None;
        }
        let text = std::fs::read_to_string(file).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v["median"]["point_estimate"].as_f64().map(|ns| ns / 1e6)
    };
    let ids = [
        "native_in-memory",
        "component_in-memory",
        "component_host+simulator",
        "native_loopback+simulator",
    ];
    let m: Vec<Option<f64>> = ids.iter().map(|id| median(id)).collect();
    println!("\nsummary (medians, ms):");
    for (id, v) in ids.iter().zip(&m) {
        println!(
            "  {id:28} {}",
            v.map_or("n/a".into(), |v| format!("{v:.2}"))
        );
    }
    if let [Some(nm), Some(cm), Some(ch), Some(nl)] = m[..] {
        println!(
            "  ratio component/native, in-memory (mapping only): {:.2}x",
            cm / nm
        );
        println!(
            "  ratio component/native, through HTTP to the simulator: {:.2}x",
            ch / nl
        );
        println!(
            "  host HTTP + simulator share of the host run: {:.1} ms of {:.1} ms",
            ch - cm,
            ch
        );
    }
    println!(
        "  component size: {size} bytes ({:.1} KiB)",
        size as f64 / 1024.0
    );

    // The ratio again, from interleaved blocks: on a shared 2-core VM the
    // machine's speed drifts over the seconds between criterion's groups.
    // Each round runs a short block of each variant back to back (so each
    // sees its own steady state: the allocator's heap as the same work left
    // it) and keeps the block's median after a warm-up run; the ratio is
    // taken within the round, where the machine was the same.
    let rounds: usize = std::env::var("INTERLEAVED_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    const BLOCK: usize = 5;
    let time = |run: &dyn Fn()| {
        run();
        let mut block: Vec<f64> = (1..BLOCK)
            .map(|_| {
                let t = std::time::Instant::now();
                run();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        block.sort_by(f64::total_cmp);
        block[block.len() / 2]
    };
    let run_native = || drop(std::hint::black_box(native_search(&mem, &base, &sha)));
    let run_component = || {
        drop(std::hint::black_box(
            rt.block_on(component.builds_for_commit(&base, &sha)),
        ))
    };
    let run_checked = || {
        drop(std::hint::black_box(
            rt.block_on(checked.builds_for_commit(&base, &sha)),
        ))
    };
    let run_in_guest = || {
        std::hint::black_box(rt.block_on(component.builds_in_guest(&base, &sha, None)));
    };
    let runs: [&dyn Fn(); 4] = [&run_native, &run_component, &run_checked, &run_in_guest];
    // times[i][round]; each round runs every block, starting with a different one.
    let mut times: Vec<Vec<f64>> = (0..runs.len())
        .map(|_| Vec::with_capacity(rounds))
        .collect();
    for round in 0..rounds {
        for k in 0..runs.len() {
            let i = (round + k) % runs.len();
            times[i].push(time(runs[i]));
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    // Median and quartiles of the per-round ratios to native.
    let ratios = |i: usize| {
        let mut r: Vec<f64> = times[i].iter().zip(&times[0]).map(|(c, n)| c / n).collect();
        r.sort_by(f64::total_cmp);
        (r[r.len() / 2], r[r.len() / 4], r[r.len() * 3 / 4])
    };
    let ratio = |i: usize| {
        let (m, lo, hi) = ratios(i);
        format!("{m:.2}x (quartiles {lo:.2}x-{hi:.2}x)")
    };
    println!(
        "\ninterleaved, {rounds} rounds of {BLOCK}-run blocks in memory (medians; ratios to native within each round):"
    );
    println!(
        "  native                                 {:.2} ms",
        median(&times[0])
    );
    println!(
        "  component                              {:.2} ms  ratio {}",
        median(&times[1]),
        ratio(1)
    );
    println!(
        "  component, 64 MiB reservation (checks) {:.2} ms  ratio {}",
        median(&times[2]),
        ratio(2)
    );
    println!(
        "  component, result left in guest memory {:.2} ms  ratio {}",
        median(&times[3]),
        ratio(3)
    );
    println!(
        "    (the plugin's own work; the difference to `component` is the host lifting the result)"
    );

    // The aims, as docs/performance.md ("What the 1.5x aim measures")
    // defines them: the mapping is the plugin's own work; the copy of its
    // result into host memory is the contract's boundary, reported beside it.
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let (own, _, _) = ratios(3);
    let (full, _, _) = ratios(1);
    println!("\naims:");
    println!(
        "  mapping inside the component / native <= 1.5x: {own:.2}x, {} (native on {allocator})",
        verdict(own <= 1.5)
    );
    println!("    (with the host's copy of the result: {full:.2}x; reported, not part of the aim)");
    println!(
        "  component size <= 300 KiB: {:.1} KiB, {}",
        size as f64 / 1024.0,
        verdict(size <= 300 * 1024)
    );
    drop(sim);
}

fn criterion_dir() -> PathBuf {
    if let Ok(home) = std::env::var("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("criterion")
}
