//! Messages people read, in their language.
//!
//! Catalogs are Project Fluent files, `cli/locales/<lang>.ftl`, compiled into
//! the binary. Adding a language is adding a file with the same message ids
//! and a line in [`LOCALES`]; a test checks that every catalog has every id.
//! The language comes from `--lang`, then `KITH_LANG`, then the usual
//! `LC_ALL`, `LC_MESSAGES` and `LANG`; anything unknown falls back to English.

use fluent_bundle::{FluentArgs, FluentBundle, FluentResource};
use unic_langid::LanguageIdentifier;

/// The languages the command speaks, with their catalogs. English first: it
/// is the fallback.
pub(crate) const LOCALES: &[(&str, &str)] = &[
    ("en", include_str!("../locales/en.ftl")),
    ("es", include_str!("../locales/es.ftl")),
];

/// The language to speak: the first of `flag`, `KITH_LANG`, `LC_ALL`,
/// `LC_MESSAGES`, `LANG` that names a language we have (`es_AR.UTF-8` → `es`).
pub(crate) fn detect(flag: Option<&str>) -> &'static str {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let candidates = [
        flag.map(str::to_owned),
        env("KITH_LANG"),
        env("LC_ALL"),
        env("LC_MESSAGES"),
        env("LANG"),
    ];
    // The first setting given decides, even when we lack its language (then
    // English), as gettext-style programs do.
    let Some(first) = candidates.into_iter().flatten().next() else {
        return LOCALES[0].0;
    };
    let primary = first
        .split(['_', '-', '.', '@'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    LOCALES
        .iter()
        .find(|(code, _)| *code == primary)
        .map_or(LOCALES[0].0, |(code, _)| code)
}

fn bundle(code: &str, source: &str) -> FluentBundle<FluentResource> {
    let lang: LanguageIdentifier = code.parse().unwrap_or_default();
    let mut bundle = FluentBundle::new(vec![lang]);
    // Terminal output: no Unicode isolation marks around arguments.
    bundle.set_use_isolating(false);
    let resource =
        FluentResource::try_new(source.to_owned()).unwrap_or_else(|(partial, _errors)| partial);
    // A catalog with a repeated id keeps the first; the test below forbids it.
    let _ = bundle.add_resource(resource);
    bundle
}

/// The messages in one language, with English behind it for any id it lacks.
pub(crate) struct Messages {
    code: &'static str,
    bundle: FluentBundle<FluentResource>,
    fallback: FluentBundle<FluentResource>,
}

impl Messages {
    /// Messages in the language `code` (one of [`LOCALES`]).
    pub(crate) fn new(code: &str) -> Self {
        let (code, source) = LOCALES
            .iter()
            .find(|(c, _)| *c == code)
            .unwrap_or(&LOCALES[0]);
        Messages {
            code,
            bundle: bundle(code, source),
            fallback: bundle(LOCALES[0].0, LOCALES[0].1),
        }
    }

    /// The language code (`en`, `es`).
    pub(crate) fn code(&self) -> &'static str {
        self.code
    }

    /// The message `id` with its arguments filled in.
    pub(crate) fn get(&self, id: &str, args: &[(&str, &str)]) -> String {
        self.get_n(id, args, &[])
    }

    /// The message `id` with text arguments and number arguments; numbers
    /// choose plural forms (`{ $n -> [one] … *[other] … }`).
    pub(crate) fn get_n(&self, id: &str, args: &[(&str, &str)], numbers: &[(&str, u64)]) -> String {
        let mut fluent_args = FluentArgs::new();
        for (k, v) in args {
            fluent_args.set(*k, *v);
        }
        for (k, n) in numbers {
            fluent_args.set(*k, *n);
        }
        for bundle in [&self.bundle, &self.fallback] {
            if let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) {
                let mut errors = Vec::new();
                return bundle
                    .format_pattern(pattern, Some(&fluent_args), &mut errors)
                    .into_owned();
            }
        }
        id.to_owned()
    }
}

impl std::fmt::Debug for Messages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messages").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Message ids of a catalog, which must parse without errors.
    fn ids(source: &str) -> Vec<String> {
        assert!(
            FluentResource::try_new(source.to_owned()).is_ok(),
            "catalog parses"
        );
        source
            .lines()
            .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()))
            .filter_map(|l| l.split_once(" =").map(|(id, _)| id.trim().to_owned()))
            .collect()
    }

    #[test]
    fn every_catalog_has_every_message_exactly_once() {
        let english = ids(LOCALES[0].1);
        for (code, source) in LOCALES {
            let mut got = ids(source);
            let count = got.len();
            got.sort();
            got.dedup();
            assert_eq!(got.len(), count, "{code}: repeated ids");
            let mut want = english.clone();
            want.sort();
            assert_eq!(got, want, "{code}: ids differ from en");
        }
    }

    #[test]
    fn messages_fill_arguments_in_each_language() {
        let en = Messages::new("en");
        let es = Messages::new("es");
        assert_eq!(
            en.get("identity-new", &[("identity", "kith1x")]),
            "identity kith1x (new)"
        );
        assert_eq!(
            es.get("identity-new", &[("identity", "kith1x")]),
            "identidad kith1x (nueva)"
        );
        assert_eq!(es.get("no-such-message", &[]), "no-such-message");
    }

    #[test]
    fn numbers_choose_plural_forms() {
        let en = Messages::new("en");
        let es = Messages::new("es");
        let one = en.get_n("thread-total", &[], &[("count", 1)]);
        assert_eq!(one, "1 reply in this thread");
        let many = es.get_n("thread-total", &[], &[("count", 3)]);
        assert_eq!(many, "3 respuestas en este hilo");
        let counts = es.get_n(
            "event-counts",
            &[],
            &[("replies", 1), ("reactions", 0), ("reposts", 2)],
        );
        assert_eq!(counts, "1 respuesta · 0 reacciones · 2 compartidos");
    }

    #[test]
    fn language_settings_pick_a_catalog() {
        assert_eq!(detect(Some("es_AR.UTF-8")), "es");
        assert_eq!(detect(Some("es")), "es");
        assert_eq!(detect(Some("pt_BR")), "en");
        assert_eq!(detect(Some("EN-us")), "en");
    }
}
