//! The provider contract's WIT folders, held to their promises:
//!
//! - both `wit/since_v0.1.0/` and `wit/since_v0.2.0/` parse and resolve;
//! - 0.1.0 is frozen: its files are pinned by SHA-256, byte for byte;
//! - 0.2.0 is package `buildsnap:provider@0.2.0`, shaped like 0.1.0 (same
//!   world name, same imports and exports) so one host module per version
//!   maps cleanly, and carries the items issue 19 named;
//! - every interface, type, field, case and function of 0.2.0 is
//!   documented for plugin authors;
//! - the host can generate bindings for the 0.2.0 world and a component
//!   built for it type-checks against them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wit_parser::{
    Docs, InterfaceId, PackageId, Resolve, Type, TypeDefKind, TypeOwner, WorldId, WorldItem,
};

/// `wit/since_vX.Y.Z/` of the repository.
fn folder(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("wit")
        .join(format!("since_v{version}"))
}

/// The resolved package of one folder.
fn load(version: &str) -> (Resolve, PackageId) {
    let mut resolve = Resolve::new();
    let (pkg, _) = resolve
        .push_dir(folder(version))
        .unwrap_or_else(|e| panic!("wit/since_v{version} does not parse: {e:?}"));
    (resolve, pkg)
}

/// The world named `plugin` of a package.
fn plugin_world(resolve: &Resolve, pkg: PackageId) -> WorldId {
    *resolve.packages[pkg]
        .worlds
        .get("plugin")
        .expect("the package has a `plugin` world")
}

/// SHA-256 of each file of `wit/since_v0.1.0/` when 0.1.0 was released.
/// These files are never edited: a plugin built against them must keep
/// loading. A change to any of them belongs in a new version folder.
const V0_1_0_FILES: &[(&str, &str)] = &[
    (
        "http.wit",
        "89d5ee2363eecf182b7ba7a4c7e532ad3be156298036fdbd6ea1849d4e01a1e1",
    ),
    (
        "log.wit",
        "c91811ac77ff60fa221c5842c44c80931fc9482ea5ed58a0f188d2cebca536a8",
    ),
    (
        "provider.wit",
        "55a7fe3d729ff5a24a0e48f9bedb24db89343509f365828aedecabba1704e3ce",
    ),
    (
        "types.wit",
        "f12a1378ecacec6cc933a90814f0d7a0a72990832df73d32c7122a3cc7ffb61c",
    ),
    (
        "world.wit",
        "bfa02a87a609b6cc29f0892b7cbfe8b7b17ea4e8cc9d6764ba55aeb89370aef6",
    ),
];

#[test]
fn contract_0_1_0_is_byte_identical_to_its_release() {
    let dir = folder("0.1.0");
    let mut found: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            let bytes = std::fs::read(entry.path()).unwrap();
            (name, hex::encode(Sha256::digest(&bytes)))
        })
        .collect();
    found.sort();
    let pinned: Vec<(String, String)> = V0_1_0_FILES
        .iter()
        .map(|(n, h)| (n.to_string(), h.to_string()))
        .collect();
    assert_eq!(
        found, pinned,
        "wit/since_v0.1.0/ changed: released contracts are frozen; put changes in a new version folder"
    );
}

#[test]
fn both_contracts_parse_with_their_versions() {
    for version in ["0.1.0", "0.2.0"] {
        let (resolve, pkg) = load(version);
        let name = &resolve.packages[pkg].name;
        assert_eq!(
            (name.namespace.as_str(), name.name.as_str()),
            ("buildsnap", "provider"),
            "wit/since_v{version}"
        );
        assert_eq!(
            name.version.as_ref().map(ToString::to_string).as_deref(),
            Some(version),
            "wit/since_v{version} declares its own version"
        );
    }
}

