//! (to be written)

use roxmltree::Node;

use crate::ctx::Ctx;

pub fn map(ctx: &mut Ctx, el: Node) {
    ctx.skip(el, "not mapped yet");
}
