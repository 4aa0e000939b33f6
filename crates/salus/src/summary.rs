//! `salus summary`: what `$llm-context` returns (or the `$summary` IPS document), printed.
//! Refused by consent: exit 3 with the reason. Every run leaves an audit entry, as the HTTP
//! operation does.

use anyhow::{Context, Result};
use clap::Args;
use salus_server::summary::{self, Format, SummaryFailure, SummaryParams};
use salus_store::Store;

use crate::config::Config;

#[derive(Args)]
pub struct SummaryArgs {
    /// The patient's id (as in Patient/ID).
    #[arg(long)]
    patient: String,
    /// The purpose of use (a v3 ActReason code).
    #[arg(long, default_value = "TREAT")]
    purpose: String,
    /// prompt, markdown, json or ips.
    #[arg(long, default_value = "json")]
    format: String,
    /// The token budget (default from [context] default_max_tokens).
    #[arg(long)]
    max_tokens: Option<usize>,
    /// o200k_base or cl100k_base.
    #[arg(long)]
    tokenizer: Option<String>,
    /// De-identify what is disclosed: a stored policy's name, a preset's name or a file's path.
    #[arg(long)]
    deid: Option<String>,
    /// State the patient's name (never with --deid).
    #[arg(long)]
    include_name: bool,
    /// Decide as of this FHIR date or dateTime instead of now (consent periods, ages, "last
    /// 90 days").
    #[arg(long)]
    as_of: Option<String>,
}

pub fn run(store: &Store, config: &Config, args: SummaryArgs) -> Result<u8> {
    let settings = config.context.settings()?;
    let now = match &args.as_of {
        Some(at) => summary::parse_as_of(at).map_err(|m| anyhow::anyhow!("--as-of {at}: {m}"))?,
        None => chrono::Utc::now(),
    };
    // The entry names the patient, then what the decision rests on or disclosed.
    let audit = |status: u16, named: Vec<String>, detail: String| {
        let mut entities = vec![format!("Patient/{}", args.patient)];
        entities.extend(named);
        crate::security::audit_cli_detail(
            store,
            "summary",
            entities,
            status,
            Some(args.purpose.clone()),
            Some(detail),
        )
    };
    if args.format == "ips" {
        return match summary::build_ips(
            store,
            &settings,
            &args.patient,
            &args.purpose,
            now,
            "urn:salus:fhir",
        ) {
            Ok((document, stated, basis)) => {
                audit(0, stated, format!("permit: {basis}"))?;
                println!("{}", serde_json::to_string_pretty(&document)?);
                Ok(0)
            }
            Err(failure) => refuse(failure, audit),
        };
    }
    let mut pairs = vec![
        ("purpose".to_owned(), args.purpose.clone()),
        ("format".to_owned(), args.format.clone()),
    ];
    if let Some(n) = args.max_tokens {
        pairs.push(("max_tokens".into(), n.to_string()));
    }
    if let Some(t) = &args.tokenizer {
        pairs.push(("tokenizer".into(), t.clone()));
    }
    if args.include_name {
        pairs.push(("include_name".into(), "true".into()));
    }
    if Format::parse(&args.format).is_none() {
        anyhow::bail!(
            "--format {}: expected json, markdown, prompt or ips",
            args.format
        );
    }
    // The HTTP parameters' names in messages become the flags'.
    let params = SummaryParams::parse(&pairs, &settings).map_err(|m| {
        anyhow::anyhow!(
            "{}",
            m.replace("max_tokens", "--max-tokens")
                .replace("tokenizer is", "--tokenizer is")
        )
    })?;
    let engine = match &args.deid {
        Some(spec) => Some(crate::deid::engine(
            crate::export::load_policy(store, spec)?,
            config,
        )?),
        None => None,
    };
    let seed = crate::deid::random_seed()?;
    let built = summary::build_context(
        store,
        &settings,
        &args.patient,
        &params,
        now,
        engine.as_ref().map(|e| (e, seed)),
    );
    match built {
        Ok(built) => {
            audit(
                0,
                built.context.disclosed.clone(),
                format!("permit: {}", built.basis_detail),
            )?;
            let out = match params.format {
                Format::Json => serde_json::to_string_pretty(&built.context.to_json())?,
                Format::Markdown => built.context.to_markdown(),
                Format::Prompt => built.context.to_prompt(),
            };
            println!("{}", out.trim_end());
            Ok(0)
        }
        Err(failure) => refuse(failure, audit),
    }
}

/// Exit 3 with the reason when consent refuses (audited); 1 for anything else.
fn refuse(
    failure: SummaryFailure,
    audit: impl Fn(u16, Vec<String>, String) -> Result<()>,
) -> Result<u8> {
    match failure {
        SummaryFailure::Refused(refusal) => {
            audit(
                403,
                refusal.basis.clone(),
                format!("deny: {}", refusal.reason),
            )
            .context("writing the audit trail")?;
            eprintln!("refused by consent: {}", refusal.reason);
            Ok(3)
        }
        other => anyhow::bail!("{other}"),
    }
}