/// The names of some world items (interfaces by their name).
fn item_names<'a>(
    resolve: &Resolve,
    items: impl Iterator<Item = &'a WorldItem>,
) -> BTreeSet<String> {
    items
        .map(|item| match item {
            WorldItem::Interface { id, .. } => resolve.interfaces[*id]
                .name
                .clone()
                .expect("named interface"),
            WorldItem::Function(f) => f.name.clone(),
            WorldItem::Type { id, .. } => resolve.types[*id].name.clone().unwrap_or_default(),
        })
        .collect()
}

/// The world's imports and exports, by name, with the types-only
/// interfaces they pull in.
fn world_shape(resolve: &Resolve, world: WorldId) -> (BTreeSet<String>, BTreeSet<String>) {
    let w = &resolve.worlds[world];
    (
        item_names(resolve, w.imports.values()),
        item_names(resolve, w.exports.values()),
    )
}

#[test]
fn contract_0_2_0_keeps_the_shape_of_0_1_0() {
    let (old, old_pkg) = load("0.1.0");
    let (new, new_pkg) = load("0.2.0");
    let old_shape = world_shape(&old, plugin_world(&old, old_pkg));
    let new_shape = world_shape(&new, plugin_world(&new, new_pkg));
    assert_eq!(new_shape, old_shape);
    let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(new_shape.0, set(&["http", "log", "types"]));
    assert_eq!(new_shape.1, set(&["provider"]));
    let interfaces = |r: &Resolve, p: PackageId| {
        r.packages[p]
            .interfaces
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(interfaces(&new, new_pkg), interfaces(&old, old_pkg));
}

/// An interface of the 0.2.0 package by name.
fn interface(resolve: &Resolve, pkg: PackageId, name: &str) -> InterfaceId {
    resolve.packages[pkg].interfaces[name]
}

/// The kind of a named type of an interface.
fn kind<'a>(resolve: &'a Resolve, iface: InterfaceId, name: &str) -> &'a TypeDefKind {
    let id = resolve.interfaces[iface]
        .types
        .get(name)
        .unwrap_or_else(|| panic!("no type `{name}`"));
    &resolve.types[*id].kind
}

/// Field names of a record, case names of a variant or enum.
fn members(kind: &TypeDefKind) -> Vec<&str> {
    match kind {
        TypeDefKind::Record(r) => r.fields.iter().map(|f| f.name.as_str()).collect(),
        TypeDefKind::Variant(v) => v.cases.iter().map(|c| c.name.as_str()).collect(),
        TypeDefKind::Enum(e) => e.cases.iter().map(|c| c.name.as_str()).collect(),
        other => panic!("not a record, variant or enum: {other:?}"),
    }
}

/// Asserts `kind` has every one of `expected` (in any order, among others).
fn has(resolve: &Resolve, iface: InterfaceId, ty: &str, expected: &[&str]) {
    let found = members(kind(resolve, iface, ty));
    for name in expected {
        assert!(found.contains(name), "`{ty}` lacks `{name}`: {found:?}");
    }
}

