//! What went wrong in a config, as miette diagnostics: one [`ConfigError`] per load, holding
//! every [`Fault`] found, each pointing into the file it is about (the config itself, or a
//! profile file it names).

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// A file whose text faults point into, named as the user gave it.
#[derive(Debug, Clone)]
pub struct Source {
    name: String,
    text: Arc<String>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Source {
            name: name.into(),
            text: Arc::new(text.into()),
        }
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn text(&self) -> &str {
        &self.text
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }
}

/// Which rule a fault broke. Stable: tests and tools match on it; the code shown to people is
/// `vibes::config::<kind>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// The config file could not be read.
    NoConfig,
    /// Not valid TOML.
    Syntax,
    /// A key vibes does not know.
    UnknownKey,
    /// A value of the wrong TOML type.
    WrongType,
    /// A required key is absent.
    MissingKey,
    /// A name that breaks its naming rule.
    InvalidName,
    /// A value of the right type that vibes cannot use.
    InvalidValue,
    /// A count below its minimum (`keep = 0`).
    TooSmall,
    /// A file or directory the config names does not exist.
    MissingFile,
    /// A path that leaves the config's directory.
    OutsideConfigDir,
    /// An encoder vibes does not know.
    UnknownEncoder,
    /// A profile file that is not valid tup.config.
    BadProfile,
    /// Two settings that cannot go together.
    Conflict,
    /// Two things that would get the same name in AWS.
    Duplicate,
    /// A `${stack.NAME.Output}` or `depends_on` entry that names nothing vibes manages.
    BadReference,
    /// A section that needs the main stack, with no network to put it in.
    NeedsNetwork,
}

impl FaultKind {
    /// Whether the fault concerns only what the cloud needs: a local build goes on without it.
    pub fn is_cloud_only(self) -> bool {
        matches!(self, FaultKind::NeedsNetwork)
    }

    pub fn code(self) -> &'static str {
        match self {
            FaultKind::NoConfig => "vibes::config::no_config",
            FaultKind::Syntax => "vibes::config::syntax",
            FaultKind::UnknownKey => "vibes::config::unknown_key",
            FaultKind::WrongType => "vibes::config::wrong_type",
            FaultKind::MissingKey => "vibes::config::missing_key",
            FaultKind::InvalidName => "vibes::config::invalid_name",
            FaultKind::InvalidValue => "vibes::config::invalid_value",
            FaultKind::TooSmall => "vibes::config::too_small",
            FaultKind::MissingFile => "vibes::config::missing_file",
            FaultKind::OutsideConfigDir => "vibes::config::outside_config_dir",
            FaultKind::UnknownEncoder => "vibes::config::unknown_encoder",
            FaultKind::BadProfile => "vibes::config::bad_profile",
            FaultKind::Conflict => "vibes::config::conflict",
            FaultKind::Duplicate => "vibes::config::duplicate",
            FaultKind::BadReference => "vibes::config::bad_reference",
            FaultKind::NeedsNetwork => "vibes::config::needs_network",
        }
    }
}

/// Where a fault points: file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One thing wrong with a config, with the file it is in and labelled spans into it.
#[derive(Debug, Clone)]
pub struct Fault {
    kind: FaultKind,
    message: String,
    source: Option<Source>,
    /// The first label is the primary one: the place the fault is reported at.
    labels: Vec<(Range<usize>, String)>,
    help: Option<String>,
    named: Option<NamedSource<Arc<String>>>,
}

impl Fault {
    /// A fault at `span` in `source`.
    pub fn at(
        kind: FaultKind,
        source: &Source,
        span: Range<usize>,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        Fault {
            kind,
            message: message.into(),
            named: Some(NamedSource::new(&source.name, source.text.clone())),
            source: Some(source.clone()),
            labels: vec![(span, label.into())],
            help: None,
        }
    }

