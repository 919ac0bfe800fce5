//! Calling a provider's exports by index, shared by every contract version.
//!
//! Calls do not go through the generated `PluginPre::instantiate_async`:
//! that type-checks every export on every instantiation, which was about a
//! tenth of a fresh instance + `describe` (docs/performance.md, "Plugin
//! runtime"). Here the indices are resolved once at load and each call
//! type-checks only the export it calls, still safely (`get_typed_func`).

use wasmtime::Store;
use wasmtime::component::{
    ComponentExportIndex, ComponentNamedList, Instance, InstancePre, Lift, Lower,
};

use crate::runtime::state::PluginState;

/// A component ready to instantiate, with the indices of one contract
/// version's exports (in the order of that version's `EXPORTS` list).
#[derive(Clone)]
pub struct IndexedPre {
    pre: InstancePre<PluginState>,
    idx: Vec<ComponentExportIndex>,
}

impl IndexedPre {
    /// Resolves every name of `exports` inside the interface
    /// `buildsnap:provider/provider@<version>`; fails naming the first one
    /// the component lacks.
    pub fn new(
        pre: InstancePre<PluginState>,
        version: &str,
        exports: &[&str],
    ) -> wasmtime::Result<Self> {
        let component = pre.component();
        let iface_name = format!("buildsnap:provider/provider@{version}");
        let iface = component
            .get_export_index(None, &iface_name)
            .ok_or_else(|| wasmtime::format_err!("no export {iface_name}"))?;
        let idx = exports
            .iter()
            .map(|name| {
                component
                    .get_export_index(Some(&iface), name)
                    .ok_or_else(|| wasmtime::format_err!("no export {name} in {iface_name}"))
            })
            .collect::<wasmtime::Result<_>>()?;
        Ok(IndexedPre { pre, idx })
    }

    /// A fresh instance in `store`; exports are type-checked per call.
    pub async fn instantiate(&self, store: &mut Store<PluginState>) -> wasmtime::Result<Indexed> {
        Ok(Indexed {
            instance: self.pre.instantiate_async(&mut *store).await?,
            idx: self.idx.clone(),
        })
    }
}

/// One instance, its exports by index.
pub struct Indexed {
    instance: Instance,
    idx: Vec<ComponentExportIndex>,
}

impl Indexed {
    /// Calls export number `n` (of the version's `EXPORTS`) with `params`,
    /// checking its type against `P` and `R` first.
    pub async fn call<P, R>(
        &self,
        store: &mut Store<PluginState>,
        n: usize,
        params: P,
    ) -> wasmtime::Result<R>
    where
        P: ComponentNamedList + Lower + Send + Sync,
        R: ComponentNamedList + Lift + Send + Sync + 'static,
    {
        let f = self
            .instance
            .get_typed_func::<P, R>(&mut *store, &self.idx[n])?;
        f.call_async(&mut *store, params).await
    }
}
