//! `salus token`, `salus client` and `salus audit`: the security administration commands.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use salus_auth::audit::{AuditRecord, StoredEntry, Verifier};
use salus_auth::{smart, token, Role, ScopeSet};
use salus_store::{ClientRow, Store, TokenRow};

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Make a bearer token; it is printed once, on standard output, and only its hash is kept.
    Create {
        /// integrator, clinician, steward, auditor or admin.
        #[arg(long)]
        role: String,
        /// Who or what the token is for (shown in the audit trail).
        #[arg(long)]
        name: String,
        /// Days until the token expires (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// SMART scopes narrowing the role (default: every type and interaction).
        #[arg(long, default_value = "system/*.cruds")]
        scope: String,
    },
    /// List tokens (never the tokens themselves).
    List,
    /// Revoke a token by id or name.
    Revoke { id_or_name: String },
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Register a SMART Backend Services client with its public keys (a JWKS file); prints its
    /// client id.
    Register {
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
        /// The scopes it may be granted, e.g. "system/Patient.rs system/Observation.rs".
        #[arg(long)]
        scope: String,
        /// A JSON Web Key Set with the client's public RSA or P-384 keys.
        #[arg(long)]
        jwks: PathBuf,
    },
    List,
    /// Revoke a client (by id or name) and every access token issued to it.
    Revoke {
        id_or_name: String,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the audit trail's hash chain from its first entry to its last.
    Verify {
        /// The head hash recorded earlier (`salus audit verify` prints it): entries removed
        /// from the end of the trail are found only by comparing with it.
        #[arg(long)]
        expect_head: Option<String>,
    },
}

fn role(text: &str) -> Result<Role> {
    Role::parse(text).with_context(|| {
        format!("--role {text}: expected integrator, clinician, steward, auditor or admin")
    })
}

fn scopes(text: &str) -> Result<ScopeSet> {
    ScopeSet::parse(text).map_err(|problems| anyhow::anyhow!("--scope: {}", problems.join("; ")))
}

/// An audit entry for an administrative command run from the command line.
pub fn audit_cli(store: &Store, action: &str, entities: Vec<String>, status: u16) -> Result<()> {
    audit_cli_detail(store, action, entities, status, None, None)
}

/// An audit entry for a command, with the purpose it served and what it decided.
pub fn audit_cli_detail(
    store: &Store,
    action: &str,
    entities: Vec<String>,
    status: u16,
    purpose: Option<String>,
    detail: Option<String>,
) -> Result<()> {
    let who = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let record = AuditRecord {
        who: format!("cli/{who}"),
        who_name: who,
        action: action.to_owned(),
        status,
        entities,
        query: None,
        route: format!("salus {action}"),
        purpose,
        address: None,
        recorded: crate::now_micros(),
        detail,
    };
    salus_server::append_audit(store, std::iter::once(&record))
        .context("writing the audit trail")?;
    Ok(())
}

pub fn token(store: &Store, command: TokenCommand) -> Result<u8> {
    match command {
        TokenCommand::Create {
            role: role_name,
            name,
            expires_in_days,
            scope,
        } => {
            let role = role(&role_name)?;
            let scopes = scopes(&scope)?;
            if name.trim().is_empty() {
                bail!("--name must not be empty: it says whom the token is for");
            }
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret)
                .map_err(|e| anyhow::anyhow!("no randomness for a token: {e}"))?;
            let value = token::from_random(secret);
            let created = crate::now_micros();
            let row = TokenRow {
                id: uuid::Uuid::new_v4().to_string(),
                name,
                role: role.as_str().to_owned(),
                scopes: scopes.to_string(),
                token_hash: token::hash(&value),
                client_id: None,
                created_at: created,
                expires_at: expires_in_days.map(|d| created + i64::from(d) * 86_400_000_000),
                revoked_at: None,
            };
            store.create_token(&row)?;
            audit_cli(store, "token-create", vec![format!("token/{}", row.id)], 0)?;
            println!("{value}");
            eprintln!(
                "token {} for '{}' ({}): shown once, keep it secret; send it as Authorization: Bearer TOKEN",
                row.id, row.name, row.role
            );
            Ok(0)
        }
        TokenCommand::List => {
            println!(
                "{:<36}  {:<10}  {:<20}  {:<10}  name",
                "id", "role", "created", "state"
            );
            for t in store.list_tokens()? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else if t.expires_at.is_some_and(|e| e <= crate::now_micros()) {
                    "expired"
                } else {
                    "active"
                };
                println!(
                    "{:<36}  {:<10}  {:<20}  {:<10}  {}",
                    t.id,
                    t.role,
                    instant(t.created_at),
                    state,
                    t.name
                );
            }
            Ok(0)
        }
        TokenCommand::Revoke { id_or_name } => {
            let n = store.revoke_token(&id_or_name, crate::now_micros())?;
            if n == 0 {
                bail!("no active token has the id or name '{id_or_name}' (see salus token list)");
            }
            audit_cli(store, "token-revoke", vec![], 0)?;
            println!("revoked {n} token{}", if n == 1 { "" } else { "s" });
            Ok(0)
        }
    }
}

