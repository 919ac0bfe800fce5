//! buildsnap's HTTP API v1 on tokio + hyper 1.
//!
//! Wiring (the host binary):
//! ```no_run
//! # async fn f(store: buildsnap_store::Store, services: std::sync::Arc<dyn buildsnap_services::HostServices>) -> std::io::Result<()> {
//! let app = buildsnap_api::App::builder().store(store).services(services).build().unwrap();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! app.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
//! Contract: `docs/http-api.md` at the repository root; its machine-readable
//! form is the OpenAPI document served at `GET /api/v1/openapi.json`.

#![warn(missing_docs)]

mod admission;
mod auth;
mod body;
mod conn;
mod errors;
mod openapi;
mod requests;
mod router;
mod routes;
mod server;
mod state;

pub use admission::DEFAULT_MAX_CONNECTIONS;
pub use buildsnap_store::{Account, ProviderToken};
pub use errors::ApiError;
pub use openapi::OPENAPI_JSON;
pub use requests::{CheckedBody, RequestBody, check_request_body};
pub use server::{App, AppBuilder, BuildError, MAX_BODY_BYTES, REQUEST_ID_HEADER};
