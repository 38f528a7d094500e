//! TOML text → [`RawConfig`]: syntax, known keys, value types and required keys.
//!
//! The file is walked as a `toml_edit` document rather than deserialized with serde, because
//! serde stops at the first fault and vibes reports all of them in one run. Every key and value
//! in the document carries its span, which lands in the raw types as `toml::Spanned`.

use super::builtin;
use super::error::{Fault, FaultKind, Faults, Source};
use super::names::suggest;
use super::raw::*;
use toml::Spanned;
use toml_edit::{ImDocument, Item, TableLike, Value};

const SECTIONS: &[&str] = &[
    "project",
    "network",
    "stacks",
    "sources",
    "keys",
    "images",
    "profiles",
    "compile",
    "snapshots",
    "server",
    "budget",
    "prices",
];

/// Reads the document, reporting every structural fault. `None` only when the text is not TOML.
pub(crate) fn read(src: &Source, faults: &mut Faults) -> Option<RawConfig> {
    let doc = match ImDocument::parse(src.text()) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().replace('\n', ": ");
            faults.push(Fault::at(
                FaultKind::Syntax,
                src,
                span,
                format!("invalid TOML: {message}"),
                "here",
            ));
            return None;
        }
    };
    let mut reader = Reader { src, faults };
    Some(reader.root(doc.as_table()))
}

/// A key of a table with its value.
mod prices;

struct Entry<'a> {
    key: &'a str,
    key_span: Span,
    item: &'a Item,
}

impl Entry<'_> {
    /// Where the value is; a table made implicitly by a dotted header has no span of its own,
    /// so its key stands for it.
    fn value_span(&self) -> Span {
        self.item.span().unwrap_or_else(|| self.key_span.clone())
    }
    fn spanned<T>(&self, value: T) -> Spanned<T> {
        Spanned::new(self.value_span(), value)
    }
    fn key(&self) -> Spanned<String> {
        Spanned::new(self.key_span.clone(), self.key.to_string())
    }
}

fn entries(table: &dyn TableLike) -> Vec<Entry<'_>> {
    table
        .iter()
        .map(|(key, item)| {
            let key_span = table
                .get_key_value(key)
                .and_then(|(k, _)| k.span())
                .unwrap_or(0..0);
            Entry {
                key,
                key_span,
                item,
            }
        })
        .collect()
}

fn describe(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(v) => describe_value(v),
    }
}

fn describe_value(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "a table",
    }
}

struct Reader<'s> {
    src: &'s Source,
    faults: &'s mut Faults,
}

