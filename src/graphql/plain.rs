//! Plain fields: an object's in-memory fields, each written once and read
//! two ways.
//!
//! async-graphql resolves every field of every object as a boxed future in
//! a `FuturesUnordered`; for a value already at hand that machinery costs
//! more than the value, and the largest answer the API gives (nested
//! circles: 20 circles of 20 members) is made of such fields. So a type
//! declares its plain fields with [`plain_object!`], one line each: that
//! line is the field's `#[Object]` resolver (the general path) and its
//! entry in the type's [`PlainObject::FIELDS`], from which a [`Plan`]
//! writes the answer directly (the fast path, [`write_list`]). A selection
//! the plan cannot take (fragments, directives, arguments, `__typename`, a
//! field that loads) takes the general path, which gives the same answer.
//!
//! This module is the mechanism only; each type's fields live with the type.

use std::sync::Arc;

use async_graphql::{
    indexmap::IndexMap,
    parser::types::{Selection, SelectionSet},
    ContextSelectionSet, Name, Value,
};
use chrono::{DateTime, Utc};

use super::answer_size::{self, AnswerMeter};

/// A type whose plain fields [`plain_object!`] declared.
pub(super) trait PlainObject {
    /// What the plain fields read their values from.
    type View: ?Sized + 'static;

    /// The plain fields, in schema order.
    const FIELDS: &'static [PlainField<Self::View>];

    fn view(&self) -> &Self::View;
}

/// One plain field: its name as written in Rust (the schema's is its
/// camelCase), how to plan its sub-selection, how to write its value.
pub(super) struct PlainField<V: ?Sized> {
    pub name: &'static str,
    pub plan: fn(&SelectionSet) -> Option<Plan>,
    pub write: fn(&V, &Plan) -> Value,
}

/// A plain field's value as the fast path writes it: what the value's
/// `OutputType::resolve` gives, without a context.
pub(super) trait PlainValue {
    /// The plan for the field's sub-selection, or `None` if it has to take
    /// the general path.
    fn plan(set: &SelectionSet) -> Option<Plan>;

    fn write(&self, plan: &Plan) -> Value;
}

/// What to write for a selection: each field's response key, its index in
/// the object's [`PlainObject::FIELDS`] and its own plan (empty for a leaf).
#[derive(Default)]
pub(super) struct Plan(Vec<Planned>);

struct Planned {
    key: Name,
    field: usize,
    sub: Plan,
}

impl Plan {
    /// The plan for `set` over `T`'s plain fields, or `None` if anything in
    /// it is not a plain field of `T` selected once.
    pub(super) fn of<T: PlainObject + ?Sized>(set: &SelectionSet) -> Option<Self> {
        let mut planned = Vec::with_capacity(set.items.len());
        for item in &set.items {
            let Selection::Field(field) = &item.node else {
                return None;
            };
            let field = &field.node;
            if !field.arguments.is_empty() || !field.directives.is_empty() {
                return None;
            }
            let key = &field.response_key().node;
            if planned.iter().any(|seen: &Planned| seen.key == *key) {
                return None;
            }
            let index = T::FIELDS
                .iter()
                .position(|plain| is_named(plain.name, &field.name.node))?;
            let sub = (T::FIELDS[index].plan)(&field.selection_set.node)?;
            planned.push(Planned {
                key: key.clone(),
                field: index,
                sub,
            });
        }
        Some(Self(planned))
    }

    /// The plan of a scalar or enum: nothing beneath it.
    pub(super) fn leaf(set: &SelectionSet) -> Option<Self> {
        set.items.is_empty().then(Self::default)
    }

    /// The object `view` answers under this plan, fields in selection order.
    pub(super) fn write<T: PlainObject + ?Sized>(&self, view: &T::View) -> Value {
        let mut object = IndexMap::with_capacity(self.0.len());
        for planned in &self.0 {
            let write = T::FIELDS[planned.field].write;
            object.insert(planned.key.clone(), write(view, &planned.sub));
        }
        Value::Object(object)
    }
}

/// A list of `T` written by its plan when the selection (`ctx`'s) is plain
/// fields only, else `None`: the caller takes the general path.
pub(super) fn write_list<'a, T, I>(ctx: &ContextSelectionSet<'_>, views: I) -> Option<Value>
where
    T: PlainObject + ?Sized,
    I: IntoIterator<Item = &'a T::View>,
{
    let plan = Plan::of::<T>(&ctx.item.node)?;
    let written = Value::List(
        views
            .into_iter()
            .map(|view| plan.write::<T>(view))
            .collect(),
    );
    answer_size::charge_written(ctx.data_opt::<Arc<AnswerMeter>>(), &written);
    Some(written)
}

/// Whether `graphql` is `rust` in camelCase, as `#[Object]` names a
/// resolver (`max_tokens` is `maxTokens`).
pub(super) fn is_named(rust: &str, graphql: &str) -> bool {
    let mut graphql = graphql.chars();
    let mut word_starts = false;
    for c in rust.chars() {
        if c == '_' {
            word_starts = true;
            continue;
        }
        let expected = if word_starts {
            c.to_ascii_uppercase()
        } else {
            c
        };
        word_starts = false;
        if graphql.next() != Some(expected) {
            return false;
        }
    }
    graphql.next().is_none()
}

impl<T: PlainValue> PlainValue for Option<T> {
    fn plan(set: &SelectionSet) -> Option<Plan> {
        T::plan(set)
    }

    fn write(&self, plan: &Plan) -> Value {
        match self {
            Some(value) => value.write(plan),
            None => Value::Null,
        }
    }
}

impl PlainValue for &str {
    fn plan(set: &SelectionSet) -> Option<Plan> {
        Plan::leaf(set)
    }

