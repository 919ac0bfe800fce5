//! The CircleCI end-to-end suites (search, faults, boundaries) against the
//! CircleCI component as it shipped for contract 0.1.0, kept as a fixture
//! (`tests/plugins/dist/circleci-0.1.0.wasm`): a plugin built for the old
//! contract keeps loading and working in a host whose types are 0.2.0's.
//! Where the contracts differ (0.2.0 counts re-runs as attempts; 0.1.0
//! verifies webhooks in the plugin), the suites say what each one gives.

#[path = "support/circleci_cases.rs"]
mod cases;
#[path = "support/sim.rs"]
mod sim;

/// The component these tests run.
const CIRCLECI: sim::Component = sim::Component::V0_1_0;

mod search {
    include!("circleci/search.rs");
}

mod faults {
    include!("circleci/faults.rs");
}

mod boundaries {
    include!("circleci/boundaries.rs");
}
