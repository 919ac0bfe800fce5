//! Contract `buildsnap:provider@0.1.0` (frozen in `wit/since_v0.1.0/`):
//! its bindings and the host side of its imports.
//!
//! The generated types of the newest contract are also the host's own
//! record types (Zed style); an older contract, when there is one, gets its
//! own module converting into them.

use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};

use crate::runtime::outbound::{OutError, OutRequest};
use crate::runtime::state::PluginState;

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit/since_v0.1.0",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use self::buildsnap::provider::types;
pub use exports::buildsnap::provider::provider;

/// The contract version this module serves.
pub const VERSION: &str = "0.1.0";

pub fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    Plugin::add_to_linker::<PluginState, HasSelf<PluginState>>(linker, |state| state)
}

impl self::buildsnap::provider::types::Host for PluginState {}

impl self::buildsnap::provider::log::Host for PluginState {
    async fn log(&mut self, level: self::buildsnap::provider::log::Level, message: String) -> wasmtime::Result<()> {
        use self::buildsnap::provider::log::Level;
        let level = match level {
            Level::Trace => tracing::Level::TRACE,
            Level::Debug => tracing::Level::DEBUG,
            Level::Info => tracing::Level::INFO,
            Level::Warn => tracing::Level::WARN,
            Level::Error => tracing::Level::ERROR,
        };
        self.logs.log(&self.plugin, level, &message);
        Ok(())
    }
}

use self::buildsnap::provider::http as wit_http;

fn to_out(req: wit_http::Request) -> OutRequest {
    use wit_http::Method;
    let method = match req.method {
        Method::Get => reqwest::Method::GET,
        Method::Head => reqwest::Method::HEAD,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    };
    OutRequest {
        method,
        url: req.url,
        headers: req.headers,
        body: req.body,
        timeout: req.timeout_ms.map(|ms| Duration::from_millis(ms.into())),
    }
}

fn from_out(
    result: Result<crate::runtime::outbound::OutResponse, OutError>,
) -> Result<wit_http::Response, wit_http::Error> {
    match result {
        Ok(r) => Ok(wit_http::Response { status: r.status, headers: r.headers, body: r.body }),
        Err(OutError::Denied(why)) => Err(wit_http::Error::Denied(why)),
        Err(OutError::Timeout) => Err(wit_http::Error::Timeout),
        Err(OutError::Connect(why)) => Err(wit_http::Error::Connect(why)),
        Err(OutError::TooLarge(cap)) => Err(wit_http::Error::TooLarge(cap)),
        Err(OutError::Other(why)) => Err(wit_http::Error::Other(why)),
    }
}

impl wit_http::Host for PluginState {
    async fn send(&mut self, req: wit_http::Request) -> wasmtime::Result<Result<wit_http::Response, wit_http::Error>> {
        let Some(http) = self.http.clone() else {
            return Ok(Err(wit_http::Error::Denied("HTTP is not available in this call".into())));
        };
        Ok(from_out(http.send(to_out(req)).await))
    }

    async fn send_batch(
        &mut self,
        reqs: Vec<wit_http::Request>,
    ) -> wasmtime::Result<Vec<Result<wit_http::Response, wit_http::Error>>> {
        let Some(http) = self.http.clone() else {
            let denied = || Err(wit_http::Error::Denied("HTTP is not available in this call".into()));
            return Ok(reqs.iter().map(|_| denied()).collect());
        };
        let answers = http.send_batch(reqs.into_iter().map(to_out).collect()).await;
        Ok(answers.into_iter().map(from_out).collect())
    }
}