    fn write(&self, _: &Plan) -> Value {
        Value::String((*self).to_owned())
    }
}

/// Scalars and enums as plain values: what their resolver answers is their
/// `InputType::to_value`.
macro_rules! plain_leaves {
    ($($ty:ty),* $(,)?) => {$(
        impl $crate::graphql::plain::PlainValue for $ty {
            fn plan(
                set: &async_graphql::parser::types::SelectionSet,
            ) -> Option<$crate::graphql::plain::Plan> {
                $crate::graphql::plain::Plan::leaf(set)
            }

            fn write(&self, _: &$crate::graphql::plain::Plan) -> async_graphql::Value {
                async_graphql::InputType::to_value(self)
            }
        }
    )*};
}
pub(crate) use plain_leaves;

plain_leaves!(String, bool, i32, f64, DateTime<Utc>);

/// `#[Object] impl $ty { ... }` in which a field written
/// `plain name: Type = |view| value;` is both the field's resolver
/// (`value`, read from the type's view) and its entry in the type's
/// [`PlainObject::FIELDS`]. Any other item is an ordinary resolver
/// (`async fn`), kept as written; the schema lists fields in item order.
/// `#[Object]` is written at the call and passed on with the caller's
/// spans, so that what its attributes name (`child_complexity`) resolves.
///
/// ```text
/// plain_object! {
///     /// An AI agent.
///     #[Object]
///     impl Agent (view: &AgentSummary = |agent| &agent.summary) {
///         plain name: &str = |a| &a.name;
///         async fn description(&self, ctx: &Context<'_>) -> Result<String> { ... }
///     }
/// }
/// ```
macro_rules! plain_object {
    // The head: the type's attributes (its doc and `#[Object]`), token by
    // token up to `impl`, so that they keep the caller's spans.
    (@head [$($attrs:tt)*]
        impl $ty:ident (view: &$view:ty = |$this:ident| $get:expr) { $($items:tt)* }
    ) => {
        $crate::graphql::plain::plain_object!(@items
            [[$($attrs)*] $ty, $view, $this, $get] [] []
            $($items)*
        );
    };
    (@head [$($attrs:tt)*] $next:tt $($rest:tt)*) => {
        $crate::graphql::plain::plain_object!(@head [$($attrs)* $next] $($rest)*);
    };
    (@head [$($attrs:tt)*]) => {
        compile_error!("plain_object!: expected `impl Type (view: &View = |this| view) { ... }`");
    };

    // A plain field.
    (@items $head:tt [$($resolvers:tt)*] [$($fields:tt)*]
        $(#[$($m:tt)*])*
        plain $name:ident: $out:ty = |$v:ident| $value:expr;
        $($rest:tt)*
    ) => {
        $crate::graphql::plain::plain_object!(@items $head
            [
                $($resolvers)*
                $(#[$($m)*])*
                async fn $name(&self) -> $out {
                    let $v = $crate::graphql::plain::PlainObject::view(self);
                    $value
                }
            ]
            [
                $($fields)*
                $crate::graphql::plain::PlainField {
                    name: stringify!($name),
                    plan: <$out as $crate::graphql::plain::PlainValue>::plan,
                    write: |$v, plan| {
                        let value: $out = $value;
                        $crate::graphql::plain::PlainValue::write(&value, plan)
                    },
                },
            ]
            $($rest)*
        );
    };

    // An ordinary resolver: its signature is read token by token up to
    // its body.
    (@items $head:tt $resolvers:tt $fields:tt
        $(#[$($m:tt)*])* async fn $($rest:tt)*
    ) => {
        $crate::graphql::plain::plain_object!(@signature $head $resolvers $fields
            [$(#[$($m)*])* async fn] $($rest)*
        );
    };
    (@signature $head:tt [$($resolvers:tt)*] $fields:tt [$($signature:tt)*]
        { $($body:tt)* } $($rest:tt)*
    ) => {
        $crate::graphql::plain::plain_object!(@items $head
            [$($resolvers)* $($signature)* { $($body)* }] $fields
            $($rest)*
        );
    };
    (@signature $head:tt $resolvers:tt $fields:tt [$($signature:tt)*]
        $next:tt $($rest:tt)*
    ) => {
        $crate::graphql::plain::plain_object!(@signature $head $resolvers $fields
            [$($signature)* $next] $($rest)*
        );
    };

    (@items $head:tt $resolvers:tt $fields:tt $($rest:tt)+) => {
        compile_error!("plain_object!: expected `plain name: Type = |view| value;` or `async fn`");
    };

    // Every item read.
    (@items [[$($attrs:tt)*] $ty:ident, $view:ty, $this:ident, $get:expr]
        [$($resolvers:tt)*] [$($fields:tt)*]
    ) => {
        $($attrs)*
        impl $ty {
            $($resolvers)*
        }

        impl $crate::graphql::plain::PlainObject for $ty {
            type View = $view;

            const FIELDS: &'static [$crate::graphql::plain::PlainField<$view>] = &[$($fields)*];

            fn view(&self) -> &$view {
                let $this = self;
                $get
            }
        }

        impl $crate::graphql::plain::PlainValue for $ty {
            fn plan(
                set: &async_graphql::parser::types::SelectionSet,
            ) -> Option<$crate::graphql::plain::Plan> {
                $crate::graphql::plain::Plan::of::<Self>(set)
            }

            fn write(&self, plan: &$crate::graphql::plain::Plan) -> async_graphql::Value {
                plan.write::<Self>($crate::graphql::plain::PlainObject::view(self))
            }
        }
    };

    ($($input:tt)*) => {
        $crate::graphql::plain::plain_object!(@head [] $($input)*);
    };
}
pub(crate) use plain_object;
