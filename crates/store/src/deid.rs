//! What de-identification and bulk export keep: stewards' named policies (as the text they
//! sent) and export jobs (so that a restarted server still answers a finished job's status
//! poll). The store keeps and finds; `salus-deid` says what a policy means, the server runs jobs.

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;

use crate::conn::Bind;
use crate::{Result, Store};

/// A stored de-identification policy.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct PolicyRow {
    #[diesel(sql_type = Text)]
    pub name: String,
    /// The policy document, as it was sent.
    #[diesel(sql_type = Text)]
    pub policy: String,
    /// Microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub created_at: i64,
    #[diesel(sql_type = BigInt)]
    pub updated_at: i64,
    /// Who wrote the current text (`token/ID`, `client/ID`, `cli/…`).
    #[diesel(sql_type = Text)]
    pub updated_by: String,
}

/// Where an export job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Accepted,
    InProgress,
    Complete,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Accepted => "accepted",
            JobStatus::InProgress => "in-progress",
            JobStatus::Complete => "complete",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<JobStatus> {
        [
            JobStatus::Accepted,
            JobStatus::InProgress,
            JobStatus::Complete,
            JobStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Accepted or in progress: not finished.
    pub fn is_running(self) -> bool {
        matches!(self, JobStatus::Accepted | JobStatus::InProgress)
    }
}

/// A bulk export job: its request, who asked, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct ExportJobRow {
    /// A random UUID (it is part of the job's URLs).
    #[diesel(sql_type = Text)]
    pub id: String,
    /// [`JobStatus::as_str`].
    #[diesel(sql_type = Text)]
    pub status: String,
    /// The requested types, comma-separated; empty for every type.
    #[diesel(sql_type = Text)]
    pub types: String,
    /// `_since`, microseconds since the epoch.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub since: Option<i64>,
    /// The de-identification policy's name; `None` for an identified export.
    #[diesel(sql_type = Nullable<Text>)]
    pub deid_policy: Option<String>,
    /// The kick-off request's URL (the manifest's `request`).
    #[diesel(sql_type = Text)]
    pub request_url: String,
    /// `token/ID` or `client/ID`, and its name.
    #[diesel(sql_type = Text)]
    pub requester: String,
    #[diesel(sql_type = Text)]
    pub requester_name: String,
    #[diesel(sql_type = BigInt)]
    pub created_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub finished_at: Option<i64>,
    /// Why it failed: a message without PHI.
    #[diesel(sql_type = Nullable<Text>)]
    pub error: Option<String>,
    /// The Bulk Data manifest (JSON) of a complete job.
    #[diesel(sql_type = Nullable<Text>)]
    pub manifest: Option<String>,
}

impl ExportJobRow {
    /// The status, with an unknown value (a hand edit) read as failed.
    pub fn job_status(&self) -> JobStatus {
        JobStatus::parse(&self.status).unwrap_or(JobStatus::Failed)
    }
}

const POLICY_COLUMNS: &str = "name, policy, created_at, updated_at, updated_by";
const JOB_COLUMNS: &str = "id, status, types, since, deid_policy, request_url, requester, \
                           requester_name, created_at, finished_at, error, manifest";

impl Store {
    pub fn policy(&self, name: &str) -> Result<Option<PolicyRow>> {
        let mut pooled = self.reader()?;
        let mut rows: Vec<PolicyRow> = pooled.conn().load(
            &format!("SELECT {POLICY_COLUMNS} FROM deid_policies WHERE name = ?"),
            vec![name.into()],
        )?;
        Ok(rows.pop())
    }

    /// Every stored policy, by name.
    pub fn list_policies(&self) -> Result<Vec<PolicyRow>> {
        let mut pooled = self.reader()?;
        Ok(pooled.conn().load(
            &format!("SELECT {POLICY_COLUMNS} FROM deid_policies ORDER BY name"),
            vec![],
        )?)
    }

    /// Store a policy under `name`, replacing any before it; `true` when it is new.
    pub fn put_policy(&self, name: &str, policy: &str, by: &str, now: i64) -> Result<bool> {
        self.transaction(|conn| {
            let existing: Vec<PolicyRow> = conn.load(
                &format!("SELECT {POLICY_COLUMNS} FROM deid_policies WHERE name = ?"),
                vec![name.into()],
            )?;
            if existing.is_empty() {
                conn.execute(
                    &format!("INSERT INTO deid_policies ({POLICY_COLUMNS}) VALUES (?, ?, ?, ?, ?)"),
                    vec![
                        name.into(),
                        policy.into(),
                        Bind::Int(now),
                        Bind::Int(now),
                        by.into(),
                    ],
                )?;
                Ok(true)
            } else {
                conn.execute(
                    "UPDATE deid_policies SET policy = ?, updated_at = ?, updated_by = ? WHERE name = ?",
                    vec![policy.into(), Bind::Int(now), by.into(), name.into()],
                )?;
                Ok(false)
            }
        })
    }