impl Reader<'_> {
    fn root(&mut self, doc: &toml_edit::Table) -> RawConfig {
        let mut raw = RawConfig::default();
        let root = entries(doc);
        if !root.iter().any(|e| e.key == "project") {
            self.faults.push(
                Fault::at(
                    FaultKind::MissingKey,
                    self.src,
                    0..0,
                    "missing [project] section",
                    "expected [project] with a name",
                )
                .with_help("start the file with:\n[project]\nname = \"vibes\""),
            );
        }
        for e in &root {
            match e.key {
                "project" => raw.project = self.project(e),
                "network" => raw.network = self.network(e),
                "stacks" => raw.stacks = self.named(e, |r, name, t| r.stack(name, t)),
                "sources" => raw.sources = self.sources(e),
                "keys" => raw.keys = self.named(e, |r, name, t| r.key(name, t)),
                "images" => raw.images = self.named(e, |r, name, t| r.image(name, t)),
                "profiles" => raw.profiles = self.named(e, |r, name, t| r.profile(name, t)),
                "compile" => raw.compile = self.compile(e),
                "snapshots" => raw.snapshots = self.snapshots(e),
                "server" => raw.server = self.server(e),
                "budget" => raw.budget = self.budget(e),
                "prices" => raw.prices = self.prices(e),
                _ => self.unknown(e, "", SECTIONS),
            }
        }
        raw
    }

    fn project(&mut self, e: &Entry) -> Option<RawProject> {
        let t = self.table(e, "[project]")?;
        let mut p = RawProject {
            name: None,
            region: None,
        };
        self.require(e, &t, "[project]", "name", "name = \"vibes\"");
        for f in &t {
            match f.key {
                "name" => p.name = self.string(f),
                "region" => p.region = self.string(f),
                _ => self.unknown(f, "[project]", &["name", "region"]),
            }
        }
        Some(p)
    }

    fn network(&mut self, e: &Entry) -> Option<RawNetwork> {
        let t = self.table(e, "[network]")?;
        let mut n = RawNetwork {
            span: e.key_span.clone(),
            create: None,
            template: None,
            vpc_id: None,
            subnet_id: None,
            availability_zone: None,
        };
        for f in &t {
            match f.key {
                "create" => n.create = self.bool(f),
                "template" => n.template = self.string(f),
                "vpc_id" => n.vpc_id = self.string(f),
                "subnet_id" => n.subnet_id = self.string(f),
                "availability_zone" => n.availability_zone = self.string(f),
                _ => self.unknown(
                    f,
                    "[network]",
                    &[
                        "create",
                        "template",
                        "vpc_id",
                        "subnet_id",
                        "availability_zone",
                    ],
                ),
            }
        }
        Some(n)
    }

    fn stack(&mut self, name: Spanned<String>, t: &[Entry]) -> RawStack {
        let mut s = RawStack {
            name,
            template: None,
            parameters: Vec::new(),
            depends_on: Vec::new(),
        };
        for f in t {
            match f.key {
                "template" => s.template = self.string(f),
                "parameters" => {
                    if let Some(params) = self.table(f, "parameters") {
                        for p in &params {
                            if let Some(v) = self.string(p) {
                                s.parameters.push((p.key(), v));
                            }
                        }
                    }
                }
                "depends_on" => s.depends_on = self.strings(f),
                _ => self.unknown(
                    f,
                    &format!("[stacks.{}]", s.name.get_ref()),
                    &["template", "parameters", "depends_on"],
                ),
            }
        }
        s
    }

    fn sources(&mut self, e: &Entry) -> Option<RawSources> {
        let t = self.table(e, "[sources]")?;
        let mut s = RawSources {
            span: e.key_span.clone(),
            path: None,
            delete: None,
            format: None,
        };
        self.require(e, &t, "[sources]", "path", "path = \"music\"");
        for f in &t {
            match f.key {
                "path" => s.path = self.string(f),
                "delete" => s.delete = self.bool(f),
                "format" => s.format = self.string(f),
                _ => self.unknown(f, "[sources]", &["path", "delete", "format"]),
            }
        }
        Some(s)
    }

    fn key(&mut self, name: Spanned<String>, t: &[Entry]) -> RawKey {
        let mut k = RawKey {
            name,
            public_key: None,
        };
        for f in t {
            match f.key {
                "public_key" => k.public_key = self.string(f),
                _ => self.unknown(f, &format!("[keys.{}]", k.name.get_ref()), &["public_key"]),
            }
        }
        k
    }

    fn image(&mut self, name: Spanned<String>, t: &[Entry]) -> RawImage {
        let section = format!("[images.{}]", name.get_ref());
        let mut i = RawImage {
            name,
            recipe: None,
            files: Vec::new(),
            keep: None,
            arch: None,
        };
        let name = i.name.get_ref();
        if !t.iter().any(|f| f.key == "recipe") && !builtin::IMAGES.contains(&name.as_str()) {
            self.faults.push(
                Fault::at(
                    FaultKind::MissingKey,
                    self.src,
                    i.name.span(),
                    format!("{section} needs `recipe`: vibes has no built-in {name} image"),
                    "`recipe` is missing here",
                )
                .with_help(format!(
                    "add recipe = \"packer/{name}.pkr.hcl\" (a Packer file relative to the config), or use one of the built-in images: {}",
                    builtin::IMAGES.join(", ")
                )),
            );
        }
        for f in t {
            match f.key {
                "recipe" => i.recipe = self.string(f),
                "files" => i.files = self.strings(f),
                "keep" => i.keep = self.integer(f),
                "arch" => i.arch = self.string(f),
                _ => self.unknown(f, &section, &["recipe", "files", "keep", "arch"]),
            }
        }
        i
    }

    fn profile(&mut self, name: Spanned<String>, t: &[Entry]) -> RawProfile {
        let section = format!("[profiles.{}]", name.get_ref());
        let mut p = RawProfile {
            name,
            config: None,
            encoder: None,
            flags: None,
            settings: Vec::new(),
        };
        for f in t {
            match f.key {
                "config" => p.config = self.string(f),
                "encoder" => p.encoder = self.string(f),
                "flags" => p.flags = self.string(f),
                k if k.starts_with("CONFIG_") => {
                    if let Some(v) = self.string(f) {
                        p.settings.push((f.key(), v));
                    }
                }
                _ => self.unknown(
                    f,
                    &section,
                    &["config", "encoder", "flags", "CONFIG_PLAYLIST"],
                ),
            }
        }
        p
    }

    fn compile(&mut self, e: &Entry) -> Option<RawCompile> {
        let t = self.table(e, "[compile]")?;
        let mut c = RawCompile {
            span: e.key_span.clone(),
            instance_type: None,
            builds_volume_gib: None,
            timeout_minutes: None,
            spot: None,
        };
        for f in &t {
            match f.key {
                "instance_type" => c.instance_type = self.string(f),
                "builds_volume_gib" => c.builds_volume_gib = self.integer(f),
                "timeout_minutes" => c.timeout_minutes = self.integer(f),
                "spot" => c.spot = self.bool(f),
                _ => self.unknown(
                    f,
                    "[compile]",
                    &[
                        "instance_type",
                        "builds_volume_gib",
                        "timeout_minutes",
                        "spot",
                    ],
                ),
            }
        }
        Some(c)
    }

    fn budget(&mut self, e: &Entry) -> Option<RawBudget> {
        let t = self.table(e, "[budget]")?;
        let mut b = RawBudget {
            max_run_usd: None,
            max_idle_usd_month: None,
        };
        for f in &t {
            match f.key {
                "max_run_usd" => b.max_run_usd = self.number(f),
                "max_idle_usd_month" => b.max_idle_usd_month = self.number(f),
                _ => self.unknown(f, "[budget]", &["max_run_usd", "max_idle_usd_month"]),
            }
        }
        Some(b)
    }

    fn snapshots(&mut self, e: &Entry) -> Option<RawSnapshots> {
        let t = self.table(e, "[snapshots]")?;
        let mut s = RawSnapshots { keep: None };
        for f in &t {
            match f.key {
                "keep" => s.keep = self.integer(f),
                _ => self.unknown(f, "[snapshots]", &["keep"]),
            }
        }
        Some(s)
    }

    fn server(&mut self, e: &Entry) -> Option<RawServer> {
        let t = self.table(e, "[server]")?;
        let mut s = RawServer {
            span: e.key_span.clone(),
            running: None,
            instance_type: None,
            elastic_ip: None,
        };
        for f in &t {
            match f.key {
                "running" => s.running = self.bool(f),
                "instance_type" => s.instance_type = self.string(f),
                "elastic_ip" => s.elastic_ip = self.bool(f),
                _ => self.unknown(f, "[server]", &["running", "instance_type", "elastic_ip"]),
            }
        }
        Some(s)
    }

    /// `[kind.NAME]` sections: a table of tables, one per name.
    fn named<T>(
        &mut self,
        e: &Entry,
        mut each: impl FnMut(&mut Self, Spanned<String>, &[Entry]) -> T,
    ) -> Vec<T> {
        let Some(t) = self.table(e, &format!("[{}]", e.key)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for named in &t {
            let what = format!("[{}.{}]", e.key, named.key);
            if let Some(body) = self.table(named, &what) {
                out.push(each(self, named.key(), &body));
            }
        }
        out
    }

    fn table<'a>(&mut self, e: &Entry<'a>, what: &str) -> Option<Vec<Entry<'a>>> {
        match e.item.as_table_like() {
            Some(t) if !matches!(e.item, Item::ArrayOfTables(_)) => Some(entries(t)),
            _ => {
                self.wrong_type(e, &format!("{what} must be a table"), "a table");
                None
            }
        }
    }

    fn string(&mut self, e: &Entry) -> Option<Spanned<String>> {
        match e.item.as_str() {
            Some(s) => Some(e.spanned(s.to_string())),
            None => {
                self.wrong_type(e, &format!("`{}` must be a string", e.key), "a string");
                None
            }
        }
    }

    fn bool(&mut self, e: &Entry) -> Option<Spanned<bool>> {
        match e.item.as_bool() {
            Some(b) => Some(e.spanned(b)),
            None => {
                self.wrong_type(
                    e,
                    &format!("`{}` must be true or false", e.key),
                    "a boolean",
                );
                None
            }
        }
    }

    /// A number of dollars: `5`, `2.50`.
    fn number(&mut self, e: &Entry) -> Option<Spanned<f64>> {
        let n = e
            .item
            .as_float()
            .or_else(|| e.item.as_integer().map(|i| i as f64));
        match n {
            Some(n) => Some(e.spanned(n)),
            None => {
                self.wrong_type(e, &format!("`{}` must be a number", e.key), "a number");
                None
            }
        }
    }

    fn integer(&mut self, e: &Entry) -> Option<Spanned<i64>> {
        match e.item.as_integer() {
            Some(i) => Some(e.spanned(i)),
            None => {
                self.wrong_type(
                    e,
                    &format!("`{}` must be a whole number", e.key),
                    "an integer",
                );
                None
            }
        }
    }

    fn strings(&mut self, e: &Entry) -> Vec<Spanned<String>> {
        let Some(array) = e.item.as_array() else {
            self.wrong_type(
                e,
                &format!("`{}` must be an array of strings", e.key),
                "an array of strings",
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for v in array.iter() {
            let span = v.span().unwrap_or_else(|| e.value_span());
            match v.as_str() {
                Some(s) => out.push(Spanned::new(span, s.to_string())),
                None => self.faults.push(Fault::at(
                    FaultKind::WrongType,
                    self.src,
                    span,
                    format!("`{}` must be an array of strings", e.key),
                    format!("expected a string, found {}", describe_value(v)),
                )),
            }
        }
        out
    }

    fn wrong_type(&mut self, e: &Entry, message: &str, expected: &str) {
        self.faults.push(Fault::at(
            FaultKind::WrongType,
            self.src,
            e.value_span(),
            message,
            format!("expected {expected}, found {}", describe(e.item)),
        ));
    }

    fn unknown(&mut self, e: &Entry, section: &str, known: &[&str]) {
        let root = section.is_empty();
        let help = match (suggest(e.key, known), root) {
            (Some(s), true) => format!("did you mean [{s}]?"),
            (Some(s), false) => format!("did you mean `{s}`?"),
            (None, true) => format!("vibes.toml has the sections {}", known.join(", ")),
            (None, false) => format!("{section} takes: {}", known.join(", ")),
        };
        let message = if root {
            format!("unknown section [{}]", e.key)
        } else {
            format!("unknown key `{}` in {section}", e.key)
        };
        self.faults.push(
            Fault::at(
                FaultKind::UnknownKey,
                self.src,
                e.key_span.clone(),
                message,
                "not a vibes setting",
            )
            .with_help(help),
        );
    }

    fn require(&mut self, section: &Entry, body: &[Entry], name: &str, key: &str, example: &str) {
        if !body.iter().any(|f| f.key == key) {
            self.missing(section.key_span.clone(), name, key, example);
        }
    }

    fn missing(&mut self, span: Span, section: &str, key: &str, example: &str) {
        self.faults.push(
            Fault::at(
                FaultKind::MissingKey,
                self.src,
                span,
                format!("{section} needs `{key}`"),
                format!("`{key}` is missing here"),
            )
            .with_help(format!("add {example}")),
        );
    }
}
