//! The evaluator: a parsed expression over a resource's JSON, borrowed, never copied.
//!
//! Nodes are references into the JSON plus a type id and an index into a per-evaluation arena
//! of path segments (parent, key, array index), so walking a resource allocates nothing per
//! visited element; only the nodes an expression finally returns get their [`Location`]
//! spelled out. Every step (an element visited, an item produced, a function applied) is
//! counted against a budget, so no expression can run away with a request.

use std::cmp::Ordering;

use regex::Regex;
use serde_json::Value as Json;

use crate::model::{PrimitiveKind, TypeId, TypeKind, TypeModel};
use crate::node::{primitive_value, Item, Location, Node, Step};
use crate::parser::{BinOp, Expr, Func, Node as Ast};
use crate::value::Value;

/// The default number of steps one evaluation may take.
pub const DEFAULT_BUDGET: u64 = 1_000_000;

/// Why an evaluation failed. Messages name operators, functions and types, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The evaluation took more steps than its budget allows.
    #[error("the expression exceeded its budget of {0} evaluation steps")]
    BudgetExceeded(u64),
    /// An operator or function got operands of types it does not accept.
    #[error("{operation} cannot be applied to {left}{}", right.map(|r| format!(" and {r}")).unwrap_or_default())]
    Type {
        /// The operator or function.
        operation: &'static str,
        /// The (first) operand's type.
        left: &'static str,
        /// The second operand's type, for binary operators.
        right: Option<&'static str>,
    },
    /// An operator or function needs a single item and got several.
    #[error("{operation} needs a single item, got {count}")]
    NotSingleton {
        /// The operator or function.
        operation: &'static str,
        /// How many items it got.
        count: usize,
    },
    /// `%name` is not a known variable.
    #[error("unknown variable `%{0}`")]
    UnknownVariable(String),
    /// A regular expression argument does not compile (or is too large).
    #[error("invalid regular expression in `{0}`")]
    InvalidRegex(&'static str),
}

/// Evaluates parsed expressions against resources of one [`TypeModel`].
#[derive(Debug, Clone, Copy)]
pub struct Evaluator<'m> {
    model: &'m TypeModel,
    budget: u64,
}

impl Evaluator<'static> {
    /// An evaluator over the shared FHIR R4 model with the default budget.
    pub fn r4() -> Self {
        Evaluator::new(TypeModel::r4())
    }
}

impl<'m> Evaluator<'m> {
    /// An evaluator over `model` with the default budget.
    pub fn new(model: &'m TypeModel) -> Self {
        Evaluator {
            model,
            budget: DEFAULT_BUDGET,
        }
    }

    /// The same evaluator with a different step budget per evaluation.
    pub fn with_budget(self, budget: u64) -> Self {
        Evaluator { budget, ..self }
    }

    /// The step budget per evaluation.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Evaluates `expr` with the resource `root` as context (`$this`, `%resource`); the root's
    /// type comes from its `resourceType`.
    pub fn evaluate<'a>(&self, expr: &Expr, root: &'a Json) -> Result<Vec<Item<'a>>, EvalError>
    where
        'm: 'a,
    {
        let mut cx = Cx::new(self.model, root, self.budget);
        let root_node = cx.root_node();
        let focus = vec![It::Node(root_node)];
        let env = Env {
            this: Some(It::Node(root_node)),
            index: None,
        };
        let out = cx.eval(&expr.root, &focus, &env)?;
        Ok(out.into_iter().map(|it| cx.publish(it)).collect())
    }

    /// Evaluates `expr` with `$this` (and the implicit focus) bound to `this`, an item from an
    /// earlier evaluation on the same `root` (or any value); `%resource` is still `root`.
    /// This is how a generalize case runs on the node its rule matched.
    pub fn evaluate_on<'a>(
        &self,
        expr: &Expr,
        root: &'a Json,
        this: &Item<'a>,
    ) -> Result<Vec<Item<'a>>, EvalError>
    where
        'm: 'a,
    {
        let mut cx = Cx::new(self.model, root, self.budget);
        let it = match this {
            Item::Value(v) => It::Val(v.clone()),
            Item::Node(n) => It::Node(cx.adopt(n)?),
        };
        let focus = vec![it.clone()];
        let env = Env {
            this: Some(it),
            index: None,
        };
        let out = cx.eval(&expr.root, &focus, &env)?;
        Ok(out.into_iter().map(|it| cx.publish(it)).collect())
    }

    /// Evaluates a condition as Microsoft's anonymizer does (`Predicate`): true only when the
    /// result is a single `true` (or a single non-boolean item); empty is false.
    pub fn predicate<'a>(
        &self,
        expr: &Expr,
        root: &'a Json,
        this: &Item<'a>,
    ) -> Result<bool, EvalError>
    where
        'm: 'a,
    {
        let out = self.evaluate_on(expr, root, this)?;
        Ok(singleton_boolean(&out, "a condition")?.unwrap_or(false))
    }

    /// Evaluates a value expression to at most one value (`Scalar`): `None` when empty, an
    /// error when several items result.
    pub fn scalar<'a>(
        &self,
        expr: &Expr,
        root: &'a Json,
        this: &Item<'a>,
    ) -> Result<Option<Value>, EvalError>
    where
        'm: 'a,
    {
        let out = self.evaluate_on(expr, root, this)?;
        match out.as_slice() {
            [] => Ok(None),
            [one] => Ok(one.value()),
            many => Err(EvalError::NotSingleton {
                operation: "a value expression",
                count: many.len(),
            }),
        }
    }
}

/// The FHIRPath singleton-evaluation of a collection as a boolean: empty → `None`, a single
/// boolean → its value, any other single item → `true`, several items → an error.
pub fn singleton_boolean(
    items: &[Item<'_>],
    operation: &'static str,
) -> Result<Option<bool>, EvalError> {
    match items {
        [] => Ok(None),
        [one] => Ok(Some(match one.value() {
            Some(Value::Boolean(b)) => b,
            _ => true,
        })),
        many => Err(EvalError::NotSingleton {
            operation,
            count: many.len(),
        }),
    }
}

/// A path segment in the evaluation's arena.
#[derive(Debug, Clone, Copy)]
struct Seg<'a> {
    parent: u32,
    key: &'a str,
    index: u32,
    /// Children of this segment live in the `_key` companion.
    primitive: bool,
}

const NO_INDEX: u32 = u32::MAX;
const ROOT_SEG: u32 = 0;

/// An element during evaluation.
#[derive(Debug, Clone, Copy)]
struct N<'a> {
    json: Option<&'a Json>,
    companion: Option<&'a Json>,
    ty: Option<TypeId>,
    name: &'a str,
    seg: u32,
}

