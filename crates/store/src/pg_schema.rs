//! diesel's view of the PostgreSQL tables, for the paths that use the query builder (COPY and
//! point reads). Column types name what the wire carries; the migrations define the tables.

diesel::table! {
    resource_versions (pk) {
        pk -> BigInt,
        res_type -> Text,
        res_id -> Text,
        version_id -> BigInt,
        is_current -> SmallInt,
        last_updated -> BigInt,
        content_hash -> Text,
        patient_id -> Nullable<Text>,
        source -> Nullable<Text>,
        /// JSONB: COPY sends it as text; reads get its binary wire format, a version
        /// byte (1) and the JSON text.
        body -> Binary,
    }
}
diesel::table! {
    search_token (pk) {
        pk -> BigInt,
        res_type -> Text,
        param -> Text,
        system -> Nullable<Text>,
        code -> Text,
    }
}
diesel::table! {
    search_date (pk) {
        pk -> BigInt,
        res_type -> Text,
        param -> Text,
        lo -> BigInt,
        hi -> BigInt,
    }
}
diesel::table! {
    search_string (pk) {
        pk -> BigInt,
        res_type -> Text,
        param -> Text,
        value -> Text,
    }
}
diesel::table! {
    audit_entities (reference, first_seq) {
        reference -> Text,
        first_seq -> BigInt,
    }
}
