//! Access requests and the grants they become.
//!
//! A caller who was denied asks for access ([`Draft`]); the host splits the
//! draft by owner team into [`AccessRequest`]s, each routed to the team
//! owning its assets. The owners' SOP plugins review a request first; what
//! they escalate waits for a human of the team ([`request::Approval`]),
//! bound to the request's [`AccessRequest::digest`]. An approved request
//! is a grant until it expires or is revoked; decisions read the live
//! grants from an in-memory index ([`ActiveGrants`]) rebuilt from the
//! [`AccessStore`] whenever it changes.

mod active;
pub mod request;
mod store;

pub use active::{ActiveGrant, ActiveGrants};
pub use request::{AccessRequest, Approval, Draft, DraftError, State, Step, Subject};
pub use store::{AccessStore, ListQuery, StoreError};
#[cfg(feature = "sqlite")]
pub use store::SqliteAccessStore;
