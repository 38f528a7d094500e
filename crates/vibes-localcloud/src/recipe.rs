//! A Packer recipe's provisioners, read as Packer reads them: the `build` block's `provisioner`
//! blocks in order, their expressions evaluated with the recipe's variables (`-var`, else
//! `PKR_VAR_<name>`, else the variable's default) and `path.root`/`path.cwd`.
//!
//! The local cloud plays the two kinds vibes' recipes use, as Packer documents them:
//! `shell` (`inline`, `script`, `scripts`, `environment_vars`, `inline_shebang`) and `file`
//! (`source`/`sources`, `destination`, uploads only). Anything else is refused by name rather
//! than skipped: an image built without one of its steps is not the image the recipe makes.
//! <https://developer.hashicorp.com/packer/docs/provisioners/shell>,
//! <https://developer.hashicorp.com/packer/docs/provisioners/file>

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One step of the build, with every expression evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provisioner {
    /// Commands run on the build instance as the SSH user (`admin`): `inline` lines as one
    /// script under `shebang`, then each of `scripts` (host files, uploaded and run).
    Shell {
        shebang: String,
        inline: Vec<String>,
        scripts: Vec<PathBuf>,
        env: Vec<(String, String)>,
    },
    /// Host files or directories uploaded to `destination` on the build instance.
    File {
        sources: Vec<String>,
        destination: String,
    },
}

/// Packer's default `inline_shebang`.
const DEFAULT_SHEBANG: &str = "/bin/sh -e";

/// The provisioners of the recipe at `path`, given the `-var` values `vars` and the
/// environment's `PKR_VAR_*` (read through `env_var`).
pub fn provisioners(
    path: &Path,
    vars: &BTreeMap<String, String>,
    env_var: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Provisioner>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let body: hcl::Body = hcl::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let root = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."));
    let ctx = context(&body, root, vars, env_var)?;
    let mut out = Vec::new();
    for build in body.blocks().filter(|b| b.identifier() == "build") {
        for p in build
            .body()
            .blocks()
            .filter(|b| b.identifier() == "provisioner")
        {
            let kind = p.labels().first().map(|l| l.as_str()).unwrap_or_default();
            let attrs = evaluated(p.body(), &ctx)
                .map_err(|e| format!("{}: provisioner \"{kind}\": {e}", path.display()))?;
            out.push(
                provisioner(kind, attrs)
                    .map_err(|e| format!("{}: provisioner \"{kind}\": {e}", path.display()))?,
            );
        }
    }
    Ok(out)
}

/// `var.*`, `path.*` and `local.*` (those that evaluate without functions Packer alone has),
/// and `env()` for variable defaults.
fn context(
    body: &hcl::Body,
    root: &Path,
    vars: &BTreeMap<String, String>,
    env_var: &dyn Fn(&str) -> Option<String>,
) -> Result<Context<'static>, String> {
    let mut base = Context::new();
    base.declare_func(
        "env",
        FuncDef::builder().param(ParamType::String).build(env_func),
    );
    let mut values = hcl::Map::new();
    for v in body.blocks().filter(|b| b.identifier() == "variable") {
        let Some(name) = v.labels().first().map(|l| l.as_str().to_string()) else {
            continue;
        };
        let given = vars
            .get(&name)
            .cloned()
            .or_else(|| env_var(&format!("PKR_VAR_{name}")));
        let value = match given {
            Some(text) => given_value(&text),
            None => match v.body().attributes().find(|a| a.key() == "default") {
                Some(a) => a
                    .expr()
                    .evaluate(&base)
                    .map_err(|e| format!("variable \"{name}\": its default: {e}"))?,
                None => return Err(format!("variable \"{name}\" has no value and no default")),
            },
        };
        values.insert(name, value);
    }
    let mut path = hcl::Map::new();
    path.insert("root".into(), hcl::Value::from(root.display().to_string()));
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    path.insert("cwd".into(), hcl::Value::from(cwd.display().to_string()));
    base.declare_var("var", hcl::Value::Object(values));
    base.declare_var("path", hcl::Value::Object(path));
    let mut locals = hcl::Map::new();
    for l in body.blocks().filter(|b| b.identifier() == "locals") {
        for a in l.body().attributes() {
            if let Ok(v) = a.expr().evaluate(&base) {
                locals.insert(a.key().to_string(), v);
            }
        }
    }
    base.declare_var("local", hcl::Value::Object(locals));
    Ok(base)
}

