//! What the security layer keeps: bearer tokens (as hashes), SMART clients and the assertion
//! ids they used, and the hash-chained audit trail. The store keeps and finds; `salus-auth`
//! decides what the rows mean.

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;

use crate::conn::Bind;
use crate::pg_copy::CopyTable;
use crate::{Backend, Result, Store};

/// A stored bearer token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct TokenRow {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub role: String,
    #[diesel(sql_type = Text)]
    pub scopes: String,
    #[diesel(sql_type = Text)]
    pub token_hash: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub client_id: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub created_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub expires_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub revoked_at: Option<i64>,
}

/// A registered SMART Backend Services client.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct ClientRow {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub role: String,
    #[diesel(sql_type = Text)]
    pub scopes: String,
    #[diesel(sql_type = Text)]
    pub jwks: String,
    #[diesel(sql_type = BigInt)]
    pub created_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub revoked_at: Option<i64>,
}

/// One audit ledger entry, to append or as read back: its place, its canonical line and its
/// hash. The store keeps it; `salus-auth` says what the line means and how it is hashed.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct AuditRow {
    #[diesel(sql_type = BigInt)]
    pub seq: i64,
    #[diesel(sql_type = Text)]
    pub line: String,
    #[diesel(sql_type = Text)]
    pub hash: String,
}

const TOKEN_COLUMNS: &str =
    "id, name, role, scopes, token_hash, client_id, created_at, expires_at, revoked_at";
const CLIENT_COLUMNS: &str = "id, name, role, scopes, jwks, created_at, revoked_at";

impl Store {
    pub fn create_token(&self, token: &TokenRow) -> Result<()> {
        let mut pooled = self.connection()?;
        pooled.conn().execute(
            &format!("INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            vec![
                token.id.as_str().into(),
                token.name.as_str().into(),
                token.role.as_str().into(),
                token.scopes.as_str().into(),
                token.token_hash.as_str().into(),
                Bind::OptText(token.client_id.clone()),
                Bind::Int(token.created_at),
                Bind::OptInt(token.expires_at),
                Bind::OptInt(token.revoked_at),
            ],
        )?;
        Ok(())
    }

    /// The token with this hash, revoked or not (the caller decides).
    pub fn find_token(&self, token_hash: &str) -> Result<Option<TokenRow>> {
        let mut pooled = self.reader()?;
        let mut rows: Vec<TokenRow> = pooled.conn().load_prepared(
            &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ?"),
            vec![token_hash.into()],
        )?;
        Ok(rows.pop())
    }

    /// Tokens made with `salus token create` (not the short-lived ones issued to clients).
    pub fn list_tokens(&self) -> Result<Vec<TokenRow>> {
        let mut pooled = self.reader()?;
        Ok(pooled.conn().load(
            &format!(
                "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE client_id IS NULL ORDER BY created_at, id"
            ),
            vec![],
        )?)
    }

