//! XEP-0004 §3.1 forms.
use super::field::{Field, FieldType, FormOption};
use crate::xml::{ns, Element};

/// Most fields, values per field and octets per value a received form may carry.
const MAX_FIELDS: usize = 128;
const MAX_VALUES: usize = 64;
const MAX_VALUE_LEN: usize = 16 * 1024;

/// XEP-0004 §3.1 form types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FormType {
    /// `form`: asks for input (negotiation message 1).
    Form,
    /// `submit`: answers a form (message 2).
    Submit,
    /// `result`: completes (messages 3 and 4).
    Result,
    /// `cancel`.
    Cancel,
}

impl FormType {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            FormType::Form => "form",
            FormType::Submit => "submit",
            FormType::Result => "result",
            FormType::Cancel => "cancel",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        [
            FormType::Form,
            FormType::Submit,
            FormType::Result,
            FormType::Cancel,
        ]
        .into_iter()
        .find(|t| t.name() == s)
    }
}

/// Why a received form was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// The element is not `<x xmlns='jabber:x:data'/>`.
    #[error("not a jabber:x:data form")]
    NotAForm,
    /// The `type` attribute is missing or unknown.
    #[error("form type missing or unknown: {0:?}")]
    BadType(Option<String>),
    /// A field has an unknown `type`.
    #[error("field {var:?} has unknown type {kind:?}")]
    BadFieldType {
        /// The field.
        var: Option<String>,
        /// The type given.
        kind: String,
    },
    /// A field `var` occurs twice.
    #[error("field {0:?} occurs twice")]
    DuplicateField(String),
    /// A single-valued field carries several values (XEP-0004 §3.3).
    #[error("field {0:?} has several values but its type allows one")]
    TooManyValues(String),
    /// A bound on size was exceeded.
    #[error("form too large: {0}")]
    TooLarge(&'static str),
}

/// A data form (XEP-0004 §3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Form {
    /// The form type.
    pub kind: FormType,
    /// `<title/>`.
    pub title: Option<String>,
    /// `<instructions/>` in order.
    pub instructions: Vec<String>,
    /// Fields in order.
    pub fields: Vec<Field>,
}

impl Form {
    /// An empty form of the given type.
    pub fn new(kind: FormType) -> Self {
        Form {
            kind,
            title: None,
            instructions: Vec::new(),
            fields: Vec::new(),
        }
    }

    /// A form whose first field is the hidden `FORM_TYPE` (XEP-0068) `form_type`.
    pub fn with_form_type(kind: FormType, form_type: &str) -> Self {
        let mut f = Form::new(kind);
        f.fields.push(Field::new(
            "FORM_TYPE",
            Some(FieldType::Hidden),
            &[form_type],
        ));
        f
    }

    /// A form whose first field is `FORM_TYPE` `form_type` without `type="hidden"`, as the
    /// XEP-0155/XEP-0116 examples write it in the submit and result forms.
    pub fn with_untyped_form_type(kind: FormType, form_type: &str) -> Self {
        let mut f = Form::new(kind);
        f.fields.push(Field::new("FORM_TYPE", None, &[form_type]));
        f
    }

    /// Builder: appends a field.
    pub fn push(&mut self, field: Field) {
        self.fields.push(field);
    }

    /// The field named `var`.
    pub fn field(&self, var: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.var.as_deref() == Some(var))
    }

    /// The single value of field `var`.
    pub fn value(&self, var: &str) -> Option<&str> {
        self.field(var).and_then(Field::single_value)
    }

    /// The FORM_TYPE value, if any.
    pub fn form_type(&self) -> Option<&str> {
        self.value("FORM_TYPE")
    }

    /// Parses `<x xmlns='jabber:x:data'/>`.
    pub fn parse(x: &Element) -> Result<Form, FormError> {
        if !x.is("x", ns::DATA) {
            return Err(FormError::NotAForm);
        }
        let kind = x
            .attr("type")
            .and_then(FormType::from_name)
            .ok_or_else(|| FormError::BadType(x.attr("type").map(str::to_owned)))?;
        let mut form = Form::new(kind);
        for child in x.children().filter(|c| c.ns() == ns::DATA) {
            match child.name() {
                "title" => form.title = Some(child.text()),
                "instructions" => form.instructions.push(child.text()),
                "field" => {
                    if form.fields.len() >= MAX_FIELDS {
                        return Err(FormError::TooLarge("too many fields"));
                    }
                    let field = parse_field(child)?;
                    if let Some(var) = &field.var {
                        if form.field(var).is_some() {
                            return Err(FormError::DuplicateField(var.clone()));
                        }
                    }
                    form.fields.push(field);
                }
                _ => {}
            }
        }
        Ok(form)
    }

    /// Serializes the form as `<x xmlns='jabber:x:data' type='…'/>`.
    pub fn to_element(&self) -> Element {
        let mut x = Element::new("x", ns::DATA).with_attr("type", self.kind.name());
        if let Some(t) = &self.title {
            x.push(Element::new("title", ns::DATA).with_text(t.as_str()));
        }
        for i in &self.instructions {
            x.push(Element::new("instructions", ns::DATA).with_text(i.as_str()));
        }
        for f in &self.fields {
            x.push(f.to_element());
        }
        x
    }
}

