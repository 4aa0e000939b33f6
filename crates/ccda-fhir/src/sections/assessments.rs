//! (to be written)

use roxmltree::Node;

use crate::ctx::Ctx;
use crate::sections::SectionKind;

pub fn map(ctx: &mut Ctx, _kind: SectionKind, el: Node) {
    ctx.skip(el, "not mapped yet");
}
