//! `salus sdoh link`: every patient linked to the community indices of where they live.

use anyhow::Result;
use clap::Subcommand;
use salus_store::Store;

use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum SdohCommand {
    /// Link every patient with a usable address to the latest loaded SVI table (through the
    /// latest ZIP-county crosswalk): five SVI Observations each. Idempotent; a new vintage or a
    /// changed address updates them. Exit 2 when some patients could not be matched (each is
    /// listed with the reason).
    Link {
        /// Print the report as JSON on standard output.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(store: &Store, config: &Config, command: SdohCommand) -> Result<u8> {
    match command {
        SdohCommand::Link { json } => {
            let report =
                salus_server::sdoh::link_all(store, config.ingest.batch(), crate::now_micros)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                let c = report.resources.values().fold((0, 0, 0), |(a, b, u), c| {
                    (a + c.created, b + c.updated, u + c.unchanged)
                });
                println!(
                    "{} patients, {} linked to SVI {}{}: {} Observations created, {} updated, {} unchanged; {} not matched",
                    report.patients,
                    report.linked,
                    report.svi_vintage,
                    report
                        .crosswalk_vintage
                        .as_deref()
                        .map(|v| format!(" (crosswalk {v})"))
                        .unwrap_or_default(),
                    c.0,
                    c.1,
                    c.2,
                    report.unmatched.len()
                );
                for u in &report.unmatched {
                    println!("  {}: {}", u.patient, u.reason);
                }
            }
            crate::security::audit_cli(store, "sdoh link", vec![], 0)?;
            Ok(if report.unmatched.is_empty() { 0 } else { 2 })
        }
    }
}
