//! XEP-0004 §3.2 fields.
use crate::xml::{ns, Element};

/// XEP-0004 §3.3 field types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// `boolean`
    Boolean,
    /// `fixed`
    Fixed,
    /// `hidden`
    Hidden,
    /// `jid-multi`
    JidMulti,
    /// `jid-single`
    JidSingle,
    /// `list-multi`
    ListMulti,
    /// `list-single`
    ListSingle,
    /// `text-multi`
    TextMulti,
    /// `text-private`
    TextPrivate,
    /// `text-single`
    TextSingle,
}

impl FieldType {
    pub(crate) const NAMES: [(FieldType, &'static str); 10] = [
        (FieldType::Boolean, "boolean"),
        (FieldType::Fixed, "fixed"),
        (FieldType::Hidden, "hidden"),
        (FieldType::JidMulti, "jid-multi"),
        (FieldType::JidSingle, "jid-single"),
        (FieldType::ListMulti, "list-multi"),
        (FieldType::ListSingle, "list-single"),
        (FieldType::TextMulti, "text-multi"),
        (FieldType::TextPrivate, "text-private"),
        (FieldType::TextSingle, "text-single"),
    ];

    /// The wire name.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(t, _)| *t == self)
            .map(|(_, n)| *n)
            .unwrap_or("text-single")
    }

    /// Parses a wire name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(_, n)| *n == s).map(|(t, _)| *t)
    }

    /// XEP-0004 §3.3: only these types may carry several `<value/>`s.
    pub fn is_multi(self) -> bool {
        matches!(
            self,
            FieldType::JidMulti | FieldType::ListMulti | FieldType::TextMulti | FieldType::Hidden
        )
    }
}

/// An `<option/>` of a list field (XEP-0004 §3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormOption {
    /// Optional human-readable label.
    pub label: Option<String>,
    /// The option's value.
    pub value: String,
}

/// A `<field/>` (XEP-0004 §3.2).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Field {
    /// The `var` attribute.
    pub var: Option<String>,
    /// The `type` attribute, when present (absent is allowed in submit/result forms).
    pub kind: Option<FieldType>,
    /// The `label` attribute.
    pub label: Option<String>,
    /// The `<desc/>` child.
    pub desc: Option<String>,
    /// Whether `<required/>` is present.
    pub required: bool,
    /// `<value/>` children in order.
    pub values: Vec<String>,
    /// `<option/>` children in order (the sender's preference order for ESessions).
    pub options: Vec<FormOption>,
}

impl Field {
    /// A field `var` of type `kind` with the given values.
    pub fn new(var: &str, kind: Option<FieldType>, values: &[&str]) -> Self {
        Field {
            var: Some(var.to_owned()),
            kind,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
            ..Field::default()
        }
    }

    /// A list field offering `options` in preference order.
    pub fn offer(var: &str, kind: FieldType, options: &[&str]) -> Self {
        Field {
            var: Some(var.to_owned()),
            kind: Some(kind),
            options: options
                .iter()
                .map(|o| FormOption {
                    label: None,
                    value: (*o).to_owned(),
                })
                .collect(),
            ..Field::default()
        }
    }

    /// Builder: marks the field required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The single value, if exactly one is present.
    pub fn single_value(&self) -> Option<&str> {
        match self.values.as_slice() {
            [v] => Some(v.as_str()),
            _ => None,
        }
    }

    /// The option values in order.
    pub fn option_values(&self) -> impl Iterator<Item = &str> {
        self.options.iter().map(|o| o.value.as_str())
    }

    /// The values offered: the options of a list field or, for fields sent as fixed
    /// values (XEP-0217 §4.1 hidden fields), the values.
    pub fn offered(&self) -> Vec<&str> {
        if self.options.is_empty() {
            self.values.iter().map(String::as_str).collect()
        } else {
            self.option_values().collect()
        }
    }

    /// Serializes the field (attributes `type`, `var`, `label`; children desc, values,
    /// options, required — the layout of the XEP-0116 §4.3 example).
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("field", ns::DATA);
        if let Some(kind) = self.kind {
            el.set_attr("type", kind.name());
        }
        if let Some(var) = &self.var {
            el.set_attr("var", var.as_str());
        }
        if let Some(label) = &self.label {
            el.set_attr("label", label.as_str());
        }
        if let Some(desc) = &self.desc {
            el.push(Element::new("desc", ns::DATA).with_text(desc.as_str()));
        }
        for v in &self.values {
            el.push(Element::new("value", ns::DATA).with_text(v.as_str()));
        }
        for o in &self.options {
            let mut opt = Element::new("option", ns::DATA);
            if let Some(label) = &o.label {
                opt.set_attr("label", label.as_str());
            }
            opt.push(Element::new("value", ns::DATA).with_text(o.value.as_str()));
            el.push(opt);
        }
        if self.required {
            el.push(Element::new("required", ns::DATA));
        }
        el
    }
}
