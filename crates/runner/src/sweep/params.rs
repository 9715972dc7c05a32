//! The run parameters a sweep file can set, and where each lives in
//! [`scorematch::RunConfig`].
//!
//! Parameters are the fields of `RunConfig` (`dataset`, `model`, `objective`, `backend`,
//! `seed`, …) plus, as shorthand, the fields of its flattened sections (`steps` for
//! `train.steps`). Both lists come from the types themselves, so a field added to the library
//! is a parameter here without any change.

use scorematch::data::DatasetConfig;
use scorematch::model::ModelConfig;
use scorematch::objective::ObjectiveConfig;
use scorematch::sample::SamplerConfig;
use scorematch::{RunConfig, TrainConfig};
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A parameter whose value names one variant of a family: `{ name = "dsm", sigma = 0.1 }`,
/// or just `"dsm"`.
#[derive(Clone, Copy, Debug)]
pub struct Family {
    /// The `RunConfig` field.
    pub key: &'static str,
    /// The family's names, as the library registers them.
    pub names: &'static [&'static str],
}

/// Every family. Adding one to `RunConfig` = one line here.
pub const FAMILIES: [Family; 4] = [
    Family {
        key: "dataset",
        names: DatasetConfig::NAMES,
    },
    Family {
        key: "model",
        names: ModelConfig::NAMES,
    },
    Family {
        key: "objective",
        names: ObjectiveConfig::NAMES,
    },
    Family {
        key: "sampler",
        names: SamplerConfig::NAMES,
    },
];

/// Reads the field names of a section's type.
type FieldsOf = fn() -> &'static [&'static str];

/// Sections of `RunConfig` whose fields may be written without the section's name.
const FLATTENED: [(&str, FieldsOf); 1] = [("train", struct_fields::<TrainConfig>)];

/// The family stored under `key`, if any.
pub fn family(key: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.key == key)
}

/// The run parameters, read off the library's types.
#[derive(Clone, Debug)]
pub struct Params {
    run_fields: &'static [&'static str],
    flattened: Vec<(&'static str, &'static [&'static str])>,
}

impl Default for Params {
    fn default() -> Self {
        Self::new()
    }
}

impl Params {
    /// The parameters of this build's `RunConfig`.
    pub fn new() -> Self {
        Self {
            run_fields: struct_fields::<RunConfig>(),
            flattened: FLATTENED.iter().map(|(k, f)| (*k, f())).collect(),
        }
    }

    /// The fields of `RunConfig`.
    pub fn run_fields(&self) -> &'static [&'static str] {
        self.run_fields
    }

    /// Where parameter `key` lives in `RunConfig`: `["seed"]`, `["train", "steps"]`; `None`
    /// for an unknown parameter.
    pub fn path(&self, key: &str) -> Option<Vec<&'static str>> {
        if let Some(field) = self.run_fields.iter().find(|f| **f == key) {
            return Some(vec![field]);
        }
        self.flattened.iter().find_map(|(section, fields)| {
            let field = fields.iter().find(|f| **f == key)?;
            let section = self.run_fields.iter().find(|f| *f == section)?;
            Some(vec![*section, *field])
        })
    }

    /// Every parameter name, for error messages.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.run_fields.to_vec();
        for (_, fields) in &self.flattened {
            names.extend(fields.iter().filter(|f| !self.run_fields.contains(f)));
        }
        names
    }
}

/// The field names of a struct with `#[derive(Deserialize)]`, as serde declares them.
pub fn struct_fields<T: Deserialize<'static>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    // The probe always stops with an error once it has seen the fields.
    let _ = T::deserialize(FieldsProbe(&mut fields));
    fields
}

/// A deserializer that records the field list serde passes to `deserialize_struct`.
struct FieldsProbe<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldsProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("fields recorded"))
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_come_from_the_library_types() {
        let p = Params::new();
        for key in ["dataset", "model", "objective", "train", "backend", "seed"] {
            assert_eq!(p.path(key), Some(vec![key]), "{key}");
        }
        assert_eq!(p.path("steps"), Some(vec!["train", "steps"]));
        assert_eq!(p.path("eval_samples"), Some(vec!["train", "eval_samples"]));
        assert_eq!(p.path("grad_clip"), Some(vec!["train", "grad_clip"]));
        assert_eq!(p.path("stepz"), None);
        let names = p.names();
        assert!(names.contains(&"lr") && names.contains(&"seed"));
    }

    #[test]
    fn flattened_fields_never_shadow_run_fields() {
        let p = Params::new();
        for (_, fields) in &p.flattened {
            for f in *fields {
                assert!(!p.run_fields.contains(f), "{f} is ambiguous");
            }
        }
    }

    #[test]
    fn every_family_is_a_run_field_and_lists_its_names() {
        let p = Params::new();
        for f in FAMILIES {
            assert!(p.run_fields.contains(&f.key));
            assert!(!f.names.is_empty());
        }
    }
}
