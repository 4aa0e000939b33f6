//! Every Synthea patient in the shared fixtures, with a consent of our own: what must appear,
//! that every cite resolves, and that every budget holds with higher priorities first.

mod common;

use std::collections::HashSet;

use common::*;
use salus_context::Tokenizer;
use serde_json::Value;

fn status(r: &Value, key: &str) -> Option<String> {
    r.pointer(&format!("/{key}/coding/0/code"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn must_appear(r: &Value) -> bool {
    match r["resourceType"].as_str() {
        Some("Condition") => {
            matches!(
                status(r, "clinicalStatus").as_deref(),
                Some("active" | "recurrence" | "relapse")
            ) && !matches!(
                status(r, "verificationStatus").as_deref(),
                Some("refuted" | "entered-in-error")
            )
        }
        Some("MedicationRequest") => r["status"] == "active" && r["intent"] != "proposal",
        Some("AllergyIntolerance") => {
            matches!(
                status(r, "clinicalStatus").as_deref(),
                None | Some("active")
            ) && !matches!(
                status(r, "verificationStatus").as_deref(),
                Some("refuted" | "entered-in-error")
            )
        }
        _ => false,
    }
}

fn patients() -> Vec<(String, Vec<Value>)> {
    let Some(dir) = external("synthea-bundles") else {
        return vec![];
    };
    let mut files: Vec<_> = walk(&dir);
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let resources = bundle_resources(&path);
            let patient = resources.iter().find(|r| r["resourceType"] == "Patient")?["id"]
                .as_str()?
                .to_owned();
            Some((patient, resources))
        })
        .collect()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    out
}

#[test]
fn large_budget_states_every_active_problem_medication_and_allergy() {
    let patients = patients();
    for (patient, mut resources) in patients {
        let stored: HashSet<String> = resources.iter().map(reference).collect();
        // Substance-use (42 CFR Part 2) records and psychotherapy notes need a permit that
        // names their label; this consent names none.
        let protected = |r: &Value| {
            ["ETH", "SUD", "42CFRPart2", "PSYTHPN"]
                .iter()
                .any(|l| has_label(r, l))
        };
        let required: Vec<String> = resources
            .iter()
            .filter(|r| must_appear(r) && !protected(r))
            .map(reference)
            .collect();
        let withheld: Vec<String> = resources
            .iter()
            .filter(|r| protected(r))
            .map(reference)
            .collect();
        resources.push(opt_in(&patient, "own-consent", vec![]));
        let disclosed = disclose(resources, &patient).expect("the opt-in permits");
        let ctx = context(&disclosed, &patient, 200_000);
        let cited: HashSet<String> = cites(&ctx).into_iter().collect();
        for r in &required {
            assert!(cited.contains(r), "{patient}: {r} is active but not stated");
        }
        for c in &cited {
            assert!(
                stored.contains(c),
                "{patient}: cite {c} is not one of the patient's resources"
            );
        }
        for r in &withheld {
            assert!(
                !cited.contains(r),
                "{patient}: protected {r} stated without a permit naming its label"
            );
        }
        if !withheld.is_empty() {
            assert!(ctx
                .omitted
                .iter()
                .any(|o| o.reason == "label" && o.count == withheld.len()));
        }
        assert!(ctx.token_count <= ctx.max_tokens);
        eprintln!(
            "{patient}: {} resources required, {} cited, {} tokens",
            required.len(),
            cited.len(),
            ctx.token_count
        );
    }
}

#[test]
fn every_budget_holds_and_higher_priority_sections_survive_first() {
    for (patient, mut resources) in patients() {
        resources.push(opt_in(&patient, "own-consent", vec![]));
        let disclosed = disclose(resources, &patient).expect("the opt-in permits");
        let full = context(&disclosed, &patient, 200_000);
        let order: Vec<&str> = full.sections.iter().map(|s| s.title.as_str()).collect();
        let mut previous_cited = 0;
        for budget in [256, 512, 1_000, 2_000, 8_000] {
            for tokenizer in [Tokenizer::O200kBase, Tokenizer::Cl100kBase] {
                let mut options = options(&patient, budget);
                options.tokenizer = tokenizer;
                let ctx = salus_context::llm_context(&disclosed, &options).expect("builds");
                let recount: usize = ctx
                    .messages
                    .iter()
                    .map(|m| tokenizer.count(&m.content).unwrap())
                    .sum();
                assert_eq!(
                    ctx.token_count, recount,
                    "{patient} {budget}: token_count is the count of messages"
                );
                assert!(
                    ctx.token_count + salus_context::FRAMING_RESERVE <= budget,
                    "{patient}: {} tokens over a budget of {budget}",
                    ctx.token_count
                );
                // The sections shown are a prefix of the full order.
                let titles: Vec<&str> = ctx.sections.iter().map(|s| s.title.as_str()).collect();
                assert_eq!(titles, order[..titles.len()], "{patient} at {budget}");
                // Every section before the last is shown as in the large-budget context.
                for (i, s) in ctx
                    .sections
                    .iter()
                    .enumerate()
                    .take(titles.len().saturating_sub(1))
                {
                    assert_eq!(
                        s, &full.sections[i],
                        "{patient} at {budget}: {} cut",
                        s.title
                    );
                }
                if budget < 200_000 && titles.len() < order.len() {
                    assert!(ctx
                        .omitted
                        .iter()
                        .any(|o| o.reason == "budget" && o.count > 0));
                }
            }
            let ctx = context(&disclosed, &patient, budget);
            let cited = cites(&ctx).len();
            assert!(
                cited >= previous_cited,
                "{patient}: a larger budget states less"
            );
            previous_cited = cited;
        }
    }
}

#[test]
fn a_consent_denying_psy_removes_every_psy_resource_and_its_words() {
    for (patient, mut resources) in patients() {
        let psy: Vec<Value> = resources
            .iter()
            .filter(|r| has_label(r, "PSY"))
            .cloned()
            .collect();
        resources.push(opt_in(&patient, "own-consent", vec![deny_label("PSY")]));
        let disclosed = disclose(resources, &patient).expect("the opt-in permits");
        let ctx = context(&disclosed, &patient, 200_000);
        let cited: HashSet<String> = cites(&ctx).into_iter().collect();
        let text = user_text(&ctx).to_lowercase();
        for r in &psy {
            assert!(
                !cited.contains(&reference(r)),
                "{patient}: PSY resource {} cited",
                reference(r)
            );
            // Its condition name is nowhere in the messages.
            if let Some(words) = r.pointer("/code/text").and_then(Value::as_str) {
                assert!(
                    !text.contains(&words.to_lowercase()),
                    "{patient}: '{words}' of a PSY resource is in the text"
                );
            }
        }
        if !psy.is_empty() {
            assert!(ctx
                .omitted
                .iter()
                .any(|o| o.reason == "consent" && o.count >= psy.len()));
        }
    }
}

#[test]
fn without_a_consent_the_default_denies_and_says_so() {
    for (patient, resources) in patients().into_iter().take(2) {
        let refusal = disclose(resources, &patient).expect_err("no consent: default deny");
        assert!(
            refusal.reason.contains("no") && refusal.reason.contains("Consent"),
            "{}",
            refusal.reason
        );
        assert!(refusal.basis.is_empty());
    }
}
