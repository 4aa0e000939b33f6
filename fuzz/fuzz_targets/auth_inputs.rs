//! Everything a caller controls on the way into authorization: the Authorization header, a
//! scope string, a client assertion, and (for `salus audit verify` over a tampered database) a
//! ledger line. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use salus_auth::{audit, smart, token, ScopeSet};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(t) = token::from_authorization(text) {
        let _ = token::is_well_formed(t);
    }
    if let Ok(scopes) = ScopeSet::parse(text) {
        // What parses prints back to something that parses to the same scopes.
        let again = ScopeSet::parse(&scopes.to_string()).expect("printed scopes parse");
        assert_eq!(again, scopes);
    }
    let _ = smart::claimed_client(text);
    let empty = smart::parse_jwks(r#"{"keys":[]}"#).err();
    debug_assert!(empty.is_some());
    let _ = audit::parse_ledger_line(text);
});
