//! Who may do what, and the trace of what was done: pure functions, no I/O and no clock.
//!
//! - [`role`]: the contract's roles and what each may do ([`Action`]).
//! - [`scope`]: SMART v2 (and v1) `system/` scopes and what they allow.
//! - [`token`]: bearer tokens: their form, and the hash that is all the store keeps of them.
//! - [`smart`]: SMART Backend Services client assertions (signed JWTs), checked against the
//!   client's registered keys, the token endpoint's URL and a time passed in.
//! - [`audit`]: AuditEvent resources and the hash chain that makes a deleted or altered entry
//!   detectable.
//!
//! Architecture invariant: this crate decides; it never reads a database, a clock or the network.
//! The server and the CLI fetch what it needs and act on its answers.

pub mod audit;
pub mod role;
pub mod scope;
pub mod smart;
pub mod token;

pub use role::{authorize, Action, Denial, Principal, Role, Subject};
pub use scope::{Interaction, Scope, ScopeSet};