fn env_func(args: FuncArgs) -> Result<hcl::Value, String> {
    let name = args[0].as_str().unwrap_or_default();
    Ok(hcl::Value::from(std::env::var(name).unwrap_or_default()))
}

/// A `-var` or `PKR_VAR_` value: JSON for maps and lists (as Packer reads them), else a string.
fn given_value(text: &str) -> hcl::Value {
    if text.starts_with('{') || text.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
            if let Ok(v) = hcl::to_value(v) {
                return v;
            }
        }
    }
    hcl::Value::from(text)
}

fn evaluated(body: &hcl::Body, ctx: &Context) -> Result<BTreeMap<String, hcl::Value>, String> {
    if let Some(b) = body.blocks().next() {
        return Err(format!("block \"{}\" is not played", b.identifier()));
    }
    body.attributes()
        .map(|a| {
            let v = a
                .expr()
                .evaluate(ctx)
                .map_err(|e| format!("{}: {e}", a.key()))?;
            Ok((a.key().to_string(), v))
        })
        .collect()
}

fn provisioner(kind: &str, mut attrs: BTreeMap<String, hcl::Value>) -> Result<Provisioner, String> {
    let p = match kind {
        "shell" => {
            let shebang = take_string(&mut attrs, "inline_shebang")?
                .unwrap_or_else(|| DEFAULT_SHEBANG.into());
            let inline = take_strings(&mut attrs, "inline")?;
            let mut scripts: Vec<PathBuf> = take_string(&mut attrs, "script")?
                .into_iter()
                .map(PathBuf::from)
                .collect();
            scripts.extend(
                take_strings(&mut attrs, "scripts")?
                    .into_iter()
                    .map(PathBuf::from),
            );
            let env = take_strings(&mut attrs, "environment_vars")?
                .into_iter()
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => Ok((k.to_string(), v.to_string())),
                    None => Err(format!("environment_vars: {kv:?} is not NAME=VALUE")),
                })
                .collect::<Result<_, _>>()?;
            Provisioner::Shell {
                shebang,
                inline,
                scripts,
                env,
            }
        }
        "file" => {
            if let Some(d) = take_string(&mut attrs, "direction")? {
                if d != "upload" {
                    return Err(format!("direction = {d:?} is not played (uploads only)"));
                }
            }
            let mut sources: Vec<String> = take_string(&mut attrs, "source")?.into_iter().collect();
            sources.extend(take_strings(&mut attrs, "sources")?);
            let destination =
                take_string(&mut attrs, "destination")?.ok_or("has no destination")?;
            if sources.is_empty() {
                return Err("has no source".into());
            }
            Provisioner::File {
                sources,
                destination,
            }
        }
        other => {
            return Err(format!(
                "the local cloud plays \"shell\" and \"file\" provisioners, not {other:?}"
            ))
        }
    };
    match attrs.keys().next() {
        Some(k) => Err(format!("{k} is not played by the local cloud")),
        None => Ok(p),
    }
}

fn take_string(
    attrs: &mut BTreeMap<String, hcl::Value>,
    key: &str,
) -> Result<Option<String>, String> {
    match attrs.remove(key) {
        None | Some(hcl::Value::Null) => Ok(None),
        Some(hcl::Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("{key} must be a string, not {other}")),
    }
}