#[derive(Debug, Clone)]
enum It<'a> {
    Node(N<'a>),
    Val(Value),
}

#[derive(Debug, Clone)]
struct Env<'a> {
    this: Option<It<'a>>,
    index: Option<i64>,
}

struct Cx<'a> {
    model: &'a TypeModel,
    root: &'a Json,
    segs: Vec<Seg<'a>>,
    budget: u64,
    spent: u64,
    regexes: Vec<(String, Regex)>,
}

type R<T> = Result<T, EvalError>;

impl<'a> Cx<'a> {
    fn new(model: &'a TypeModel, root: &'a Json, budget: u64) -> Self {
        let segs = vec![Seg {
            parent: ROOT_SEG,
            key: "",
            index: NO_INDEX,
            primitive: false,
        }];
        Cx {
            model,
            root,
            segs,
            budget,
            spent: 0,
            regexes: Vec::new(),
        }
    }

    fn tick(&mut self, n: u64) -> R<()> {
        self.spent = self.spent.saturating_add(n);
        if self.spent > self.budget {
            Err(EvalError::BudgetExceeded(self.budget))
        } else {
            Ok(())
        }
    }

    fn root_node(&self) -> N<'a> {
        N {
            json: Some(self.root),
            companion: None,
            ty: self.model.resolve_object(None, self.root),
            name: "",
            seg: ROOT_SEG,
        }
    }

    fn seg(&mut self, parent: u32, key: &'a str, index: u32, primitive: bool) -> u32 {
        self.segs.push(Seg {
            parent,
            key,
            index,
            primitive,
        });
        (self.segs.len() - 1) as u32
    }

    fn primitive_kind(&self, n: &N<'a>) -> Option<PrimitiveKind> {
        match n.ty.map(|t| self.model.kind(t)) {
            Some(TypeKind::Primitive(k)) => Some(k),
            Some(_) => None,
            None => match n.json {
                Some(Json::Object(_)) => None,
                Some(_) => Some(PrimitiveKind::String),
                None => n.companion.map(|_| PrimitiveKind::String),
            },
        }
    }

    /// Turns an internal item into a result, spelling out its location.
    fn publish(&self, it: It<'a>) -> Item<'a> {
        match it {
            It::Val(v) => Item::Value(v),
            It::Node(n) => {
                let mut chain = Vec::new();
                let mut s = n.seg;
                while s != ROOT_SEG {
                    chain.push(s);
                    s = self.segs[s as usize].parent;
                }
                let mut steps = Vec::with_capacity(chain.len() * 2);
                let last = chain.first().copied();
                for &s in chain.iter().rev() {
                    let seg = &self.segs[s as usize];
                    let key = if seg.primitive && Some(s) != last {
                        format!("_{}", seg.key)
                    } else {
                        seg.key.to_string()
                    };
                    steps.push(Step::Key(key));
                    if seg.index != NO_INDEX {
                        steps.push(Step::Index(seg.index as usize));
                    }
                }
                let primitive = self.primitive_kind(&n);
                Item::Node(Node {
                    json: n.json,
                    companion: n.companion,
                    type_name: n.ty.map_or("", |t| self.model.fhir_type_name(t)),
                    name: n.name,
                    primitive,
                    location: Location::from_steps(steps),
                })
            }
        }
    }

    /// Re-enters a published node: rebuilds its path segments and type by walking its
    /// location from the root, so a node from an earlier evaluation can be `$this`.
    fn adopt(&mut self, node: &Node<'a>) -> R<N<'a>> {
        let mut cur = self.root_node();
        let steps = node.location.steps();
        let mut i = 0;
        while i < steps.len() {
            self.tick(1)?;
            let Step::Key(key) = &steps[i] else {
                i += 1;
                continue;
            };
            let index = match steps.get(i + 1) {
                Some(Step::Index(ix)) => {
                    i += 1;
                    Some(*ix)
                }
                _ => None,
            };
            i += 1;
            let is_last = i >= steps.len();
            let mut found = None;
            for child in self.children_of(&cur)? {
                let seg = self.segs[child.seg as usize];
                let seg_key = if seg.primitive && !is_last {
                    format!("_{}", seg.key)
                } else {
                    seg.key.to_string()
                };
                let seg_index = (seg.index != NO_INDEX).then_some(seg.index as usize);
                if seg_key == *key && seg_index == index {
                    found = Some(child);
                    break;
                }
            }
            match found {
                Some(n) => cur = n,
                // A node from elsewhere: keep it as given, untyped.
                None => {
                    let key: &'a str = node.name;
                    let seg = self.seg(ROOT_SEG, key, NO_INDEX, node.primitive.is_some());
                    return Ok(N {
                        json: node.json,
                        companion: node.companion,
                        ty: None,
                        name: node.name,
                        seg,
                    });
                }
            }
        }
        Ok(cur)
    }

    // ----- navigation -----

    /// Pushes the element(s) under JSON key `key` (value and/or `_key` companion) of an
    /// object, typed `ty`.
    #[allow(clippy::too_many_arguments)]
    fn push_element(
        &mut self,
        out: &mut Vec<N<'a>>,
        parent: u32,
        key: &'a str,
        name: &'a str,
        ty: Option<TypeId>,
        value: Option<&'a Json>,
        companion: Option<&'a Json>,
    ) -> R<()> {
        let primitive = match ty.map(|t| self.model.kind(t)) {
            Some(TypeKind::Primitive(_)) => true,
            Some(_) => false,
            None => {
                !matches!(value, Some(Json::Object(_)) | Some(Json::Array(_)))
                    || companion.is_some()
            }
        };
        let as_list = |v: Option<&'a Json>| -> (&'a [Json], bool) {
            match v {
                Some(Json::Array(a)) => (a.as_slice(), true),
                Some(one) => (std::slice::from_ref(one), false),
                None => (&[], false),
            }
        };
        let (values, v_arr) = as_list(value);
        let (comps, c_arr) = as_list(companion);
        let is_array = v_arr || c_arr;
        let count = values.len().max(comps.len());
        self.tick(count as u64)?;
        for i in 0..count {
            let v = values.get(i).filter(|v| !v.is_null());
            let c = comps.get(i).filter(|c| !c.is_null());
            if v.is_none() && c.is_none() {
                continue;
            }
            let ty = match v {
                Some(obj @ Json::Object(_)) => self.model.resolve_object(ty, obj),
                _ => ty,
            };
            let index = if is_array {
                u32::try_from(i).unwrap_or(NO_INDEX - 1)
            } else {
                NO_INDEX
            };
            let seg = self.seg(parent, key, index, primitive);
            out.push(N {
                json: v,
                companion: c.filter(|_| primitive),
                ty,
                name,
                seg,
            });
        }
        Ok(())
    }

    /// All child elements of a node, in JSON order.
    fn children_of(&mut self, n: &N<'a>) -> R<Vec<N<'a>>> {
        let mut out = Vec::new();
        self.children_into(n, &mut out)?;
        Ok(out)
    }

    /// Appends the child elements of a node to `out`, in JSON order.
    fn children_into(&mut self, n: &N<'a>, out: &mut Vec<N<'a>>) -> R<()> {
        let (obj, ty) = match (n.json, n.companion) {
            (Some(Json::Object(obj)), _) => (obj, n.ty),
            (_, Some(Json::Object(comp))) => (comp, self.model.element),
            _ => return Ok(()),
        };
        let def = ty.map(|t| self.model.def(t));
        // Most objects have no `_key` companions; one scan saves a lookup per primitive.
        let has_companions = obj.keys().any(|k| k.starts_with('_'));
        for (key, value) in obj {
            // The resource's type tag is not an element (but `ExampleScenario.instance` has a
            // real `resourceType` element).
            if key == "resourceType" && def.is_none_or(|d| !d.by_key.contains_key("resourceType")) {
                continue;
            }
            if let Some(base) = key.strip_prefix('_') {
                if obj.contains_key(base) {
                    continue;
                }
                let (bkey, prop) = match def.and_then(|d| d.by_key.get_key_value(base)) {
                    Some((k, p)) => (&**k, Some(p)),
                    None => (base, None),
                };
                let name: &'a str = prop.map_or(bkey, |p| &*p.name);
                let pty = prop.map(|p| p.ty).or(self.model.type_id("string"));
                self.push_element(out, n.seg, bkey, name, pty, None, Some(value))?;
                continue;
            }
            let prop = def.and_then(|d| d.by_key.get(key.as_str()));
            let (name, pty): (&'a str, _) = match prop {
                Some(p) => (&p.name, Some(p.ty)),
                None => (key.as_str(), None),
            };
            let companion = if !has_companions || matches!(value, Json::Object(_)) {
                None
            } else {
                companion_of(obj, key)
            };
            self.push_element(out, n.seg, key, name, pty, Some(value), companion)?;
        }
        Ok(())
    }

    /// The children of a node named `name` (FHIRPath name: `value` finds `valueQuantity`).
    fn child(&mut self, n: &N<'a>, name: &str, out: &mut Vec<N<'a>>) -> R<()> {
        let (obj, ty) = match (n.json, n.companion) {
            (Some(Json::Object(obj)), _) => (obj, n.ty),
            (_, Some(Json::Object(comp))) => (comp, self.model.element),
            _ => return Ok(()),
        };
        self.tick(1)?;
        let def = ty.map(|t| self.model.def(t));
        match def.and_then(|d| d.by_name.get(name)) {
            Some(crate::model::NameProp::Choice) => {
                let Some(def) = def else { return Ok(()) };
                for (key, value) in obj {
                    let (base, is_comp) = match key.strip_prefix('_') {
                        Some(b) => (b, true),
                        None => (key.as_str(), false),
                    };
                    let Some((bkey, prop)) = def.by_key.get_key_value(base) else {
                        continue;
                    };
                    if &*prop.name != name {
                        continue;
                    }
                    if is_comp {
                        if !obj.contains_key(base) {
                            self.push_element(
                                out,
                                n.seg,
                                bkey,
                                &prop.name,
                                Some(prop.ty),
                                None,
                                Some(value),
                            )?;
                        }
                    } else {
                        let companion = companion_of(obj, key);
                        self.push_element(
                            out,
                            n.seg,
                            key,
                            &prop.name,
                            Some(prop.ty),
                            Some(value),
                            companion,
                        )?;
                    }
                }
            }
            Some(crate::model::NameProp::Plain(pty)) => {
                let pty = *pty;
                let def = def.and_then(|d| d.by_key.get_key_value(name));
                let Some((key, prop)) = def else {
                    return Ok(());
                };
                let value = obj.get(name);
                let companion = if matches!(value, Some(Json::Object(_))) {
                    None
                } else {
                    companion_of(obj, name)
                };
                self.push_element(out, n.seg, key, &prop.name, Some(pty), value, companion)?;
            }
            // A typed node has only its model's elements (`valueQuantity` is not a name).
            None if def.is_some() => {}
            None => {
                // An untyped node (not in the model): plain JSON navigation.
                let Some((key, value)) = obj.get_key_value(name) else {
                    return Ok(());
                };

                let companion = if matches!(value, Json::Object(_)) {
                    None
                } else {
                    companion_of(obj, name)
                };
                self.push_element(out, n.seg, key, key, None, Some(value), companion)?;
            }
        }
        Ok(())
    }

    fn is_resource(&self, n: &N<'a>) -> bool {
        n.ty.is_some_and(|t| {
            matches!(
                self.model.kind(t),
                TypeKind::Resource { .. } | TypeKind::AnyResource
            )
        })
    }

    /// Pre-order walk below `n`; `skip_resources` leaves out contained and Bundle entry
    /// resources with everything in them (Microsoft's `nodesByType`/`nodesByName`).
    ///
    /// Iterative, with one stack and one buffer per walk: no recursion limit to hit and no
    /// allocation per element.
    fn walk(
        &mut self,
        n: &N<'a>,
        skip_resources: bool,
        visit: &mut dyn FnMut(&Cx<'a>, &N<'a>) -> bool,
        out: &mut Vec<It<'a>>,
    ) -> R<()> {
        let mut stack: Vec<N<'a>> = Vec::new();
        let mut buf: Vec<N<'a>> = Vec::new();
        self.children_into(n, &mut buf)?;
        stack.extend(buf.drain(..).rev());
        while let Some(child) = stack.pop() {
            if skip_resources && self.is_resource(&child) {
                continue;
            }
            if visit(self, &child) {
                out.push(It::Node(child));
            }
            self.children_into(&child, &mut buf)?;
            stack.extend(buf.drain(..).rev());
        }
        Ok(())
    }

    // ----- evaluation -----

    fn eval(&mut self, ast: &Ast, focus: &[It<'a>], env: &Env<'a>) -> R<Vec<It<'a>>> {
        self.tick(1)?;
        match ast {
            Ast::Empty => Ok(Vec::new()),
            Ast::Literal(v) => Ok(vec![It::Val(v.clone())]),
            Ast::This => Ok(env.this.clone().into_iter().collect()),
            Ast::Index => Ok(env
                .index
                .map(|i| It::Val(Value::Integer(i)))
                .into_iter()
                .collect()),
            Ast::Total => Ok(Vec::new()),
            Ast::Var(name) => match &**name {
                "resource" | "rootResource" | "context" => Ok(vec![It::Node(self.root_node())]),
                "ucum" => Ok(vec![It::Val(Value::String(
                    "http://unitsofmeasure.org".into(),
                ))]),
                "sct" => Ok(vec![It::Val(Value::String(
                    "http://snomed.info/sct".into(),
                ))]),
                "loinc" => Ok(vec![It::Val(Value::String("http://loinc.org".into()))]),
                other => Err(EvalError::UnknownVariable(short(other))),
            },
            Ast::Ident(name) => {
                let mut out = Vec::new();
                let type_head = name.starts_with(|c: char| c.is_ascii_uppercase());
                for it in focus {
                    if let It::Node(n) = it {
                        if type_head && n.ty.is_some_and(|t| self.model.is_a(t, name)) {
                            out.push(it.clone());
                            continue;
                        }
                    }
                    self.member(it, name, &mut out)?;
                }
                Ok(out)
            }
            Ast::Member(target, name) => {
                let items = self.eval(target, focus, env)?;
                let mut out = Vec::new();
                for it in &items {
                    self.member(it, name, &mut out)?;
                }
                Ok(out)
            }
            Ast::Indexer(target, index) => {
                let items = self.eval(target, focus, env)?;
                let idx = self.eval_arg(index, env)?;
                match integer_of(&self.values(&idx), "an indexer")? {
                    Some(i) if i >= 0 => Ok(usize::try_from(i)
                        .ok()
                        .and_then(|i| items.get(i).cloned())
                        .into_iter()
                        .collect()),
                    _ => Ok(Vec::new()),
                }
            }
            Ast::Negate(inner) => {
                let items = self.eval(inner, focus, env)?;
                match self.single_value(&items, "unary `-`")? {
                    None => Ok(Vec::new()),
                    Some(Value::Integer(i)) => Ok(i
                        .checked_neg()
                        .map(|i| It::Val(Value::Integer(i)))
                        .into_iter()
                        .collect()),
                    Some(Value::Decimal(d)) => Ok(vec![It::Val(Value::Decimal(-d))]),
                    Some(Value::Quantity { value, unit }) => Ok(vec![It::Val(Value::Quantity {
                        value: -value,
                        unit,
                    })]),
                    Some(v) => Err(EvalError::Type {
                        operation: "unary `-`",
                        left: v.type_name(),
                        right: None,
                    }),
                }
            }
            Ast::Binary(op, l, r) => self.binary(*op, l, r, focus, env),
            Ast::TypeCall(target, func, type_name) => {
                let items = match target {
                    Some(t) => self.eval(t, focus, env)?,
                    None => focus.to_vec(),
                };
                self.type_call(*func, &items, type_name)
            }
            Ast::Call(target, func, args) => {
                let items = match target {
                    Some(t) => self.eval(t, focus, env)?,
                    None => focus.to_vec(),
                };
                self.call(*func, items, args, env)
            }
        }
    }

    /// Evaluates a function argument in the caller's context (`$this` of the enclosing scope).
    fn eval_arg(&mut self, arg: &Ast, env: &Env<'a>) -> R<Vec<It<'a>>> {
        let focus: Vec<It<'a>> = env.this.clone().into_iter().collect();
        self.eval(arg, &focus, env)
    }

    fn member(&mut self, it: &It<'a>, name: &str, out: &mut Vec<It<'a>>) -> R<()> {
        let It::Node(n) = it else { return Ok(()) };
        let mut nodes = Vec::new();
        self.child(n, name, &mut nodes)?;
        out.extend(nodes.into_iter().map(It::Node));
        Ok(())
    }

    fn value_of(&self, it: &It<'a>) -> Option<Value> {
        match it {
            It::Val(v) => Some(v.clone()),
            It::Node(n) => primitive_value(self.primitive_kind(n)?, n.json?),
        }
    }

    fn values(&self, items: &[It<'a>]) -> Vec<Option<Value>> {
        items.iter().map(|i| self.value_of(i)).collect()
    }

    fn single_value(&self, items: &[It<'a>], operation: &'static str) -> R<Option<Value>> {
        match items {
            [] => Ok(None),
            [one] => Ok(self.value_of(one)),
            many => Err(EvalError::NotSingleton {
                operation,
                count: many.len(),
            }),
        }
    }

    fn boolean(&self, items: &[It<'a>], operation: &'static str) -> R<Option<bool>> {
        match items {
            [] => Ok(None),
            [one] => Ok(Some(match self.value_of(one) {
                Some(Value::Boolean(b)) => b,
                _ => true,
            })),
            many => Err(EvalError::NotSingleton {
                operation,
                count: many.len(),
            }),
        }
    }

    fn string_input(&self, items: &[It<'a>], operation: &'static str) -> R<Option<String>> {
        match self.single_value(items, operation)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(EvalError::Type {
                operation,
                left: v.type_name(),
                right: None,
            }),
        }
    }

    fn string_arg(
        &mut self,
        arg: &Ast,
        env: &Env<'a>,
        operation: &'static str,
    ) -> R<Option<String>> {
        let items = self.eval_arg(arg, env)?;
        self.string_input(&items, operation)
    }

    fn integer_arg(&mut self, arg: &Ast, env: &Env<'a>, operation: &'static str) -> R<Option<i64>> {
        let items = self.eval_arg(arg, env)?;
        integer_of(&self.values(&items), operation)
    }

    /// Item equality for `=`, `in`, `contains`, `distinct` and unions: `None` when dates of
    /// different precision make it undecidable.
    fn equal(&self, a: &It<'a>, b: &It<'a>) -> Option<bool> {
        if let (It::Node(x), It::Node(y)) = (a, b) {
            if same_node(x, y) {
                return Some(true);
            }
            if self.primitive_kind(x).is_none() || self.primitive_kind(y).is_none() {
                return Some(x.json == y.json && x.companion == y.companion);
            }
        }
        match (self.value_of(a), self.value_of(b)) {
            (Some(x), Some(y)) => value_equal(&x, &y),
            (None, None) => {
                Some(matches!((a, b), (It::Node(x), It::Node(y)) if x.companion == y.companion))
            }
            _ => Some(false),
        }
    }

    fn binary(
        &mut self,
        op: BinOp,
        l: &Ast,
        r: &Ast,
        focus: &[It<'a>],
        env: &Env<'a>,
    ) -> R<Vec<It<'a>>> {
        let boolean = |b: Option<bool>| -> Vec<It<'a>> {
            b.map(|b| It::Val(Value::Boolean(b))).into_iter().collect()
        };
        // Short-circuit the logical operators where the specification allows.
        match op {
            BinOp::And | BinOp::Or | BinOp::Implies => {
                let lv = self.eval(l, focus, env)?;
                let a = self.boolean(&lv, op_name(op))?;
                match (op, a) {
                    (BinOp::And, Some(false)) => return Ok(boolean(Some(false))),
                    (BinOp::Or, Some(true)) => return Ok(boolean(Some(true))),
                    (BinOp::Implies, Some(false)) => return Ok(boolean(Some(true))),
                    _ => {}
                }
                let rv = self.eval(r, focus, env)?;
                let b = self.boolean(&rv, op_name(op))?;
                let result = match op {
                    BinOp::And => match (a, b) {
                        (_, Some(false)) => Some(false),
                        (Some(true), Some(true)) => Some(true),
                        _ => None,
                    },
                    BinOp::Or => match (a, b) {
                        (_, Some(true)) => Some(true),
                        (Some(false), Some(false)) => Some(false),
                        _ => None,
                    },
                    _ => match (a, b) {
                        (_, Some(true)) => Some(true),
                        (Some(true), Some(false)) => Some(false),
                        _ => None,
                    },
                };
                return Ok(boolean(result));
            }
            _ => {}
        }
        let lv = self.eval(l, focus, env)?;
        let rv = self.eval(r, focus, env)?;
        self.tick((lv.len() + rv.len()) as u64)?;
        match op {
            BinOp::Xor => {
                let (a, b) = (self.boolean(&lv, "`xor`")?, self.boolean(&rv, "`xor`")?);
                Ok(boolean(a.zip(b).map(|(a, b)| a != b)))
            }
            BinOp::Union => {
                let mut out: Vec<It<'a>> = Vec::with_capacity(lv.len() + rv.len());
                for it in lv.into_iter().chain(rv) {
                    self.tick(out.len() as u64)?;
                    if !out.iter().any(|o| self.equal(o, &it) == Some(true)) {
                        out.push(it);
                    }
                }
                Ok(out)
            }
            BinOp::Eq | BinOp::Ne => {
                if lv.is_empty() || rv.is_empty() {
                    return Ok(Vec::new());
                }
                let eq = if lv.len() != rv.len() {
                    Some(false)
                } else {
                    let mut all = Some(true);
                    for (a, b) in lv.iter().zip(&rv) {
                        match self.equal(a, b) {
                            Some(true) => {}
                            Some(false) => {
                                all = Some(false);
                                break;
                            }
                            None => all = None,
                        }
                    }
                    all
                };
                Ok(boolean(if op == BinOp::Eq { eq } else { eq.map(|e| !e) }))
            }
            BinOp::Equiv | BinOp::NotEquiv => {
                let eq = if lv.len() != rv.len() {
                    false
                } else {
                    let mut all = true;
                    for (a, b) in lv.iter().zip(&rv) {
                        let same = match (self.value_of(a), self.value_of(b)) {
                            (Some(x), Some(y)) => value_equivalent(&x, &y),
                            (None, None) => self.equal(a, b) == Some(true),
                            _ => false,
                        };
                        if !same {
                            all = false;
                            break;
                        }
                    }
                    all
                };
                Ok(boolean(Some(if op == BinOp::Equiv { eq } else { !eq })))
            }
            BinOp::In | BinOp::Contains => {
                let (needle, hay) = if op == BinOp::In {
                    (&lv, &rv)
                } else {
                    (&rv, &lv)
                };
                match needle.as_slice() {
                    [] => Ok(Vec::new()),
                    [one] => Ok(boolean(Some(
                        hay.iter().any(|h| self.equal(one, h) == Some(true)),
                    ))),
                    many => Err(EvalError::NotSingleton {
                        operation: op_name(op),
                        count: many.len(),
                    }),
                }
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let (Some(a), Some(b)) = (
                    self.single_value(&lv, op_name(op))?,
                    self.single_value(&rv, op_name(op))?,
                ) else {
                    return Ok(Vec::new());
                };
                let ord = compare(&a, &b).ok_or(EvalError::Type {
                    operation: op_name(op),
                    left: a.type_name(),
                    right: Some(b.type_name()),
                })?;
                Ok(boolean(ord.map(|o| match op {
                    BinOp::Lt => o == Ordering::Less,
                    BinOp::Le => o != Ordering::Greater,
                    BinOp::Gt => o == Ordering::Greater,
                    _ => o != Ordering::Less,
                })))
            }
            BinOp::Concat => {
                let a = self.string_or_empty(&lv)?;
                let b = self.string_or_empty(&rv)?;
                Ok(vec![It::Val(Value::String(a + &b))])
            }
            _ => {
                let (Some(a), Some(b)) = (
                    self.single_value(&lv, op_name(op))?,
                    self.single_value(&rv, op_name(op))?,
                ) else {
                    return Ok(Vec::new());
                };
                arithmetic(op, a, b).map(|v| v.map(It::Val).into_iter().collect())
            }
        }
    }

    fn string_or_empty(&self, items: &[It<'a>]) -> R<String> {
        match self.single_value(items, "`&`")? {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s),
            Some(v) => Err(EvalError::Type {
                operation: "`&`",
                left: v.type_name(),
                right: None,
            }),
        }
    }

    fn item_is(&self, it: &It<'a>, type_name: &str) -> bool {
        match it {
            It::Node(n) => match n.ty {
                Some(t) => {
                    self.model.is_a(t, type_name)
                        || type_name.strip_prefix("System.").is_some_and(|sys| {
                            self.value_of(it).is_some_and(|v| v.type_name() == sys)
                        })
                }
                None => false,
            },
            It::Val(v) => type_name.strip_prefix("System.").unwrap_or(type_name) == v.type_name(),
        }
    }

    fn type_call(&mut self, func: Func, items: &[It<'a>], type_name: &str) -> R<Vec<It<'a>>> {
        self.tick(items.len() as u64)?;
        match func {
            Func::Is => match items {
                [] => Ok(Vec::new()),
                [one] => Ok(vec![It::Val(Value::Boolean(self.item_is(one, type_name)))]),
                many => Err(EvalError::NotSingleton {
                    operation: "`is`",
                    count: many.len(),
                }),
            },
            // `as` filters like `ofType` rather than failing on several items: Microsoft's
            // configurations apply it to repeating elements (`condition.onset as Age`).
            _ => Ok(items
                .iter()
                .filter(|it| self.item_is(it, type_name))
                .cloned()
                .collect()),
        }
    }

    fn regex(&mut self, pattern: &str, operation: &'static str) -> R<Regex> {
        if let Some((_, re)) = self.regexes.iter().find(|(p, _)| p == pattern) {
            return Ok(re.clone());
        }
        self.tick(pattern.len() as u64 * 10)?;
        let re = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .dfa_size_limit(1 << 20)
            .build()
            .map_err(|_| EvalError::InvalidRegex(operation))?;
        if self.regexes.len() < 16 {
            self.regexes.push((pattern.to_string(), re.clone()));
        }
        Ok(re)
    }

    fn call(
        &mut self,
        func: Func,
        items: Vec<It<'a>>,
        args: &[Ast],
        env: &Env<'a>,
    ) -> R<Vec<It<'a>>> {
        self.tick(1 + items.len() as u64)?;
        let boolean = |b: bool| Ok(vec![It::Val(Value::Boolean(b))]);
        let string = |s: String| Ok(vec![It::Val(Value::String(s))]);
        let integer = |i: i64| Ok(vec![It::Val(Value::Integer(i))]);
        match func {
            Func::Empty => boolean(items.is_empty()),
            Func::Exists => match args.first() {
                None => boolean(!items.is_empty()),
                Some(crit) => {
                    let found = self.filter(items, crit, env)?;
                    boolean(!found.is_empty())
                }
            },
            Func::Where => self.filter(items, &args[0], env),
            Func::All => {
                for (i, it) in items.iter().enumerate() {
                    let sub = Env {
                        this: Some(it.clone()),
                        index: Some(i as i64),
                    };
                    let r = self.eval(&args[0], std::slice::from_ref(it), &sub)?;
                    if self.boolean(&r, "`all`")? != Some(true) {
                        return boolean(false);
                    }
                }
                boolean(true)
            }
            Func::Select => {
                let mut out = Vec::new();
                for (i, it) in items.iter().enumerate() {
                    let sub = Env {
                        this: Some(it.clone()),
                        index: Some(i as i64),
                    };
                    let r = self.eval(&args[0], std::slice::from_ref(it), &sub)?;
                    self.tick(r.len() as u64)?;
                    out.extend(r);
                }
                Ok(out)
            }
            Func::Repeat => {
                let mut out: Vec<It<'a>> = Vec::new();
                let mut queue = items;
                while !queue.is_empty() {
                    let mut next = Vec::new();
                    for (i, it) in queue.iter().enumerate() {
                        let sub = Env {
                            this: Some(it.clone()),
                            index: Some(i as i64),
                        };
                        for r in self.eval(&args[0], std::slice::from_ref(it), &sub)? {
                            self.tick(1 + out.len() as u64)?;
                            if !out.iter().any(|o| self.equal(o, &r) == Some(true)) {
                                out.push(r.clone());
                                next.push(r);
                            }
                        }
                    }
                    queue = next;
                }
                Ok(out)
            }
            Func::AllTrue | Func::AnyTrue | Func::AllFalse | Func::AnyFalse => {
                let bools: Vec<Option<Value>> = self.values(&items);
                let is = |want: bool| move |v: &Option<Value>| matches!(v, Some(Value::Boolean(b)) if *b == want);
                boolean(match func {
                    Func::AllTrue => bools.iter().all(is(true)),
                    Func::AnyTrue => bools.iter().any(is(true)),
                    Func::AllFalse => bools.iter().all(is(false)),
                    _ => bools.iter().any(is(false)),
                })
            }
            Func::Count => integer(items.len() as i64),
            Func::Distinct | Func::IsDistinct => {
                let mut out: Vec<It<'a>> = Vec::new();
                for it in &items {
                    self.tick(out.len() as u64)?;
                    if !out.iter().any(|o| self.equal(o, it) == Some(true)) {
                        out.push(it.clone());
                    }
                }
                if func == Func::IsDistinct {
                    boolean(out.len() == items.len())
                } else {
                    Ok(out)
                }
            }
            Func::First => Ok(items.into_iter().take(1).collect()),
            Func::Last => Ok(items.last().cloned().into_iter().collect()),
            Func::Tail => Ok(items.into_iter().skip(1).collect()),
            Func::Skip | Func::Take => {
                let n = self
                    .integer_arg(&args[0], env, "`skip`/`take`")?
                    .unwrap_or(0)
                    .max(0);
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                Ok(if func == Func::Skip {
                    items.into_iter().skip(n).collect()
                } else {
                    items.into_iter().take(n).collect()
                })
            }
            Func::Single => match items.len() {
                0 | 1 => Ok(items),
                n => Err(EvalError::NotSingleton {
                    operation: "`single()`",
                    count: n,
                }),
            },
            Func::Not => Ok(self
                .boolean(&items, "`not()`")?
                .map(|b| It::Val(Value::Boolean(!b)))
                .into_iter()
                .collect()),
            Func::Iif => {
                let sub = match items.as_slice() {
                    [one] => Env {
                        this: Some(one.clone()),
                        index: env.index,
                    },
                    _ => env.clone(),
                };
                let cond = self.eval(&args[0], &items, &sub)?;
                if self.boolean(&cond, "`iif`")? == Some(true) {
                    self.eval(&args[1], &items, &sub)
                } else if let Some(otherwise) = args.get(2) {
                    self.eval(otherwise, &items, &sub)
                } else {
                    Ok(Vec::new())
                }
            }
            Func::Union
            | Func::Combine
            | Func::Intersect
            | Func::Exclude
            | Func::SubsetOf
            | Func::SupersetOf => {
                let other = self.eval_arg(&args[0], env)?;
                self.tick((items.len() * other.len().max(1)) as u64)?;
                let member = |cx: &Self, it: &It<'a>, set: &[It<'a>]| {
                    set.iter().any(|o| cx.equal(o, it) == Some(true))
                };
                match func {
                    Func::Combine => Ok(items.into_iter().chain(other).collect()),
                    Func::Union => {
                        let mut out: Vec<It<'a>> = Vec::new();
                        for it in items.into_iter().chain(other) {
                            if !member(self, &it, &out) {
                                out.push(it);
                            }
                        }
                        Ok(out)
                    }
                    Func::Intersect => {
                        let mut out: Vec<It<'a>> = Vec::new();
                        for it in items {
                            if member(self, &it, &other) && !member(self, &it, &out) {
                                out.push(it);
                            }
                        }
                        Ok(out)
                    }
                    Func::Exclude => Ok(items
                        .into_iter()
                        .filter(|it| !member(self, it, &other))
                        .collect()),
                    Func::SubsetOf => boolean(items.iter().all(|it| member(self, it, &other))),
                    _ => boolean(other.iter().all(|it| member(self, it, &items))),
                }
            }
            Func::Children | Func::Descendants => {
                let mut out = Vec::new();
                for it in &items {
                    let It::Node(n) = it else { continue };
                    if func == Func::Children {
                        out.extend(self.children_of(n)?.into_iter().map(It::Node));
                    } else {
                        self.walk(n, false, &mut |_, _| true, &mut out)?;
                    }
                }
                Ok(out)
            }
            Func::NodesByType | Func::NodesByName => {
                let Some(wanted) = self.string_arg(&args[0], env, "`nodesByType`/`nodesByName`")?
                else {
                    return Ok(Vec::new());
                };
                let by_type = func == Func::NodesByType;
                let mut matches = |cx: &Cx<'a>, n: &N<'a>| {
                    if by_type {
                        n.ty.is_some_and(|t| cx.model.fhir_type_name(t) == wanted)
                    } else {
                        n.name == wanted
                    }
                };
                let mut out = Vec::new();
                for it in &items {
                    let It::Node(n) = it else { continue };
                    if matches(self, n) {
                        out.push(it.clone());
                    }
                    self.walk(n, true, &mut matches, &mut out)?;
                }
                Ok(out)
            }
            Func::ToString => Ok(self
                .single_value(&items, "`toString()`")?
                .map(|v| It::Val(Value::String(v.to_string())))
                .into_iter()
                .collect()),
            Func::ToInteger => Ok(match self.single_value(&items, "`toInteger()`")? {
                Some(Value::Integer(i)) => Some(Value::Integer(i)),
                Some(Value::String(s)) => s.trim().parse().ok().map(Value::Integer),
                Some(Value::Boolean(b)) => Some(Value::Integer(i64::from(b))),
                _ => None,
            }
            .map(It::Val)
            .into_iter()
            .collect()),
            Func::ToDecimal => Ok(match self.single_value(&items, "`toDecimal()`")? {
                Some(Value::Integer(i)) => Some(Value::Decimal(i as f64)),
                Some(Value::Decimal(d)) => Some(Value::Decimal(d)),
                Some(Value::String(s)) => s
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|d| d.is_finite())
                    .map(Value::Decimal),
                Some(Value::Boolean(b)) => Some(Value::Decimal(if b { 1.0 } else { 0.0 })),
                _ => None,
            }
            .map(It::Val)
            .into_iter()
            .collect()),
            Func::HasValue => boolean(
                matches!(items.as_slice(), [It::Node(n)] if self.primitive_kind(n).is_some() && n.json.is_some()),
            ),
            Func::Trace => Ok(items),
            Func::StartsWith | Func::EndsWith | Func::Contains | Func::IndexOf => {
                let name = match func {
                    Func::StartsWith => "`startsWith()`",
                    Func::EndsWith => "`endsWith()`",
                    Func::Contains => "`contains()`",
                    _ => "`indexOf()`",
                };
                let (Some(s), Some(arg)) = (
                    self.string_input(&items, name)?,
                    self.string_arg(&args[0], env, name)?,
                ) else {
                    return Ok(Vec::new());
                };
                match func {
                    Func::StartsWith => boolean(s.starts_with(&arg)),
                    Func::EndsWith => boolean(s.ends_with(&arg)),
                    Func::Contains => boolean(s.contains(&arg)),
                    _ => integer(s.find(&arg).map_or(-1, |b| s[..b].chars().count() as i64)),
                }
            }
            Func::Matches | Func::ReplaceMatches => {
                let name = if func == Func::Matches {
                    "`matches()`"
                } else {
                    "`replaceMatches()`"
                };
                let (Some(s), Some(pattern)) = (
                    self.string_input(&items, name)?,
                    self.string_arg(&args[0], env, name)?,
                ) else {
                    return Ok(Vec::new());
                };
                let re = self.regex(&pattern, name)?;
                self.tick(s.len() as u64)?;
                if func == Func::Matches {
                    return boolean(re.is_match(&s));
                }
                let Some(subst) = self.string_arg(&args[1], env, name)? else {
                    return Ok(Vec::new());
                };
                string(re.replace_all(&s, subst.as_str()).into_owned())
            }
            Func::Replace => {
                let name = "`replace()`";
                let (Some(s), Some(from), Some(to)) = (
                    self.string_input(&items, name)?,
                    self.string_arg(&args[0], env, name)?,
                    self.string_arg(&args[1], env, name)?,
                ) else {
                    return Ok(Vec::new());
                };
                let growth = if from.is_empty() {
                    s.chars().count() + 1
                } else {
                    s.len() / from.len().max(1)
                };
                self.tick((growth * to.len()) as u64)?;
                if from.is_empty() {
                    // Inserts between every character, as the specification says.
                    let mut out = to.clone();
                    for c in s.chars() {
                        out.push(c);
                        out.push_str(&to);
                    }
                    return string(out);
                }
                string(s.replace(&from, &to))
            }
            Func::Substring => {
                let name = "`substring()`";
                let Some(s) = self.string_input(&items, name)? else {
                    return Ok(Vec::new());
                };
                let Some(start) = self.integer_arg(&args[0], env, name)? else {
                    return Ok(Vec::new());
                };
                let len = match args.get(1) {
                    Some(a) => self.integer_arg(a, env, name)?,
                    None => None,
                };
                let count = s.chars().count() as i64;
                if start < 0 || start >= count {
                    return Ok(Vec::new());
                }
                let take = len.map_or(count - start, |l| l.max(0));
                let start = usize::try_from(start).unwrap_or(0);
                let take = usize::try_from(take).unwrap_or(usize::MAX);
                string(s.chars().skip(start).take(take).collect())
            }
            Func::Length => Ok(self
                .string_input(&items, "`length()`")?
                .map(|s| It::Val(Value::Integer(s.chars().count() as i64)))
                .into_iter()
                .collect()),
            Func::Lower => Ok(self
                .string_input(&items, "`lower()`")?
                .map(|s| It::Val(Value::String(s.to_lowercase())))
                .into_iter()
                .collect()),
            Func::Upper => Ok(self
                .string_input(&items, "`upper()`")?
                .map(|s| It::Val(Value::String(s.to_uppercase())))
                .into_iter()
                .collect()),
            Func::Trim => Ok(self
                .string_input(&items, "`trim()`")?
                .map(|s| It::Val(Value::String(s.trim().to_string())))
                .into_iter()
                .collect()),
            // Type functions are parsed into `TypeCall`.
            Func::OfType | Func::As | Func::Is => Ok(Vec::new()),
        }
    }

    fn filter(&mut self, items: Vec<It<'a>>, crit: &Ast, env: &Env<'a>) -> R<Vec<It<'a>>> {
        let _ = env;
        let mut out = Vec::new();
        for (i, it) in items.into_iter().enumerate() {
            let sub = Env {
                this: Some(it.clone()),
                index: Some(i as i64),
            };
            let r = self.eval(crit, std::slice::from_ref(&it), &sub)?;
            if self.boolean(&r, "`where`")? == Some(true) {
                out.push(it);
            }
        }
        Ok(out)
    }
}

/// The `_key` companion of a primitive property. The `_key` string is built on the stack:
/// this runs for every primitive visited, and a heap string each time would dominate a walk.
fn companion_of<'a>(obj: &'a serde_json::Map<String, Json>, key: &str) -> Option<&'a Json> {
    let mut buf = [0u8; 64];
    match buf.get_mut(..=key.len()) {
        Some(slot) => {
            slot[0] = b'_';
            slot[1..].copy_from_slice(key.as_bytes());
            obj.get(std::str::from_utf8(slot).ok()?)
        }
        None => obj.get(&format!("_{key}")),
    }
}