/// The items issue 19 asks of 0.2.0 are there, under the names plugin
/// authors and the later host module rely on.
#[test]
fn contract_0_2_0_carries_what_issue_19_names() {
    let (r, pkg) = load("0.2.0");
    let types = interface(&r, pkg, "types");
    let http = interface(&r, pkg, "http");
    let provider = interface(&r, pkg, "provider");

    has(
        &r,
        types,
        "build",
        &["attempt", "parent-id", "jobs-complete"],
    );
    has(&r, types, "job", &["attempt", "kind"]);
    has(&r, types, "job-kind", &["build", "approval", "other"]);
    has(&r, types, "call-context", &["now", "base-url", "settings"]);
    has(&r, types, "rate-limit", &["until", "message"]);

    has(&r, http, "request", &["conditional"]);
    has(&r, http, "response", &["cache-state", "received-at"]);
    has(&r, http, "cache-state", &["fresh", "revalidated", "miss"]);
    has(&r, http, "error", &["paused"]);

    has(
        &r,
        provider,
        "descriptor",
        &["max-concurrency", "rate-limits", "webhooks"],
    );
    assert!(
        !members(kind(&r, provider, "descriptor")).contains(&"token-help-url"),
        "the token help URL is an export taking the call context now"
    );
    has(
        &r,
        provider,
        "rate-limit-rule",
        &["statuses", "headers", "reset", "fallback-ms"],
    );
    has(
        &r,
        provider,
        "reset-source",
        &["epoch-header", "delay-header", "none"],
    );
    has(
        &r,
        provider,
        "webhook-scheme",
        &["hmac-sha256", "shared-token", "by-plugin"],
    );
    has(
        &r,
        provider,
        "hmac-signature",
        &["header", "prefix", "comma-separated"],
    );
    has(&r, provider, "webhook-config", &["delivery-id-header"]);
    has(
        &r,
        provider,
        "project-query",
        &["search", "cursor", "limit"],
    );
    has(&r, provider, "project-page", &["projects", "next"]);
    has(
        &r,
        provider,
        "sha-resolution",
        &["full", "not-found", "ambiguous", "unsupported"],
    );
    has(
        &r,
        provider,
        "stop-reason",
        &[
            "horizon",
            "not-before",
            "end-of-history",
            "past-matches",
            "page-loop",
        ],
    );
    has(
        &r,
        provider,
        "webhook-request",
        &["delivery-id", "received-at", "verified", "secrets"],
    );
    has(&r, provider, "webhook-event", &["builds", "jobs"]);
    has(&r, provider, "job-update", &["build-id", "job"]);

    // Every export but `describe` (called at load, before any integration
    // exists) takes the call context first.
    let funcs = &r.interfaces[provider].functions;
    let expected = [
        ("describe", vec![]),
        ("token-help-url", vec!["ctx"]),
        ("validate-credentials", vec!["ctx"]),
        ("list-projects", vec!["ctx", "query"]),
        ("project-for-repo", vec!["ctx", "repo-url"]),
        ("resolve-sha", vec!["ctx", "project", "prefix"]),
        ("builds-for-commit", vec!["ctx", "query"]),
        ("sync", vec!["ctx", "req"]),
        ("parse-webhook", vec!["ctx", "req"]),
    ];
    let found: Vec<(&str, Vec<&str>)> = funcs
        .values()
        .map(|f| {
            let params = f.params.iter().map(|p| p.name.as_str()).collect();
            (f.name.as_str(), params)
        })
        .collect();
    assert_eq!(found, expected);
}

/// Every undocumented item of a package, as `interface.type.member` paths.
/// Types brought in with `use` are documented where they are defined.
fn undocumented(resolve: &Resolve, pkg: PackageId) -> Vec<String> {
    fn check(missing: &mut Vec<String>, docs: &Docs, path: String) {
        let text = docs.contents.as_deref().unwrap_or("").trim();
        if text.is_empty() {
            missing.push(path);
        }
    }
    let mut missing = Vec::new();
    let package = &resolve.packages[pkg];
    for (name, id) in &package.worlds {
        check(
            &mut missing,
            &resolve.worlds[*id].docs,
            format!("world {name}"),
        );
    }
    for (iname, iid) in &package.interfaces {
        let iface = &resolve.interfaces[*iid];
        check(&mut missing, &iface.docs, format!("interface {iname}"));
        for (tname, tid) in &iface.types {
            let ty = &resolve.types[*tid];
            // A `use`d type is an alias of a type owned by another interface.
            if let TypeDefKind::Type(Type::Id(target)) = ty.kind
                && resolve.types[target].owner != TypeOwner::Interface(*iid)
            {
                continue;
            }
            let at = format!("{iname}.{tname}");
            check(&mut missing, &ty.docs, at.clone());
            match &ty.kind {
                TypeDefKind::Record(r) => {
                    for f in &r.fields {
                        check(&mut missing, &f.docs, format!("{at}.{}", f.name));
                    }
                }
                TypeDefKind::Variant(v) => {
                    for c in &v.cases {
                        check(&mut missing, &c.docs, format!("{at}.{}", c.name));
                    }
                }
                TypeDefKind::Enum(e) => {
                    for c in &e.cases {
                        check(&mut missing, &c.docs, format!("{at}.{}", c.name));
                    }
                }
                TypeDefKind::Flags(fl) => {
                    for f in &fl.flags {
                        check(&mut missing, &f.docs, format!("{at}.{}", f.name));
                    }
                }
                _ => {}
            }
        }
        for (fname, func) in &iface.functions {
            check(&mut missing, &func.docs, format!("{iname}.{fname}()"));
        }
    }
    missing
}

