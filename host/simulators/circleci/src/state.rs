//! State shared by the server, the admin endpoints, the webhook dispatcher and
//! the test handle.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::clock::SimClock;
use crate::faults::FaultSet;
use crate::log::RequestLog;
use crate::pagination::PageTokens;
use crate::scenario::{Index, Scenario};
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
    /// Workflows answered with 404 as if deleted by data retention.
    pub expired: Mutex<HashSet<String>>,
    /// Page token codec.
    pub pages: PageTokens,
    /// Accept the deprecated `circle-token` query parameter.
    pub allow_query_token: bool,
    /// Outbound webhook subscriptions and delivery log.
    pub webhooks: Webhooks,
}
