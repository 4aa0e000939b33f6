//! Named settings the store keeps about its own content (`store_settings`), such as the
//! version of the sensitivity value sets its resources were labelled with.

use diesel::sql_types::Text;
use diesel::QueryableByName;

use crate::{Result, Store};

#[derive(QueryableByName)]
struct ValueRow {
    #[diesel(sql_type = Text)]
    value: String,
}

impl Store {
    /// The setting `name`, or `None` when it was never set.
    pub fn setting(&self, name: &str) -> Result<Option<String>> {
        let mut pooled = self.reader()?;
        let mut rows: Vec<ValueRow> = pooled.conn().load(
            "SELECT value FROM store_settings WHERE name = ?",
            vec![name.into()],
        )?;
        Ok(rows.pop().map(|r| r.value))
    }

    /// Set `name` to `value`, replacing what it was.
    pub fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        self.transaction(|conn| {
            let updated = conn.execute(
                "UPDATE store_settings SET value = ? WHERE name = ?",
                vec![value.into(), name.into()],
            )?;
            if updated == 0 {
                conn.execute(
                    "INSERT INTO store_settings (name, value) VALUES (?, ?)",
                    vec![name.into(), value.into()],
                )?;
            }
            Ok(())
        })
    }
}
