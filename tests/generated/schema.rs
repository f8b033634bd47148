//! The API as the generator sees it: object types with their fields and
//! arguments, input objects, enums and scalars, read from `schema.graphql`
//! (which a test keeps equal to what the server exports).

use std::collections::HashMap;

use async_graphql::parser::{
    parse_schema,
    types::{BaseType, InputValueDefinition, Type, TypeKind, TypeSystemDefinition},
};

/// A field or argument type, reduced to what generation needs.
#[derive(Clone, Debug)]
pub(crate) struct Ty {
    pub name: String,
    /// List wrappers around the named type.
    pub lists: usize,
    pub required: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Arg {
    pub name: String,
    pub ty: Ty,
    pub has_default: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Field {
    pub name: String,
    pub args: Vec<Arg>,
    pub ty: Ty,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Object(Vec<Field>),
    Input(Vec<Arg>),
    Enum(Vec<String>),
    Scalar,
}

#[derive(Debug)]
pub(crate) struct Schema {
    types: HashMap<String, Kind>,
}

impl Schema {
    pub(crate) fn load() -> Self {
        let document =
            parse_schema(include_str!("../../schema.graphql")).expect("schema.graphql parses");
        let mut types = HashMap::new();
        for definition in document.definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                continue;
            };
            let definition = definition.node;
            let kind = match definition.kind {
                TypeKind::Object(object) => Kind::Object(
                    object
                        .fields
                        .into_iter()
                        .map(|field| Field {
                            name: field.node.name.node.to_string(),
                            args: field.node.arguments.iter().map(|a| arg(&a.node)).collect(),
                            ty: ty(&field.node.ty.node),
                        })
                        .collect(),
                ),
                TypeKind::InputObject(input) => {
                    Kind::Input(input.fields.iter().map(|f| arg(&f.node)).collect())
                }
                TypeKind::Enum(values) => Kind::Enum(
                    values
                        .values
                        .iter()
                        .map(|v| v.node.value.node.to_string())
                        .collect(),
                ),
                _ => Kind::Scalar,
            };
            types.insert(definition.name.node.to_string(), kind);
        }
        for scalar in ["Int", "Float", "String", "Boolean", "ID"] {
            types.insert(scalar.to_owned(), Kind::Scalar);
        }
        Self { types }
    }

    pub(crate) fn kind(&self, name: &str) -> &Kind {
        self.types.get(name).unwrap_or(&Kind::Scalar)
    }

    pub(crate) fn fields(&self, type_name: &str) -> &[Field] {
        match self.kind(type_name) {
            Kind::Object(fields) => fields,
            _ => &[],
        }
    }

    pub(crate) fn is_leaf(&self, type_name: &str) -> bool {
        !matches!(self.kind(type_name), Kind::Object(_))
    }
}

fn arg(definition: &InputValueDefinition) -> Arg {
    Arg {
        name: definition.name.node.to_string(),
        ty: ty(&definition.ty.node),
        has_default: definition.default_value.is_some(),
    }
}

fn ty(ty_: &Type) -> Ty {
    let required = !ty_.nullable;
    let mut lists = 0;
    let mut base = &ty_.base;
    loop {
        match base {
            BaseType::Named(name) => {
                return Ty {
                    name: name.to_string(),
                    lists,
                    required,
                }
            }
            BaseType::List(inner) => {
                lists += 1;
                base = &inner.base;
            }
        }
    }
}

impl Ty {
    /// The type as written in a variable definition.
    pub(crate) fn written(&self) -> String {
        let mut text = self.name.clone();
        for _ in 0..self.lists {
            text = format!("[{text}]");
        }
        if self.required {
            text.push('!');
        }
        text
    }
}