fn same_node(a: &N<'_>, b: &N<'_>) -> bool {
    let ptr = |j: Option<&Json>| j.map(|j| j as *const Json);
    ptr(a.json) == ptr(b.json) && ptr(a.companion) == ptr(b.companion)
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

fn integer_of(values: &[Option<Value>], operation: &'static str) -> R<Option<i64>> {
    match values {
        [] | [None] => Ok(None),
        [Some(Value::Integer(i))] => Ok(Some(*i)),
        [Some(v)] => Err(EvalError::Type {
            operation,
            left: v.type_name(),
            right: None,
        }),
        many => Err(EvalError::NotSingleton {
            operation,
            count: many.len(),
        }),
    }
}

fn op_name(op: BinOp) -> &'static str {
    match op {
        BinOp::Mul => "`*`",
        BinOp::Div => "`/`",
        BinOp::IntDiv => "`div`",
        BinOp::Mod => "`mod`",
        BinOp::Add => "`+`",
        BinOp::Sub => "`-`",
        BinOp::Concat => "`&`",
        BinOp::Union => "`|`",
        BinOp::Lt => "`<`",
        BinOp::Le => "`<=`",
        BinOp::Gt => "`>`",
        BinOp::Ge => "`>=`",
        BinOp::Eq => "`=`",
        BinOp::Ne => "`!=`",
        BinOp::Equiv => "`~`",
        BinOp::NotEquiv => "`!~`",
        BinOp::In => "`in`",
        BinOp::Contains => "`contains`",
        BinOp::And => "`and`",
        BinOp::Or => "`or`",
        BinOp::Xor => "`xor`",
        BinOp::Implies => "`implies`",
    }
}

