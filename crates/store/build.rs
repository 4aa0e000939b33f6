//! `embed_migrations!` reads `migrations/` at compile time but does not tell cargo: without
//! this, a new migration is not embedded until something else in the crate changes.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