fn bounded_text(el: &Element) -> Result<String, FormError> {
    let t = el.text();
    if t.len() > MAX_VALUE_LEN {
        return Err(FormError::TooLarge("value too long"));
    }
    Ok(t)
}

fn parse_field(el: &Element) -> Result<Field, FormError> {
    let var = el.attr("var").map(str::to_owned);
    let kind = match el.attr("type") {
        None => None,
        Some(t) => Some(
            FieldType::from_name(t).ok_or_else(|| FormError::BadFieldType {
                var: var.clone(),
                kind: t.to_owned(),
            })?,
        ),
    };
    let mut field = Field {
        var,
        kind,
        label: el.attr("label").map(str::to_owned),
        ..Field::default()
    };
    for child in el.children().filter(|c| c.ns() == ns::DATA) {
        match child.name() {
            "desc" => field.desc = Some(bounded_text(child)?),
            "required" => field.required = true,
            "value" => {
                if field.values.len() >= MAX_VALUES {
                    return Err(FormError::TooLarge("too many values"));
                }
                field.values.push(bounded_text(child)?);
            }
            "option" => {
                if field.options.len() >= MAX_VALUES {
                    return Err(FormError::TooLarge("too many options"));
                }
                let value = child
                    .child("value", ns::DATA)
                    .map(bounded_text)
                    .transpose()?;
                field.options.push(FormOption {
                    label: child.attr("label").map(str::to_owned),
                    value: value.unwrap_or_default(),
                });
            }
            _ => {}
        }
    }
    // XEP-0004 §3.3: only the multi types (and hidden) may carry several values.
    if field.values.len() > 1 && !field.kind.is_none_or(FieldType::is_multi) {
        return Err(FormError::TooManyValues(
            field.var.clone().unwrap_or_default(),
        ));
    }
    Ok(field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse_element, Limits};

    #[test]
    fn round_trip_every_field_type() {
        let mut f = Form::with_form_type(FormType::Form, "urn:xmpp:ssn");
        f.title = Some("t".into());
        f.instructions.push("i".into());
        f.push(Field::new("accept", Some(FieldType::Boolean), &["1"]).required());
        f.push(Field::offer("modp", FieldType::ListSingle, &["15", "14"]));
        f.push(Field::new("dhhashes", Some(FieldType::Hidden), &["a", "b"]));
        for t in FieldType::NAMES.iter().map(|(t, _)| *t) {
            let mut fl = Field::new(&format!("f-{}", t.name()), Some(t), &["v"]);
            fl.desc = Some("d".into());
            fl.label = Some("l".into());
            f.push(fl);
        }
        let xml = f.to_element().to_string();
        let back = Form::parse(&parse_element(&xml, &Limits::default()).unwrap()).unwrap();
        assert_eq!(back, f);
        assert_eq!(back.form_type(), Some("urn:xmpp:ssn"));
        assert_eq!(back.field("modp").unwrap().offered(), ["15", "14"]);
        assert_eq!(back.value("accept"), Some("1"));
    }

    #[test]
    fn refusals_name_the_problem() {
        let p = |s: &str| Form::parse(&parse_element(s, &Limits::default()).unwrap());
        assert_eq!(
            p("<x xmlns='urn:other' type='form'/>"),
            Err(FormError::NotAForm)
        );
        assert_eq!(
            p("<x xmlns='jabber:x:data'/>"),
            Err(FormError::BadType(None))
        );
        assert_eq!(
            p("<x xmlns='jabber:x:data' type='form'><field var='a' type='nope'/></x>"),
            Err(FormError::BadFieldType {
                var: Some("a".into()),
                kind: "nope".into()
            })
        );
        assert_eq!(
            p("<x xmlns='jabber:x:data' type='submit'><field var='a'/><field var='a'/></x>"),
            Err(FormError::DuplicateField("a".into()))
        );
        assert_eq!(
            p("<x xmlns='jabber:x:data' type='submit'><field var='a' type='list-single'><value>1</value><value>2</value></field></x>"),
            Err(FormError::TooManyValues("a".into()))
        );
        let many: String = (0..200).map(|i| format!("<field var='f{i}'/>")).collect();
        assert_eq!(
            p(&format!(
                "<x xmlns='jabber:x:data' type='submit'>{many}</x>"
            )),
            Err(FormError::TooLarge("too many fields"))
        );
    }
}