/// Orders two values of comparable types: `None` for incomparable types (an error for the
/// caller), `Some(None)` for dates that differ only in precision (an empty result).
fn compare(a: &Value, b: &Value) -> Option<Option<Ordering>> {
    use Value::*;
    match (a, b) {
        (Integer(x), Integer(y)) => Some(Some(x.cmp(y))),
        (Integer(_) | Decimal(_), Integer(_) | Decimal(_)) => {
            Some(number(a)?.partial_cmp(&number(b)?))
        }
        (String(x), String(y)) => Some(Some(x.cmp(y))),
        (Date(x) | DateTime(x), Date(y) | DateTime(y)) => Some(x.compare(y)),
        (Time(x), Time(y)) => Some(x.compare(y)),
        (Quantity { value: x, unit: ux }, Quantity { value: y, unit: uy }) if ux == uy => {
            Some(x.partial_cmp(y))
        }
        _ => None,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Decimal(d) => Some(*d),
        _ => None,
    }
}

fn value_equal(a: &Value, b: &Value) -> Option<bool> {
    match compare(a, b) {
        Some(Some(o)) => Some(o == Ordering::Equal),
        Some(None) => match (a, b) {
            // Decimals that do not compare (NaN cannot occur from JSON) are unequal.
            (Value::Decimal(_), _) | (_, Value::Decimal(_)) => Some(false),
            _ => None,
        },
        None => Some(a == b),
    }
}

