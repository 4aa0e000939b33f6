//! Stored de-identification policies and bulk export jobs, on every backend.

use salus_store::{testing, ExportJobRow, JobStatus, Store};

const NOW: i64 = 1_700_000_000_000_000;

#[test]
fn policies_are_created_replaced_listed_and_deleted() {
    for db in testing::all() {
        let store = Store::open(&db.url).unwrap();
        assert_eq!(store.policy("research").unwrap(), None);
        // Kept as sent, byte for byte (PostgreSQL included: the column is text, not JSONB).
        let text = "{\"fhirPathRules\": [ {\"path\": \"Patient.name\", \"method\": \"redact\"} ]}";
        assert!(store.put_policy("research", text, "token/a", NOW).unwrap());
        let row = store.policy("research").unwrap().unwrap();
        assert_eq!(row.policy, text);
        assert_eq!((row.created_at, row.updated_at), (NOW, NOW));
        assert_eq!(row.updated_by, "token/a");

        assert!(!store
            .put_policy("research", "{}", "token/b", NOW + 5)
            .unwrap());
        let row = store.policy("research").unwrap().unwrap();
        assert_eq!(row.policy, "{}");
        assert_eq!((row.created_at, row.updated_at), (NOW, NOW + 5));
        assert_eq!(row.updated_by, "token/b");

        store.put_policy("audit.v2", "{}", "cli/x", NOW).unwrap();
        let names: Vec<String> = store
            .list_policies()
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["audit.v2", "research"]);

        assert!(store.delete_policy("research").unwrap());
        assert!(!store.delete_policy("research").unwrap());
        assert_eq!(store.policy("research").unwrap(), None);
    }
}

fn job(id: &str) -> ExportJobRow {
    ExportJobRow {
        id: id.into(),
        status: JobStatus::Accepted.as_str().into(),
        types: "Patient,Observation".into(),
        since: Some(NOW - 1),
        deid_policy: Some("safe-harbor".into()),
        request_url: "http://localhost/fhir/$export?deid=safe-harbor".into(),
        requester: "token/t1".into(),
        requester_name: "steward".into(),
        created_at: NOW,
        finished_at: None,
        error: None,
        manifest: None,
    }
}

#[test]
fn export_jobs_keep_their_state_across_opens() {
    for db in testing::all() {
        let store = Store::open(&db.url).unwrap();
        store.create_export_job(&job("j1")).unwrap();
        store.create_export_job(&job("j2")).unwrap();
        store.create_export_job(&job("j3")).unwrap();
        assert!(store.start_export_job("j1").unwrap());
        // Only an accepted job starts.
        assert!(!store.start_export_job("j1").unwrap());
        assert!(store
            .finish_export_job("j1", Ok(r#"{"output":[]}"#), NOW + 10)
            .unwrap());
        assert!(store
            .finish_export_job("j2", Err("the policy failed"), NOW + 20)
            .unwrap());
        assert!(!store.finish_export_job("nope", Ok("{}"), NOW).unwrap());

        // A second handle (a restarted server) sees the same.
        let again = Store::open(&db.url).unwrap();
        let j1 = again.export_job("j1").unwrap().unwrap();
        assert_eq!(j1.job_status(), JobStatus::Complete);
        assert_eq!(j1.manifest.as_deref(), Some(r#"{"output":[]}"#));
        assert_eq!(j1.finished_at, Some(NOW + 10));
        assert_eq!(j1.since, Some(NOW - 1));
        assert_eq!(j1.deid_policy.as_deref(), Some("safe-harbor"));
        let j2 = again.export_job("j2").unwrap().unwrap();
        assert_eq!(j2.job_status(), JobStatus::Failed);
        assert_eq!(j2.error.as_deref(), Some("the policy failed"));

        // Startup: what was running died with the previous process.
        assert_eq!(
            again
                .fail_unfinished_export_jobs("interrupted", NOW + 30)
                .unwrap(),
            1
        );
        let j3 = again.export_job("j3").unwrap().unwrap();
        assert_eq!(j3.job_status(), JobStatus::Failed);
        assert!(!j3.job_status().is_running());

        let old: Vec<String> = again
            .export_jobs_finished_before(NOW + 25)
            .unwrap()
            .into_iter()
            .map(|j| j.id)
            .collect();
        assert_eq!(old, ["j1", "j2"]);
        assert_eq!(again.list_export_jobs().unwrap().len(), 3);
        assert!(again.delete_export_job("j1").unwrap());
        assert!(!again.delete_export_job("j1").unwrap());
        assert_eq!(again.export_job("j1").unwrap(), None);
    }
}