fn instant(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

pub fn client(store: &Store, command: ClientCommand) -> Result<u8> {
    match command {
        ClientCommand::Register {
            name,
            role: role_name,
            scope,
            jwks,
        } => {
            let role = role(&role_name)?;
            let scopes = scopes(&scope)?;
            let text = std::fs::read_to_string(&jwks)
                .with_context(|| format!("cannot read {}", jwks.display()))?;
            smart::parse_jwks(&text).map_err(|e| anyhow::anyhow!("{}: {e}", jwks.display()))?;
            let row = ClientRow {
                id: uuid::Uuid::new_v4().to_string(),
                name,
                role: role.as_str().to_owned(),
                scopes: scopes.to_string(),
                jwks: text,
                created_at: crate::now_micros(),
                revoked_at: None,
            };
            store.register_client(&row)?;
            audit_cli(
                store,
                "client-register",
                vec![format!("client/{}", row.id)],
                0,
            )?;
            println!("{}", row.id);
            eprintln!(
                "client '{}' registered ({}; {}): use the id above as iss and sub of its assertions",
                row.name, row.role, row.scopes
            );
            Ok(0)
        }
        ClientCommand::List => {
            println!(
                "{:<36}  {:<10}  {:<8}  {:<40}  name",
                "id", "role", "state", "scopes"
            );
            for c in store.list_clients()? {
                let state = if c.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{:<36}  {:<10}  {:<8}  {:<40}  {}",
                    c.id, c.role, state, c.scopes, c.name
                );
            }
            Ok(0)
        }
        ClientCommand::Revoke { id_or_name } => {
            let n = store.revoke_client(&id_or_name, crate::now_micros())?;
            if n == 0 {
                bail!("no active client has the id or name '{id_or_name}' (see salus client list)");
            }
            audit_cli(store, "client-revoke", vec![], 0)?;
            println!("revoked {n} client{}", if n == 1 { "" } else { "s" });
            Ok(0)
        }
    }
}

pub fn audit(store: &Store, command: AuditCommand) -> Result<u8> {
    let AuditCommand::Verify { expect_head } = command;
    let mut verifier = Verifier::default();
    let mut after = 0;
    loop {
        let page = store.audit_page(after, 1000)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for row in page {
            let entry = StoredEntry {
                sequence: row.seq,
                line: row.line,
                hash: row.hash,
            };
            if let Err(broken) = verifier.push(&entry) {
                eprintln!(
                    "audit trail broken at entry {}: {}",
                    broken.sequence, broken.reason
                );
                return Ok(1);
            }
        }
    }
    let head = verifier.head();
    if let Some(expected) = expect_head {
        if expected != head.hash {
            eprintln!(
                "audit trail ends at entry {} with hash {}, not the expected head {expected}: entries were removed from its end, or the expected head is from another trail",
                head.sequence, head.hash
            );
            return Ok(1);
        }
    }
    println!(
        "audit trail intact: {} entries; head {} {}",
        head.entries, head.sequence, head.hash
    );
    Ok(0)
}