    /// Revoke the tokens with this id or name; how many were revoked.
    pub fn revoke_token(&self, id_or_name: &str, now: i64) -> Result<usize> {
        let mut pooled = self.connection()?;
        Ok(pooled.conn().execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE (id = ? OR name = ?) AND revoked_at IS NULL AND client_id IS NULL",
            vec![Bind::Int(now), id_or_name.into(), id_or_name.into()],
        )?)
    }

    pub fn register_client(&self, client: &ClientRow) -> Result<()> {
        let mut pooled = self.connection()?;
        pooled.conn().execute(
            &format!("INSERT INTO smart_clients ({CLIENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"),
            vec![
                client.id.as_str().into(),
                client.name.as_str().into(),
                client.role.as_str().into(),
                client.scopes.as_str().into(),
                client.jwks.as_str().into(),
                Bind::Int(client.created_at),
                Bind::OptInt(client.revoked_at),
            ],
        )?;
        Ok(())
    }

    pub fn find_client(&self, id: &str) -> Result<Option<ClientRow>> {
        let mut pooled = self.reader()?;
        let mut rows: Vec<ClientRow> = pooled.conn().load_prepared(
            &format!("SELECT {CLIENT_COLUMNS} FROM smart_clients WHERE id = ?"),
            vec![id.into()],
        )?;
        Ok(rows.pop())
    }

    pub fn list_clients(&self) -> Result<Vec<ClientRow>> {
        let mut pooled = self.reader()?;
        Ok(pooled.conn().load(
            &format!("SELECT {CLIENT_COLUMNS} FROM smart_clients ORDER BY created_at, id"),
            vec![],
        )?)
    }

    /// Revoke a client and every access token issued to it; how many clients were revoked.
    pub fn revoke_client(&self, id_or_name: &str, now: i64) -> Result<usize> {
        self.transaction(|conn| {
            let n = conn.execute(
                "UPDATE smart_clients SET revoked_at = ? WHERE (id = ? OR name = ?) AND revoked_at IS NULL",
                vec![Bind::Int(now), id_or_name.into(), id_or_name.into()],
            )?;
            conn.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND client_id IN \
                 (SELECT id FROM smart_clients WHERE id = ? OR name = ?)",
                vec![Bind::Int(now), id_or_name.into(), id_or_name.into()],
            )?;
            Ok(n)
        })
    }

    /// Remember an assertion id until it expires. `false` when it was already used: a replay.
    /// Expired ids and expired access tokens are cleared on the way.
    pub fn remember_jti(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool> {
        self.transaction(|conn| {
            conn.execute("DELETE FROM smart_jtis WHERE expires_at < ?", vec![Bind::Int(now)])?;
            conn.execute(
                "DELETE FROM api_tokens WHERE client_id IS NOT NULL AND expires_at < ?",
                vec![Bind::Int(now - 86_400_000_000)],
            )?;
            let inserted = conn.execute(
                "INSERT INTO smart_jtis (client_id, jti, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                vec![client_id.into(), jti.into(), Bind::Int(expires_at)],
            )?;
            Ok(inserted == 1)
        })
    }

    /// Append audit entries at the end of the chain, as one block, in one transaction that
    /// holds the chain (other appenders, in this process or another, wait): `make` gets the last
    /// entry's sequence number and hash (0 and `genesis` for an empty trail) and returns the
    /// entries, numbered on from it, with the references each names.
    pub fn append_audit<F>(&self, genesis: &str, make: F) -> Result<usize>
    where
        F: FnOnce(i64, &str) -> Vec<(AuditRow, Vec<String>)>,
    {
        let backend = self.backend();
        self.transaction(|conn| {
            if backend == Backend::Postgres {
                // SQLite's IMMEDIATE transaction already excludes other writers; PostgreSQL
                // needs a lock that makes the read of the head and the insert one step.
                conn.execute_prepared("SELECT pg_advisory_xact_lock(7318004113)", vec![])?;
            }
            let head: Vec<HeadRow> = conn.load_prepared(
                "SELECT last_seq, last_hash FROM audit_blocks ORDER BY first_seq DESC LIMIT 1",
                vec![],
            )?;
            let (seq, hash) = match head.first() {
                Some(block) => (block.last_seq, block.last_hash.clone()),
                None => (0, genesis.to_owned()),
            };
            let rows = make(seq, &hash);
            let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
                return Ok(0);
            };
            let (first_seq, last_seq, last_hash) = (first.0.seq, last.0.seq, last.0.hash.clone());
            let mut lines = String::new();
            let mut hashes = String::new();
            let mut references: Vec<String> = Vec::new();
            for (i, (row, refs)) in rows.iter().enumerate() {
                if i > 0 {
                    lines.push('\n');
                    hashes.push('\n');
                }
                // Ledger lines are JSON, whose strings escape newlines: a line never holds one,
                // so newlines separate entries unambiguously.
                debug_assert!(!row.line.contains('\n'));
                lines.push_str(&row.line);
                hashes.push_str(&row.hash);
                references.extend(refs.iter().cloned());
            }
            references.sort();
            references.dedup();
            conn.execute_prepared(
                "INSERT INTO audit_blocks (first_seq, last_seq, lines, hashes, last_hash) VALUES (?, ?, ?, ?, ?)",
                vec![
                    Bind::Int(first_seq),
                    Bind::Int(last_seq),
                    lines.into(),
                    hashes.into(),
                    last_hash.into(),
                ],
            )?;
            conn.insert_rows(
                CopyTable::AuditEntities,
                "audit_entities (reference, first_seq)",
                2,
                references
                    .into_iter()
                    .flat_map(|r| [r.into(), Bind::Int(first_seq)])
                    .collect(),
            )?;
            Ok(rows.len())
        })
    }

    /// Audit entries in chain order after `after`, `limit` of them unless the trail ends first
    /// (for verification and scans).
    pub fn audit_page(&self, after: i64, limit: i64) -> Result<Vec<AuditRow>> {
        let mut pooled = self.reader()?;
        let mut conn = pooled.conn();
        let mut out = Vec::new();
        // Blocks from the one holding `after + 1` on.
        let mut from: i64 = {
            let rows: Vec<SeqRow> = conn.load_prepared(
                "SELECT COALESCE(MAX(first_seq), 0) AS seq FROM audit_blocks WHERE first_seq <= ?",
                vec![Bind::Int(after + 1)],
            )?;
            rows.first().map_or(0, |r| r.seq)
        };
        while (out.len() as i64) < limit {
            let blocks: Vec<BlockRow> = conn.load_prepared(
                "SELECT first_seq, lines, hashes FROM audit_blocks WHERE first_seq >= ? ORDER BY first_seq LIMIT 16",
                vec![Bind::Int(from)],
            )?;
            let Some(last) = blocks.last() else { break };
            from = last.first_seq + 1;
            for block in &blocks {
                out.extend(block.entries().filter(|e| e.seq > after));
            }
        }
        out.truncate(limit.max(0) as usize);
        Ok(out)
    }

    /// One audit entry by its sequence number.
    pub fn audit_entry(&self, seq: i64) -> Result<Option<AuditRow>> {
        let mut pooled = self.reader()?;
        let blocks: Vec<BlockRow> = pooled.conn().load_prepared(
            "SELECT first_seq, lines, hashes FROM audit_blocks WHERE first_seq <= ? ORDER BY first_seq DESC LIMIT 1",
            vec![Bind::Int(seq)],
        )?;
        Ok(blocks
            .first()
            .and_then(|b| b.entries().find(|e| e.seq == seq)))
    }

    /// Entries after `after` of the blocks that hold an entry naming `reference` (the caller
    /// filters them), in chain order, up to `limit` blocks' worth.
    pub fn audit_page_naming(
        &self,
        reference: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>> {
        let mut pooled = self.reader()?;
        let blocks: Vec<BlockRow> = pooled.conn().load_prepared(
            "SELECT first_seq, lines, hashes FROM audit_blocks WHERE first_seq IN \
             (SELECT first_seq FROM audit_entities WHERE reference = ? AND first_seq >= ? ORDER BY first_seq LIMIT ?) \
             ORDER BY first_seq",
            vec![
                reference.into(),
                Bind::Int(after.saturating_sub(MAX_BLOCK_ENTRIES)),
                Bind::Int(limit),
            ],
        )?;
        Ok(blocks
            .iter()
            .flat_map(|b| b.entries().collect::<Vec<_>>())
            .filter(|e| e.seq > after)
            .collect())
    }
}

/// The most entries the audit writer puts in one block (it groups at most this many).
pub const MAX_BLOCK_ENTRIES: i64 = 4096;

#[derive(QueryableByName)]
struct HeadRow {
    #[diesel(sql_type = BigInt)]
    last_seq: i64,
    #[diesel(sql_type = Text)]
    last_hash: String,
}

#[derive(QueryableByName)]
struct SeqRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
}

#[derive(QueryableByName)]
struct BlockRow {
    #[diesel(sql_type = BigInt)]
    first_seq: i64,
    #[diesel(sql_type = Text)]
    lines: String,
    #[diesel(sql_type = Text)]
    hashes: String,
}

impl BlockRow {
    /// The block's entries, numbered from its first sequence number by position. A block whose
    /// lines and hashes no longer pair up (altered) yields entries whose hash check fails.
    fn entries(&self) -> impl Iterator<Item = AuditRow> + '_ {
        let mut hashes = self.hashes.split('\n');
        self.lines
            .split('\n')
            .enumerate()
            .map(move |(i, line)| AuditRow {
                seq: self.first_seq + i as i64,
                line: line.to_owned(),
                hash: hashes.next().unwrap_or_default().to_owned(),
            })
    }
}