fn value_equivalent(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            let norm = |s: &str| {
                s.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase()
            };
            norm(x) == norm(y)
        }
        _ => value_equal(a, b) == Some(true),
    }
}

fn arithmetic(op: BinOp, a: Value, b: Value) -> R<Option<Value>> {
    use Value::*;
    let mismatch = |a: &Value, b: &Value| EvalError::Type {
        operation: op_name(op),
        left: a.type_name(),
        right: Some(b.type_name()),
    };
    Ok(match (op, &a, &b) {
        (BinOp::Add, String(x), String(y)) => Some(String(format!("{x}{y}"))),
        (BinOp::Add, Integer(x), Integer(y)) => x.checked_add(*y).map(Integer),
        (BinOp::Sub, Integer(x), Integer(y)) => x.checked_sub(*y).map(Integer),
        (BinOp::Mul, Integer(x), Integer(y)) => x.checked_mul(*y).map(Integer),
        (BinOp::IntDiv, Integer(x), Integer(y)) => x.checked_div(*y).map(Integer),
        (BinOp::Mod, Integer(x), Integer(y)) => x.checked_rem(*y).map(Integer),
        (
            BinOp::Add | BinOp::Sub,
            Quantity { value: x, unit: ux },
            Quantity { value: y, unit: uy },
        ) if ux == uy => {
            let v = if op == BinOp::Add { x + y } else { x - y };
            Some(Quantity {
                value: v,
                unit: ux.clone(),
            })
        }
        (_, Integer(_) | Decimal(_), Integer(_) | Decimal(_)) => {
            let (x, y) = (number(&a).unwrap_or(0.0), number(&b).unwrap_or(0.0));
            let r = match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div if y == 0.0 => return Ok(None),
                BinOp::Div => x / y,
                BinOp::IntDiv if y == 0.0 => return Ok(None),
                BinOp::IntDiv => return Ok(Some(Integer((x / y).trunc() as i64))),
                BinOp::Mod if y == 0.0 => return Ok(None),
                BinOp::Mod => x % y,
                _ => return Err(mismatch(&a, &b)),
            };
            r.is_finite().then_some(Decimal(r))
        }
        _ => return Err(mismatch(&a, &b)),
    })
}