    /// A fault about no place in a file (the config file itself cannot be read).
    pub fn detached(kind: FaultKind, message: impl Into<String>) -> Self {
        Fault {
            kind,
            message: message.into(),
            source: None,
            labels: Vec::new(),
            help: None,
            named: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Another place in the same file that explains the fault (the first of two duplicates).
    pub fn also_at(mut self, span: Range<usize>, label: impl Into<String>) -> Self {
        self.labels.push((span, label.into()));
        self
    }

    /// Sets the help of a fault already collected.
    pub(crate) fn set_help(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a secondary label to a fault already collected.
    pub(crate) fn add_label(&mut self, span: Range<usize>, label: impl Into<String>) -> &mut Self {
        self.labels.push((span, label.into()));
        self
    }

    pub fn kind(&self) -> FaultKind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn help_text(&self) -> Option<&str> {
        self.help.as_deref()
    }
    /// The name of the file the fault points into.
    pub fn file(&self) -> Option<&str> {
        self.source.as_ref().map(Source::name)
    }
    /// The primary place of the fault.
    pub fn location(&self) -> Option<Location> {
        let source = self.source.as_ref()?;
        let (span, _) = self.labels.first()?;
        let (line, column) = source.line_column(span.start);
        Some(Location {
            file: source.name.clone(),
            line,
            column,
        })
    }
    /// The text under the primary label.
    pub fn snippet(&self) -> Option<&str> {
        let source = self.source.as_ref()?;
        let (span, _) = self.labels.first()?;
        source.text.get(span.clone())
    }
    /// Every label's text, primary first.
    pub fn label_texts(&self) -> impl Iterator<Item = &str> {
        self.labels.iter().map(|(_, l)| l.as_str())
    }

    fn start(&self) -> usize {
        self.labels.first().map_or(0, |(s, _)| s.start)
    }

    fn same_as(&self, other: &Fault) -> bool {
        self.kind == other.kind
            && self.message == other.message
            && self.file() == other.file()
            && self.labels.first().map(|l| &l.0) == other.labels.first().map(|l| &l.0)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fault {}

impl Diagnostic for Fault {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.kind.code()))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.named.as_ref().map(|n| n as &dyn SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.named.is_none() || self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().enumerate().map(
            |(i, (span, label))| {
                let label = (!label.is_empty()).then(|| label.clone());
                let span = (span.start, span.end - span.start);
                if i == 0 {
                    LabeledSpan::new_primary_with_span(label, span)
                } else {
                    LabeledSpan::new_with_span(label, span)
                }
            },
        )))
    }
}

/// Everything wrong with one config, found in one load.
#[derive(Debug, Clone)]
pub struct ConfigError {
    file: String,
    faults: Vec<Fault>,
}

impl ConfigError {
    /// Faults in report order: the config's own in file order, then those in files it names.
    /// Each fault appears once.
    pub(crate) fn new(file: impl Into<String>, mut faults: Vec<Fault>) -> Self {
        let file = file.into();
        faults.sort_by(|a, b| {
            let key = |f: &Fault| {
                (
                    f.file().is_some_and(|n| n != file),
                    f.file().map(str::to_owned),
                    f.start(),
                )
            };
            key(a).cmp(&key(b))
        });
        let mut unique: Vec<Fault> = Vec::with_capacity(faults.len());
        for f in faults {
            if !unique.iter().any(|u| u.same_as(&f)) {
                unique.push(f);
            }
        }
        ConfigError {
            file,
            faults: unique,
        }
    }

    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }
    /// The config file the faults were found in.
    pub fn file(&self) -> &str {
        &self.file
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.faults.as_slice() {
            [only] if only.kind == FaultKind::NoConfig => write!(f, "{}", only.message),
            [_] => write!(f, "{} has 1 problem", self.file),
            all => write!(f, "{} has {} problems", self.file, all.len()),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Diagnostic for ConfigError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("vibes::config"))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self.faults.as_slice() {
            [only] if only.kind == FaultKind::NoConfig => only
                .help
                .as_ref()
                .map(|h| Box::new(h) as Box<dyn fmt::Display>),
            _ => None,
        }
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        // A missing file is the whole story; its message is already the headline.
        if matches!(self.faults.as_slice(), [only] if only.kind == FaultKind::NoConfig) {
            return None;
        }
        Some(Box::new(self.faults.iter().map(|f| f as &dyn Diagnostic)))
    }
}

/// Faults gathered while loading, in the order found.
#[derive(Debug, Default)]
pub(crate) struct Faults(Vec<Fault>);

impl Faults {
    pub fn push(&mut self, fault: Fault) {
        self.0.push(fault);
    }
    /// Collects a fault and hands it back for a help or more labels.
    pub fn push_mut(&mut self, fault: Fault) -> &mut Fault {
        self.0.push(fault);
        self.0.last_mut().expect("just pushed")
    }
    pub fn into_vec(self) -> Vec<Fault> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_one_based_lines_and_character_columns() {
        let src = Source::new("vibes.toml", "[project]\nname = \"é x\"\n");
        // The `x` after a two-byte `é`: column 11 in characters, 12 in bytes.
        let f = Fault::at(FaultKind::InvalidName, &src, 21..22, "bad", "here");
        assert_eq!(
            f.location().unwrap(),
            Location {
                file: "vibes.toml".into(),
                line: 2,
                column: 11
            }
        );
        assert_eq!(f.location().unwrap().to_string(), "vibes.toml:2:11");
    }

    #[test]
    fn each_fault_is_reported_once_in_file_order() {
        let src = Source::new("c.toml", "a = 1\nb = 2\n");
        let late = Fault::at(FaultKind::UnknownKey, &src, 6..7, "unknown key `b`", "");
        let early = Fault::at(FaultKind::UnknownKey, &src, 0..1, "unknown key `a`", "");
        let e = ConfigError::new("c.toml", vec![late.clone(), early, late]);
        let messages: Vec<_> = e.faults().iter().map(Fault::message).collect();
        assert_eq!(messages, ["unknown key `a`", "unknown key `b`"]);
        assert_eq!(e.to_string(), "c.toml has 2 problems");
    }
}
