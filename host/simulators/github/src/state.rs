//! State shared by the server, the admin endpoints, the webhook dispatcher and the handle.

use std::sync::Arc;

use crate::clock::SimClock;
use crate::faults::FaultSet;
use crate::log::RequestLog;
use crate::ratelimit::RateLimiter;
use crate::scenario::{Index, Scenario};
use crate::views::Urls;
use crate::views::runs::Ctx;
use crate::webhooks::Webhooks;

/// Everything a request handler needs.
#[derive(Debug)]
pub struct Shared {
    /// The world being served (immutable after start).
    pub scenario: Arc<Scenario>,
    /// Lookup tables over `scenario`.
    pub index: Index,
    /// Simulated clock.
    pub clock: SimClock,
    /// Active fault rules.
    pub faults: FaultSet,
    /// Request log.
    pub log: RequestLog,
    /// Primary rate-limit budgets.
    pub limiter: RateLimiter,
    /// Outbound webhook subscriptions and delivery log.
    pub webhooks: Webhooks,
    /// Link roots for bodies and `Link` headers.
    pub urls: Urls,
    /// Serve under `/api/v3` like GitHub Enterprise Server.
    pub enterprise: bool,
    /// Accepted `X-GitHub-Api-Version` values, most recent first.
    pub api_versions: Vec<String>,
}

impl Shared {
    /// The view context over this state.
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            s: &self.scenario,
            ix: &self.index,
            urls: &self.urls,
        }
    }
}