#[test]
fn every_item_of_contract_0_2_0_is_documented() {
    let (resolve, pkg) = load("0.2.0");
    let missing = undocumented(&resolve, pkg);
    assert!(
        missing.is_empty(),
        "undocumented in wit/since_v0.2.0 (add `///` comments saying what the host does with it \
         and what a plugin must do): {missing:#?}"
    );
}

/// The documentation walk finds what is missing at every level, so the
/// test above cannot pass by looking at nothing.
#[test]
fn the_documentation_walk_finds_each_kind_of_gap() {
    let mut resolve = Resolve::new();
    let pkg = resolve
        .push_str(
            "gaps.wit",
            "package test:gaps@1.0.0;
             /// Documented.
             interface i {
                 use j.{shared};
                 record r { /// Documented.
                     a: u8, b: u8 }
                 /// Documented.
                 variant v { x, /// Documented.
                     y(u8) }
                 /// Documented.
                 enum e { /// Documented.
                     p, q }
                 /// Documented.
                 flags f { g }
                 /// Documented.
                 type alias = shared;
                 run: func();
             }
             interface j {
                 /// Documented.
                 type shared = u32;
             }
             world w { export i; }",
        )
        .unwrap();
    // Interfaces come in dependency order (`j` first); compare as a set.
    let mut missing = undocumented(&resolve, pkg);
    missing.sort();
    let mut expected = vec![
        "world w",
        "i.r",
        "i.r.b",
        "i.v.x",
        "i.e.q",
        "i.f.g",
        "i.run()",
        "interface j",
    ];
    expected.sort();
    assert_eq!(missing, expected);
}

