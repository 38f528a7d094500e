//! `[profiles.NAME]` → the profile text stored in SSM, from a tup.config file or inline keys.
//! Both forms go through [`ProfileConfig::parse`], the parser the compile engine reads with.

use super::error::{Fault, FaultKind, Source};
use super::names;
use super::raw::RawProfile;
use super::resolve::Resolver;
use crate::model::{ProfileSpec, Project};
use crate::profile::{ProfileConfig, ENCODERS};
use std::ops::Range;
use toml::Spanned;

impl Resolver<'_> {
    pub(crate) fn profile(
        &mut self,
        raw: &RawProfile,
        project: &Project,
    ) -> Option<(String, ProfileSpec)> {
        let name = raw.name.get_ref();
        let valid = self.check_name(&raw.name, &names::RESOURCE, "profile");
        let parsed = match &raw.config {
            Some(config) => {
                if let Some(inline) = first_inline_key(raw) {
                    self.fault(
                        FaultKind::Conflict,
                        inline,
                        format!("profile {name} has both a config file and inline settings"),
                        "inline setting",
                    )
                    .add_label(config.span(), "config file")
                    .set_help(
                        "keep either config = FILE or the inline encoder/flags/CONFIG_* keys",
                    );
                    return None;
                }
                self.profile_file(name, config)?
            }
            None => self.inline_profile(raw)?,
        };
        if !valid {
            return None;
        }
        // The text is stored as it is in one SSM standard-tier parameter: refused here rather than
        // by PutParameter in the middle of an apply.
        let limit = crate::bounded::SSM_STANDARD_VALUE_LIMIT;
        if parsed.text.len() > limit {
            let (span, label) = match &raw.config {
                Some(config) => (config.span(), "this profile file"),
                None => (raw.name.span(), "this profile"),
            };
            self.fault(
                FaultKind::InvalidValue,
                span,
                format!(
                    "profile {name} is {} bytes; an SSM parameter holds at most {limit}",
                    parsed.text.len()
                ),
                label,
            )
            .set_help("vibes keeps each profile in one standard SSM parameter (4 KB): shorten its comments or flags");
            return None;
        }
        // What the compile engine itself refuses (flags it cannot split, an ID3 version it does
        // not write), refused here rather than on a worker.
        if let Err(e) = vibes_build::profile::Profile::parse(name, &parsed.text) {
            let span = raw.config.as_ref().map_or(raw.name.span(), |c| c.span());
            self.fault(
                FaultKind::BadProfile,
                span,
                e.to_string(),
                "the compile engine refuses this profile",
            );
            return None;
        }
        let parameter = project.ssm_path(&format!("profiles/{name}"));
        self.claim(
            "SSM parameter",
            parameter.clone(),
            raw.name.span(),
            format!("profile {name}"),
        );
        Some((
            name.clone(),
            ProfileSpec {
                parameter,
                encoder: parsed.encoder.clone(),
                text: parsed.text,
            },
        ))
    }

    /// `config = FILE`: the file's text as is; its faults point into the file itself.
    fn profile_file(&mut self, name: &str, config: &Spanned<String>) -> Option<Parsed> {
        let limit = crate::bounded::PROFILE_FILE_LIMIT;
        let (path, mut text) = match self.dir.read_text(config.get_ref(), limit) {
            Ok(found) => found,
            Err(e) => {
                self.path_fault(config.span(), &format!("config of profile {name}"), &e);
                return None;
            }
        };
        match ProfileConfig::parse(&text) {
            Ok(p) => {
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                Some(Parsed {
                    encoder: p.encoder().to_string(),
                    text,
                })
            }
            Err(e) => {
                let file = Source::new(path.display().to_string(), text);
                let fault = Fault::at(FaultKind::BadProfile, &file, e.offset..e.offset + e.len, format!("profile {name}: {e}"), "not valid tup.config")
                    .with_help("a profile file holds CONFIG_NAME=value lines; CONFIG_ENCODER is flac, lame, oggenc or opusenc");
                self.faults.push(fault);
                None
            }
        }
    }

    /// Inline `encoder`, `flags` and `CONFIG_*` keys, turned into canonical tup.config text.
    fn inline_profile(&mut self, raw: &RawProfile) -> Option<Parsed> {
        let name = raw.name.get_ref();
        let Some(encoder) = &raw.encoder else {
            if let Some(span) = raw
                .settings
                .iter()
                .find(|(k, _)| k.get_ref() == "CONFIG_ENCODER")
                .map(|(k, _)| k.span())
            {
                self.fault(FaultKind::InvalidValue, span, format!("profile {name} sets CONFIG_ENCODER inline"), "write encoder = \"...\" instead")
                    .set_help("inline profiles name their encoder with `encoder`; CONFIG_ENCODER belongs in profile files");
            } else {
                self.fault(FaultKind::MissingKey, raw.name.span(), format!("profile {name} needs `config` or `encoder`"), "no encoder")
                    .set_help("add config = \"profiles/NAME.config\", or encoder = \"flac\" (or lame, oggenc, opusenc) with flags");
            }
            return None;
        };
        let Some(&(_, flags_key, _)) = ENCODERS.iter().find(|(n, _, _)| *n == encoder.get_ref())
        else {
            let known: Vec<&str> = ENCODERS.iter().map(|(n, _, _)| *n).collect();
            // People name the format they want; vibes names the program that makes it.
            let by_format = ENCODERS
                .iter()
                .find(|(_, _, ext)| *ext == encoder.get_ref().to_ascii_lowercase())
                .map(|(n, _, _)| *n);
            let help = match (by_format, names::suggest(encoder.get_ref(), &known)) {
                (Some(program), _) => format!(
                    "{} files are made by {program}: encoder = \"{program}\"",
                    encoder.get_ref()
                ),
                (None, Some(s)) => format!("did you mean `{s}`?"),
                (None, None) => format!("vibes knows {}", known.join(", ")),
            };
            self.fault(
                FaultKind::UnknownEncoder,
                encoder.span(),
                format!("unknown encoder `{}` in profile {name}", encoder.get_ref()),
                "unknown encoder",
            )
            .set_help(help);
            return None;
        };

        // Each line of the text, with the span in vibes.toml it came from.
        let mut lines: Vec<(String, Range<usize>)> = vec![(
            format!("CONFIG_ENCODER={}", encoder.get_ref()),
            encoder.span(),
        )];
        if let Some(flags) = &raw.flags {
            lines.push((format!("{flags_key}={}", flags.get_ref()), flags.span()));
        }
        let mut ok = true;
        for (key, value) in &raw.settings {
            if key.get_ref() == "CONFIG_ENCODER"
                || (key.get_ref() == flags_key && raw.flags.is_some())
            {
                let twin = if key.get_ref() == "CONFIG_ENCODER" {
                    "encoder"
                } else {
                    "flags"
                };
                self.fault(
                    FaultKind::Conflict,
                    key.span(),
                    format!("profile {name} sets {} twice", key.get_ref()),
                    format!("already set by `{twin}`"),
                );
                ok = false;
                continue;
            }
            if value.get_ref().contains(['\n', '\r']) {
                self.fault(
                    FaultKind::InvalidValue,
                    value.span(),
                    format!("{} holds a line break", key.get_ref()),
                    "profile values are one line",
                );
                ok = false;
                continue;
            }
            lines.push((format!("{}={}", key.get_ref(), value.get_ref()), key.span()));
        }
        if raw
            .flags
            .as_ref()
            .is_some_and(|f| f.get_ref().contains(['\n', '\r']))
        {
            let flags = raw.flags.as_ref().expect("checked");
            self.fault(
                FaultKind::InvalidValue,
                flags.span(),
                "flags hold a line break",
                "profile values are one line",
            );
            ok = false;
        }
        if !ok {
            return None;
        }
        let text: String = lines.iter().map(|(l, _)| format!("{l}\n")).collect();
        match ProfileConfig::parse(&text) {
            Ok(p) => Some(Parsed {
                encoder: p.encoder().to_string(),
                text: p.to_text(),
            }),
            Err(e) => {
                let span = lines
                    .get(e.line.saturating_sub(1))
                    .map_or(raw.name.span(), |(_, s)| s.clone());
                self.fault(
                    FaultKind::BadProfile,
                    span,
                    format!("profile {name}: {}", e.message),
                    "not a profile setting",
                );
                None
            }
        }
    }
}

struct Parsed {
    encoder: String,
    text: String,
}

fn first_inline_key(raw: &RawProfile) -> Option<Range<usize>> {
    [
        raw.encoder.as_ref().map(|e| e.span()),
        raw.flags.as_ref().map(|f| f.span()),
        raw.settings.first().map(|(k, _)| k.span()),
    ]
    .into_iter()
    .flatten()
    .min_by_key(|s| s.start)
}
