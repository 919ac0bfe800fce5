//! buildsnap's snapshot domain: the words and records a deploy snapshot is
//! made of, and the two pure rules over them (freeze, summary).
//!
//! Store, capture, HTTP API and plugin runtime all use these types, so a new
//! status or a new build field is one edit here plus what the compiler then
//! points at. The crate does no I/O and knows nothing of SQLite, HTTP or WIT:
//! the host maps the plugin contract's records onto these types in one place
//! (`capture::index`).
//!
//! | module | what |
//! | --- | --- |
//! | [`status`] | the status vocabulary and the snapshot's summary word |
//! | [`job_kind`] | what kind of job: build, approval, or the provider's own word |
//! | [`indexed`] | builds and jobs as the index holds them now (freeze's input) |
//! | [`frozen`] | builds and jobs as a snapshot shows them (freeze's output) |
//! | [`snapshot`] | `<snapshot>`, its state, and the final snapshot a capture writes |
//! | [`report`] | what a commit search looked at and why it stopped |
//! | [`freeze`] | pure: builds now + deploy time → the builds as they were then |
//! | [`summary`] | pure: one status word for a snapshot |
//! | [`ts`] | timestamps: RFC 3339 UTC outside, Unix nanoseconds in databases |
//!
//! Byte compatibility: snapshots are stored as JSON text and served as
//! stored. The serialised forms here are declared field by field in
//! alphabetical order because the text written before these types existed
//! came from `serde_json` maps, which sort their keys; the store's fixture
//! test holds them to that text.

#![warn(missing_docs)]

pub mod freeze;
pub mod frozen;
pub mod indexed;
pub mod job_kind;
pub mod report;
pub mod snapshot;
pub mod status;
pub mod summary;
pub mod ts;

pub use frozen::{FrozenBuild, FrozenJob};
pub use indexed::{IndexedBuild, IndexedJob, JobUpdate};
pub use job_kind::JobKind;
pub use report::{SearchReport, StopReason};
pub use snapshot::{FinalSnapshot, Snapshot, SnapshotState};
pub use status::{Status, Summary, UnknownWord};