/// Host-side bindings of the 0.2.0 world, generated the way the host
/// module for 0.2.0 will generate them
/// (`host/src/runtime/wit/since_v0_1_0.rs` for 0.1.0).
mod v0_2_0 {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit/since_v0.2.0",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

/// A core module for `world` whose exports all trap (`unreachable`) and
/// whose imports are the world's, wrapped into a component with
/// `wit-component` as `cargo xtask plugins` wraps real plugins. It has
/// the exact types a plugin built for the world has, without a wasm
/// toolchain.
fn trapping_component(resolve: &Resolve, world: WorldId) -> Vec<u8> {
    use wasm_encoder::{
        CodeSection, EntityType, ExportKind, ExportSection, Function, FunctionSection,
        ImportSection, Instruction, MemorySection, MemoryType, Module, TypeSection, ValType,
    };
    use wit_parser::abi::WasmType;
    use wit_parser::{LiftLowerAbi, ManglingAndAbi, WasmExport, WasmExportKind, WasmImport};

    // wit-bindgen's names and the synchronous canonical ABI.
    let mangling = ManglingAndAbi::Legacy(LiftLowerAbi::Sync);
    let val = |t: &WasmType| match t {
        WasmType::I32 | WasmType::Pointer | WasmType::Length => ValType::I32,
        WasmType::I64 | WasmType::PointerOrI64 => ValType::I64,
        WasmType::F32 => ValType::F32,
        WasmType::F64 => ValType::F64,
    };
    let mut types = TypeSection::new();
    let mut imports = ImportSection::new();
    let mut funcs = FunctionSection::new();
    let mut exports = ExportSection::new();
    let mut code = CodeSection::new();
    let mut next_type = 0u32;
    let mut ty = |types: &mut TypeSection, params: Vec<ValType>, results: Vec<ValType>| {
        types.ty().function(params, results);
        next_type += 1;
        next_type - 1
    };
    let w = &resolve.worlds[world];
    let mut imported = 0u32;
    for (key, item) in &w.imports {
        let WorldItem::Interface { id, .. } = item else {
            continue;
        };
        for func in resolve.interfaces[*id].functions.values() {
            let sig = resolve.wasm_signature(mangling.import_variant(), func);
            let t = ty(
                &mut types,
                sig.params.iter().map(val).collect(),
                sig.results.iter().map(val).collect(),
            );
            let (module, name) = resolve.wasm_import_name(
                mangling,
                WasmImport::Func {
                    interface: Some(key),
                    func,
                },
            );
            imports.import(&module, &name, EntityType::Function(t));
            imported += 1;
        }
    }
    let mut defined = 0u32;
    let mut define = |funcs: &mut FunctionSection,
                      code: &mut CodeSection,
                      exports: &mut ExportSection,
                      t: u32,
                      name: &str,
                      trap: bool| {
        funcs.function(t);
        let mut body = Function::new([]);
        if trap {
            body.instruction(&Instruction::Unreachable);
        }
        body.instruction(&Instruction::End);
        code.function(&body);
        exports.export(name, ExportKind::Func, imported + defined);
        defined += 1;
    };
    for (key, item) in &w.exports {
        let WorldItem::Interface { id, .. } = item else {
            continue;
        };
        for func in resolve.interfaces[*id].functions.values() {
            let sig = resolve.wasm_signature(mangling.export_variant(), func);
            let results: Vec<ValType> = sig.results.iter().map(val).collect();
            let t = ty(
                &mut types,
                sig.params.iter().map(val).collect(),
                results.clone(),
            );
            let export = |kind| {
                resolve.wasm_export_name(
                    mangling,
                    WasmExport::Func {
                        interface: Some(key),
                        func,
                        kind,
                    },
                )
            };
            let name = export(WasmExportKind::Normal);
            define(&mut funcs, &mut code, &mut exports, t, &name, true);
            let post = ty(&mut types, results, vec![]);
            let name = export(WasmExportKind::PostReturn);
            define(&mut funcs, &mut code, &mut exports, post, &name, false);
        }
    }
    let realloc = ty(&mut types, vec![ValType::I32; 4], vec![ValType::I32]);
    let name = resolve.wasm_export_name(mangling, WasmExport::Realloc);
    define(&mut funcs, &mut code, &mut exports, realloc, &name, true);
    let mut memory = MemorySection::new();
    memory.memory(MemoryType {
        minimum: 1,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let name = resolve.wasm_export_name(mangling, WasmExport::Memory);
    exports.export(&name, ExportKind::Memory, 0);

    let mut module = Module::new();
    module
        .section(&types)
        .section(&imports)
        .section(&funcs)
        .section(&memory)
        .section(&exports)
        .section(&code);
    let mut bytes = module.finish();
    wit_component::embed_component_metadata(
        &mut bytes,
        resolve,
        world,
        wit_component::StringEncoding::UTF8,
        false,
    )
    .unwrap();
    wit_component::ComponentEncoder::default()
        .module(&bytes)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap()
}

/// The imports a host module for 0.2.0 must provide, here answering
/// every request with `denied` (the trapping guest sends none).
#[derive(Default)]
struct NoNetwork {
    logged: Vec<String>,
}

impl v0_2_0::buildsnap::provider::types::Host for NoNetwork {}

impl v0_2_0::buildsnap::provider::log::Host for NoNetwork {
    async fn log(
        &mut self,
        _level: v0_2_0::buildsnap::provider::log::Level,
        message: String,
    ) -> wasmtime::Result<()> {
        self.logged.push(message);
        Ok(())
    }
}

impl v0_2_0::buildsnap::provider::http::Host for NoNetwork {
    async fn send(
        &mut self,
        _req: v0_2_0::buildsnap::provider::http::Request,
    ) -> wasmtime::Result<
        Result<
            v0_2_0::buildsnap::provider::http::Response,
            v0_2_0::buildsnap::provider::http::Error,
        >,
    > {
        Ok(Err(v0_2_0::buildsnap::provider::http::Error::Denied(
            "no network in this test".into(),
        )))
    }

    async fn send_batch(
        &mut self,
        reqs: Vec<v0_2_0::buildsnap::provider::http::Request>,
    ) -> wasmtime::Result<
        Vec<
            Result<
                v0_2_0::buildsnap::provider::http::Response,
                v0_2_0::buildsnap::provider::http::Error,
            >,
        >,
    > {
        let mut out = Vec::with_capacity(reqs.len());
        for req in reqs {
            out.push(self.send(req).await?);
        }
        Ok(out)
    }
}

/// The host's bindings for 0.2.0 link and type-check a component built for
/// the 0.2.0 world, and its exports are reachable through them: calling
/// `describe` runs the guest's code (which traps by design).
#[tokio::test]
async fn host_bindings_of_0_2_0_accept_a_component_built_for_it() {
    use wasmtime::component::{Component, HasSelf, Linker};
    use wasmtime::{Config, Engine, Store, Trap};

    let (resolve, pkg) = load("0.2.0");
    let bytes = trapping_component(&resolve, plugin_world(&resolve, pkg));

    let engine = Engine::new(&Config::new()).unwrap();
    let component = Component::new(&engine, &bytes).unwrap();
    let mut linker = Linker::<NoNetwork>::new(&engine);
    v0_2_0::Plugin::add_to_linker::<NoNetwork, HasSelf<NoNetwork>>(&mut linker, |s| s).unwrap();
    let pre = v0_2_0::PluginPre::new(linker.instantiate_pre(&component).unwrap())
        .expect("the component's exports have the 0.2.0 types");
    let mut store = Store::new(&engine, NoNetwork::default());
    let plugin = pre.instantiate_async(&mut store).await.unwrap();
    let err = plugin
        .buildsnap_provider_provider()
        .call_describe(&mut store)
        .await
        .expect_err("the guest traps");
    assert_eq!(
        err.downcast_ref::<Trap>(),
        Some(&Trap::UnreachableCodeReached),
        "{err:?}"
    );
    assert!(store.data().logged.is_empty());
}

/// A component built for a contract this host does not know (0.3.0 here:
/// the 0.2.0 folder under a new version) is refused with a message naming
/// the versions it serves, and a component built for 0.2.0 gets past the
/// version check to its `describe` (which traps by design).
#[tokio::test]
async fn a_0_3_0_component_is_refused_naming_the_served_versions() {
    use buildsnap::runtime::{LoadError, Registry};

    // wit/since_v0.2.0 restamped as 0.3.0: same items, a version no host serves.
    let next = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(folder("0.2.0")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            next.path().join(path.file_name().unwrap()),
            text.replace("@0.2.0", "@0.3.0"),
        )
        .unwrap();
    }
    let mut resolve = Resolve::new();
    let (pkg, _) = resolve.push_dir(next.path()).unwrap();
    assert_eq!(
        resolve.packages[pkg]
            .name
            .version
            .as_ref()
            .unwrap()
            .to_string(),
        "0.3.0"
    );
    let (current, current_pkg) = load("0.2.0");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a-next.wasm"),
        trapping_component(&resolve, plugin_world(&resolve, pkg)),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b-current.wasm"),
        trapping_component(&current, plugin_world(&current, current_pkg)),
    )
    .unwrap();
    let registry = Registry::builder()
        .plugins_dir(dir.path())
        .build()
        .await
        .unwrap();
    let failures = registry.failures();
    assert_eq!(failures.len(), 2, "{failures:?}");
    let message = failures[0].error.to_string();
    assert!(
        matches!(failures[0].error, LoadError::UnsupportedVersion { .. }),
        "{message}"
    );
    assert!(
        message.contains("0.3.0") && message.contains("0.2.0") && message.contains("0.1.0"),
        "{message}"
    );
    let current = failures[1].error.to_string();
    assert!(
        !matches!(failures[1].error, LoadError::UnsupportedVersion { .. }),
        "{current}"
    );
    assert!(current.contains("describe"), "{current}");
}