fn take_strings(
    attrs: &mut BTreeMap<String, hcl::Value>,
    key: &str,
) -> Result<Vec<String>, String> {
    match attrs.remove(key) {
        None | Some(hcl::Value::Null) => Ok(Vec::new()),
        Some(hcl::Value::Array(items)) => items
            .into_iter()
            .map(|i| match i {
                hcl::Value::String(s) => Ok(s),
                other => Err(format!("{key} must list strings, not {other}")),
            })
            .collect(),
        Some(other) => Err(format!("{key} must be a list of strings, not {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn the_worker_recipe_uploads_its_files_and_the_source_then_runs_its_install_script() {
        let recipe = repo().join("packer/worker.pkr.hcl");
        let vars: BTreeMap<String, String> = [(
            "source_tarball".to_string(),
            "/tmp/given.tar.gz".to_string(),
        )]
        .into();
        let got = provisioners(&recipe, &vars, &|_| None).unwrap();
        let root = recipe.parent().unwrap().display().to_string();
        assert_eq!(
            got,
            vec![
                Provisioner::Shell {
                    shebang: DEFAULT_SHEBANG.into(),
                    inline: vec!["mkdir -p /tmp/vibes-files".into()],
                    scripts: vec![],
                    env: vec![],
                },
                Provisioner::File {
                    sources: vec![format!("{root}/files/worker/")],
                    destination: "/tmp/vibes-files".into(),
                },
                Provisioner::File {
                    sources: vec!["/tmp/given.tar.gz".into()],
                    destination: "/tmp/vibes-src.tar.gz".into(),
                },
                Provisioner::Shell {
                    shebang: DEFAULT_SHEBANG.into(),
                    inline: vec![
                        "sudo bash /tmp/vibes-files/install.sh /tmp/vibes-src.tar.gz".into()
                    ],
                    scripts: vec![],
                    env: vec![],
                },
            ]
        );
    }

    #[test]
    fn a_variable_comes_from_var_then_the_environment_then_its_default() {
        let dir = tempfile::tempdir().unwrap();
        let recipe = dir.path().join("r.pkr.hcl");
        std::fs::write(
            &recipe,
            r#"
variable "a" { default = "from-default" }
variable "b" { default = "from-default" }
variable "c" { default = "from-default" }
build {
  provisioner "shell" {
    inline           = ["echo ${var.a} ${var.b} ${var.c}"]
    environment_vars = ["WHO=${var.a}"]
  }
}
"#,
        )
        .unwrap();
        let vars: BTreeMap<String, String> = [("a".to_string(), "from-var".to_string())].into();
        let env = |k: &str| (k == "PKR_VAR_b" || k == "PKR_VAR_a").then(|| "from-env".to_string());
        let got = provisioners(&recipe, &vars, &env).unwrap();
        assert_eq!(
            got,
            vec![Provisioner::Shell {
                shebang: DEFAULT_SHEBANG.into(),
                inline: vec!["echo from-var from-env from-default".into()],
                scripts: vec![],
                env: vec![("WHO".into(), "from-var".into())],
            }]
        );
    }

    #[test]
    fn a_provisioner_the_local_cloud_does_not_play_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let recipe = dir.path().join("r.pkr.hcl");
        std::fs::write(
            &recipe,
            "build {\n  provisioner \"ansible\" {\n    playbook_file = \"x.yml\"\n  }\n}\n",
        )
        .unwrap();
        let err = provisioners(&recipe, &BTreeMap::new(), &|_| None).unwrap_err();
        assert!(err.contains("not \"ansible\""), "{err}");
        std::fs::write(
            &recipe,
            "build {\n  provisioner \"shell\" {\n    inline = [\"true\"]\n    expect_disconnect = true\n  }\n}\n",
        )
        .unwrap();
        let err = provisioners(&recipe, &BTreeMap::new(), &|_| None).unwrap_err();
        assert!(err.contains("expect_disconnect is not played"), "{err}");
    }
}
