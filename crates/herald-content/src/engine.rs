//! The Liquid engine under the templates: the language (standard tags, blocks and filters plus
//! Herald's) and a runtime that reads the context leniently.
//!
//! `liquid::Template::render` copies every value it looks up into liquid's own strict values,
//! so a `{% for item in journey.items %}` loop would fail on `{{ item.colour }}` for an item
//! without a colour. Rendering through `liquid_core` with our own base [`Runtime`] hands out
//! borrowed [`crate::value::Node`]s instead, so loop variables stay lenient too. The cost is
//! listing the standard library here (the `liquid` crate's builder keeps its language private).
//! `include` and `render` are left out: templates have no partials.

use crate::filters;
use crate::value::{Node, Root};
use liquid_core::model::{KStringCow, KStringRef, ScalarCow, Value, ValueCow, try_find};
use liquid_core::runtime::{PartialStore, Registers, RuntimeBuilder};
use liquid_core::{Language, ParseBlock, ParseFilter, ParseTag, Renderable, Result, Runtime};
use liquid_lib::stdlib as std_;
use std::collections::BTreeSet;
use std::sync::LazyLock;

/// A compiled part.
pub type Compiled = liquid_core::runtime::Template;

/// The language, built once per process.
static LANGUAGE: LazyLock<Language> = LazyLock::new(|| {
    let mut l = Language::empty();
    let tags: Vec<Box<dyn ParseTag>> = vec![
        Box::new(std_::AssignTag),
        Box::new(std_::BreakTag),
        Box::new(std_::ContinueTag),
        Box::new(std_::CycleTag),
        Box::new(std_::IncrementTag),
        Box::new(std_::DecrementTag),
    ];
    for t in tags {
        l.tags.register(t.reflection().tag().to_owned(), t);
    }
    let blocks: Vec<Box<dyn ParseBlock>> = vec![
        Box::new(std_::RawBlock),
        Box::new(std_::IfBlock),
        Box::new(std_::UnlessBlock),
        Box::new(std_::IfChangedBlock),
        Box::new(std_::ForBlock),
        Box::new(std_::TableRowBlock),
        Box::new(std_::CommentBlock),
        Box::new(std_::CaptureBlock),
        Box::new(std_::CaseBlock),
    ];
    for b in blocks {
        l.blocks.register(b.reflection().start_tag().to_owned(), b);
    }
    let mut fs: Vec<Box<dyn ParseFilter>> = vec![
        Box::new(std_::Abs),
        Box::new(std_::Append),
        Box::new(std_::AtLeast),
        Box::new(std_::AtMost),
        Box::new(std_::Capitalize),
        Box::new(std_::Ceil),
        Box::new(std_::Compact),
        Box::new(std_::Concat),
        Box::new(std_::Date),
        Box::new(std_::Default),
        Box::new(std_::DividedBy),
        Box::new(std_::Downcase),
        Box::new(std_::Escape),
        Box::new(std_::EscapeOnce),
        Box::new(std_::First),
        Box::new(std_::Floor),
        Box::new(std_::Join),
        Box::new(std_::Last),
        Box::new(std_::Lstrip),
        Box::new(std_::Map),
        Box::new(std_::Minus),
        Box::new(std_::Modulo),
        Box::new(std_::NewlineToBr),
        Box::new(std_::Plus),
        Box::new(std_::Prepend),
        Box::new(std_::Remove),
        Box::new(std_::RemoveFirst),
        Box::new(std_::Replace),
        Box::new(std_::ReplaceFirst),
        Box::new(std_::Reverse),
        Box::new(std_::Round),
        Box::new(std_::Rstrip),
        Box::new(std_::Size),
        Box::new(std_::Slice),
        Box::new(std_::Sort),
        Box::new(std_::SortNatural),
        Box::new(std_::Split),
        Box::new(std_::Strip),
        Box::new(std_::StripHtml),
        Box::new(std_::StripNewlines),
        Box::new(std_::Times),
        Box::new(std_::Truncate),
        Box::new(std_::TruncateWords),
        Box::new(std_::Uniq),
        Box::new(std_::Upcase),
        Box::new(std_::UrlDecode),
        Box::new(std_::UrlEncode),
        Box::new(std_::Where),
    ];
    fs.extend(filters::herald_filters());
    for f in fs {
        l.filters.register(f.reflection().name().to_owned(), f);
    }
    l
});

/// Parses one part.
pub fn compile(source: &str) -> Result<Compiled> {
    liquid_core::parser::parse(source, &LANGUAGE).map(Compiled::new)
}

/// Renders one part against the context.
pub fn render(template: &Compiled, root: &Root) -> Result<String> {
    let core = RuntimeBuilder::new().build();
    let runtime = Lenient { root, core: &core };
    let mut out = Vec::with_capacity(1024);
    template.render_to(&mut out, &runtime)?;
    // Every part renders from UTF-8 sources and values, so this cannot lose text.
    Ok(String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into()))
}

static ABSENT: Node = Node::Absent;

/// The base runtime: variables `assign`ed in the template first (they live in `core`), then the
/// context, where anything missing is absent rather than an error.
struct Lenient<'a> {
    root: &'a Root,
    core: &'a dyn Runtime,
}

impl Runtime for Lenient<'_> {
    fn partials(&self) -> &dyn PartialStore {
        self.core.partials()
    }
    fn name(&self) -> Option<KStringRef<'_>> {
        self.core.name()
    }
    fn roots(&self) -> BTreeSet<KStringCow<'_>> {
        let mut roots = self.core.roots();
        roots.extend(
            self.root
                .0
                .0
                .keys()
                .map(|k| KStringCow::from_ref(k.as_str())),
        );
        roots
    }
    fn try_get(&self, path: &[ScalarCow<'_>]) -> Option<ValueCow<'_>> {
        Some(self.lookup(path))
    }
    fn get(&self, path: &[ScalarCow<'_>]) -> Result<ValueCow<'_>> {
        Ok(self.lookup(path))
    }
    fn set_global(&self, name: liquid_core::model::KString, val: Value) -> Option<Value> {
        self.core.set_global(name, val)
    }
    fn set_index(&self, name: liquid_core::model::KString, val: Value) -> Option<Value> {
        self.core.set_index(name, val)
    }
    fn get_index<'a>(&'a self, name: &str) -> Option<ValueCow<'a>> {
        self.core.get_index(name)
    }
    fn registers(&self) -> &Registers {
        self.core.registers()
    }
}

impl Lenient<'_> {
    fn lookup(&self, path: &[ScalarCow<'_>]) -> ValueCow<'_> {
        if let Some(v) = self.core.try_get(path) {
            return v;
        }
        try_find(self.root, path).unwrap_or(ValueCow::Borrowed(&ABSENT))
    }
}
