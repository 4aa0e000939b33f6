//! (to be written)

use roxmltree::Node;

use crate::ctx::Ctx;

/// Map one planned entry; returns the references of what it became (for the CarePlan).
pub fn map(ctx: &mut Ctx, el: Node) -> Vec<String> {
    ctx.skip(el, "not mapped yet");
    Vec::new()
}

/// The section's CarePlan, made after its entries (`activities` are their references).
pub fn care_plan(_ctx: &mut Ctx, _section: Node, _activities: Vec<String>) {}