    /// Remove a policy; `false` when there was none of that name.
    pub fn delete_policy(&self, name: &str) -> Result<bool> {
        let mut pooled = self.connection()?;
        Ok(pooled.conn().execute(
            "DELETE FROM deid_policies WHERE name = ?",
            vec![name.into()],
        )? > 0)
    }

    pub fn create_export_job(&self, job: &ExportJobRow) -> Result<()> {
        let mut pooled = self.connection()?;
        pooled.conn().execute(
            &format!(
                "INSERT INTO export_jobs ({JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            vec![
                job.id.as_str().into(),
                job.status.as_str().into(),
                job.types.as_str().into(),
                Bind::OptInt(job.since),
                Bind::OptText(job.deid_policy.clone()),
                job.request_url.as_str().into(),
                job.requester.as_str().into(),
                job.requester_name.as_str().into(),
                Bind::Int(job.created_at),
                Bind::OptInt(job.finished_at),
                Bind::OptText(job.error.clone()),
                Bind::OptText(job.manifest.clone()),
            ],
        )?;
        Ok(())
    }

    pub fn export_job(&self, id: &str) -> Result<Option<ExportJobRow>> {
        let mut pooled = self.reader()?;
        let mut rows: Vec<ExportJobRow> = pooled.conn().load(
            &format!("SELECT {JOB_COLUMNS} FROM export_jobs WHERE id = ?"),
            vec![id.into()],
        )?;
        Ok(rows.pop())
    }

    /// Jobs, oldest first.
    pub fn list_export_jobs(&self) -> Result<Vec<ExportJobRow>> {
        let mut pooled = self.reader()?;
        Ok(pooled.conn().load(
            &format!("SELECT {JOB_COLUMNS} FROM export_jobs ORDER BY created_at, id"),
            vec![],
        )?)
    }

    /// Mark a job started. `false` when it is gone (cancelled meanwhile).
    pub fn start_export_job(&self, id: &str) -> Result<bool> {
        let mut pooled = self.connection()?;
        Ok(pooled.conn().execute(
            "UPDATE export_jobs SET status = ? WHERE id = ? AND status = ?",
            vec![
                JobStatus::InProgress.as_str().into(),
                id.into(),
                JobStatus::Accepted.as_str().into(),
            ],
        )? > 0)
    }

    /// Record how a job ended: complete with its manifest, or failed with its error.
    /// `false` when it is gone (cancelled meanwhile).
    pub fn finish_export_job(
        &self,
        id: &str,
        outcome: std::result::Result<&str, &str>,
        now: i64,
    ) -> Result<bool> {
        let (status, manifest, error) = match outcome {
            Ok(manifest) => (JobStatus::Complete, Some(manifest.to_owned()), None),
            Err(error) => (JobStatus::Failed, None, Some(error.to_owned())),
        };
        let mut pooled = self.connection()?;
        Ok(pooled.conn().execute(
            "UPDATE export_jobs SET status = ?, finished_at = ?, manifest = ?, error = ? WHERE id = ?",
            vec![
                status.as_str().into(),
                Bind::Int(now),
                Bind::OptText(manifest),
                Bind::OptText(error),
                id.into(),
            ],
        )? > 0)
    }

    /// Fail every job still marked as running: for a server starting up, whose previous run
    /// ended with jobs unfinished (their work died with it). Returns how many.
    pub fn fail_unfinished_export_jobs(&self, error: &str, now: i64) -> Result<usize> {
        let mut pooled = self.connection()?;
        Ok(pooled.conn().execute(
            "UPDATE export_jobs SET status = ?, finished_at = ?, error = ? WHERE status IN (?, ?)",
            vec![
                JobStatus::Failed.as_str().into(),
                Bind::Int(now),
                error.into(),
                JobStatus::Accepted.as_str().into(),
                JobStatus::InProgress.as_str().into(),
            ],
        )?)
    }

    /// Remove a job's record; `false` when there was none.
    pub fn delete_export_job(&self, id: &str) -> Result<bool> {
        let mut pooled = self.connection()?;
        Ok(pooled
            .conn()
            .execute("DELETE FROM export_jobs WHERE id = ?", vec![id.into()])?
            > 0)
    }

    /// Finished jobs that ended before `before` (for retention: their files go too).
    pub fn export_jobs_finished_before(&self, before: i64) -> Result<Vec<ExportJobRow>> {
        let mut pooled = self.reader()?;
        Ok(pooled.conn().load(
            &format!(
                "SELECT {JOB_COLUMNS} FROM export_jobs WHERE finished_at IS NOT NULL AND finished_at < ? ORDER BY finished_at"
            ),
            vec![Bind::Int(before)],
        )?)
    }
}
