//! Saved plans: `vibes plan --out plan.json`, then `vibes apply plan.json`.
//!
//! A saved plan holds the actions with their effects and, for each action, a fingerprint of
//! every observed resource it relied on. Applying it re-observes and re-plans; the saved plan
//! runs only if every action it holds is still the action a fresh plan would take and nothing
//! it relied on moved. Changes to resources the plan does not touch do not count.
//! A saved plan never holds a secret: effects carry none by construction.

use crate::plan::{Plan, PLAN_FORMAT_VERSION};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPlan {
    pub format_version: u32,
    /// The vibes version that made it.
    pub vibes_version: String,
    /// What the plan was made with: a fresh plan to compare against is made the same way.
    pub include_data: bool,
    pub destroy: bool,
    pub targets: Vec<String>,
    /// `--replace` addresses. Absent from plans saved before it existed.
    #[serde(default)]
    pub replace: Vec<String>,
    /// `--exclude` addresses. Absent from plans saved before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// `--allow-mass-delete`. Absent from plans saved before it existed.
    #[serde(default)]
    pub allow_mass_delete: bool,
    pub plan: Plan,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot read the saved plan {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a vibes plan: {message}")]
    Malformed { path: String, message: String },
    #[error("{path} is a plan of format {found}; this vibes reads format {expected}: make the plan again with this vibes")]
    Version {
        path: String,
        found: u32,
        expected: u32,
    },
    #[error("{path} is larger than a plan can be ({}{}): it is not a vibes plan", size.map(|s| format!("{s} bytes; ")).unwrap_or_default(), limit_shown())]
    TooLarge { path: String, size: Option<u64> },
}

/// Plans are small; a file over this is not one.
const MAX_PLAN_BYTES: u64 = crate::bounded::PLAN_LIMIT;

fn limit_shown() -> String {
    format!("the limit is {}", crate::units::human_bytes(MAX_PLAN_BYTES))
}

impl SavedPlan {
    pub fn new(plan: Plan, options: &crate::plan::PlanOptions) -> Self {
        SavedPlan {
            format_version: PLAN_FORMAT_VERSION,
            vibes_version: env!("CARGO_PKG_VERSION").into(),
            include_data: options.include_data,
            destroy: options.destroy,
            targets: options.targets.iter().map(ToString::to_string).collect(),
            replace: options.replace.iter().map(ToString::to_string).collect(),
            exclude: options.exclude.iter().map(ToString::to_string).collect(),
            allow_mass_delete: options.allow_mass_delete,
            plan,
        }
    }

    /// The options the plan was made with.
    pub fn options(&self) -> crate::plan::PlanOptions {
        crate::plan::PlanOptions {
            include_data: self.include_data,
            destroy: self.destroy,
            // Checked when the plan was loaded.
            targets: self.targets.iter().filter_map(|t| t.parse().ok()).collect(),
            replace: self.replace.iter().filter_map(|t| t.parse().ok()).collect(),
            exclude: self.exclude.iter().filter_map(|t| t.parse().ok()).collect(),
            allow_mass_delete: self.allow_mass_delete,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plans serialize")
    }

    pub fn from_json(text: &str, path: &str) -> Result<Self, SavedPlanError> {
        #[derive(Deserialize)]
        struct Head {
            format_version: u32,
        }
        let head: Head = serde_json::from_str(text).map_err(|e| SavedPlanError::Malformed {
            path: path.into(),
            message: e.to_string(),
        })?;
        if head.format_version != PLAN_FORMAT_VERSION {
            return Err(SavedPlanError::Version {
                path: path.into(),
                found: head.format_version,
                expected: PLAN_FORMAT_VERSION,
            });
        }
        let saved: SavedPlan =
            serde_json::from_str(text).map_err(|e| SavedPlanError::Malformed {
                path: path.into(),
                message: e.to_string(),
            })?;
        if let Some(bad) = saved
            .targets
            .iter()
            .chain(&saved.exclude)
            .find(|t| t.parse::<crate::Address>().is_err())
        {
            return Err(SavedPlanError::Malformed {
                path: path.into(),
                message: format!("target {bad:?} is not an address"),
            });
        }
        if let Some(bad) = saved.replace.iter().find(|t| {
            t.parse::<crate::Address>()
                .map_err(|e| e.to_string())
                .and_then(|a| crate::plan::replaceable(&a))
                .is_err()
        }) {
            return Err(SavedPlanError::Malformed {
                path: path.into(),
                message: format!("--replace {bad:?} is not an address vibes replaces on request"),
            });
        }
        // The edges must index actions: a hand-edited file could say otherwise.
        let n = saved.plan.actions.len();
        if let Some((a, b)) = saved
            .plan
            .edges
            .iter()
            .find(|(a, b)| *a >= n || *b >= n || a >= b)
        {
            return Err(SavedPlanError::Malformed {
                path: path.into(),
                message: format!("edge ({a}, {b}) does not fit the {n} actions in order"),
            });
        }
        Ok(saved)
    }

    pub fn load(path: &Path) -> Result<Self, SavedPlanError> {
        let p = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|source| SavedPlanError::Io {
            path: p.clone(),
            source,
        })?;
        if meta.len() > MAX_PLAN_BYTES {
            return Err(SavedPlanError::TooLarge {
                path: p,
                size: Some(meta.len()),
            });
        }
        // The size in the metadata says nothing of a device or a FIFO: the read is bounded too.
        let bytes = crate::bounded::read(path, MAX_PLAN_BYTES).map_err(|e| match e {
            crate::bounded::BoundedError::TooLarge { .. } => SavedPlanError::TooLarge {
                path: p.clone(),
                size: None,
            },
            crate::bounded::BoundedError::Io(source) => SavedPlanError::Io {
                path: p.clone(),
                source,
            },
        })?;
        let text = String::from_utf8(bytes).map_err(|_| SavedPlanError::Malformed {
            path: p.clone(),
            message: "it is not UTF-8 text".into(),
        })?;
        Self::from_json(&text, &p)
    }

    /// Writes the plan to `path`, readable by its owner only (a plan names the account's
    /// resources), checked with [`check_destination`] first. The plan is written to a new file
    /// beside `path`, created exclusively with mode 0600, and renamed over it: nobody reads a
    /// half-written plan, and no file that already exists (a link planted under the temporary
    /// name) is written through.
    pub fn save(&self, path: &Path, config: &Path) -> Result<(), SaveError> {
        check_destination(path, config)?;
        let shown = path.display().to_string();
        let io = |source| SaveError::Io {
            path: shown.clone(),
            source,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| SaveError::NotAFile {
                path: shown.clone(),
            })?
            .to_string_lossy();
        let (mut file, tmp) = exclusive_temp(dir, &name).map_err(io)?;
        let written = std::io::Write::write_all(&mut file, self.to_json().as_bytes())
            .and_then(|()| file.sync_all());
        drop(file);
        if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        Ok(())
    }
}

/// A new file in `dir`, made with O_CREAT|O_EXCL and mode 0600: never an existing file or a link.
fn exclusive_temp(dir: &Path, name: &str) -> std::io::Result<(std::fs::File, std::path::PathBuf)> {
    use std::os::unix::fs::OpenOptionsExt;
    let pid = std::process::id();
    let mut last = None;
    for attempt in 0..16u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tmp = dir.join(format!(".{name}.{pid}.{nanos:x}{attempt}.tmp"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
        {
            Ok(f) => return Ok((f, tmp)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("16 attempts"))
}

/// Why `plan --out FILE` does not write FILE.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("{path} is a symbolic link; vibes does not write a plan through a link")]
    Symlink { path: String },
    #[error("{path} is the config; vibes does not write a plan over it")]
    IsConfig { path: String },
    #[error("{path} exists and is not a vibes plan ({why}); vibes does not overwrite it")]
    NotAPlan { path: String, why: String },
    #[error("{path} is not a plain file")]
    NotAFile { path: String },
    #[error("cannot write the plan to {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl SaveError {
    /// How to go on.
    pub fn help(&self) -> &'static str {
        match self {
            SaveError::Symlink { .. } => "name the plan file itself with --out, not a link to it",
            SaveError::IsConfig { .. } => {
                "save the plan under another name: vibes plan --out vibes.plan"
            }
            SaveError::NotAPlan { .. } | SaveError::NotAFile { .. } => {
                "choose another name for --out, or remove the file yourself if it is not needed"
            }
            SaveError::Io { .. } => "check that the directory exists and is writable",
        }
    }
}

/// Whether `plan --out path` may write `path`: not a symlink, not the config, and, when it
/// exists, a file that is a vibes plan already (of any format version). Checked before reading
/// AWS, so that a mistyped `--out` costs nothing, and again when saving.
pub fn check_destination(path: &Path, config: &Path) -> Result<(), SaveError> {
    let shown = path.display().to_string();
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(SaveError::Io {
                path: shown,
                source,
            })
        }
    };
    if meta.file_type().is_symlink() {
        return Err(SaveError::Symlink { path: shown });
    }
    if !meta.is_file() {
        return Err(SaveError::NotAFile { path: shown });
    }
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(path, config) {
        return Err(SaveError::IsConfig { path: shown });
    }
    match SavedPlan::load(path) {
        Ok(_) | Err(SavedPlanError::Version { .. }) => Ok(()),
        Err(e) => Err(SaveError::NotAPlan {
            path: shown,
            why: match e {
                SavedPlanError::Malformed { message, .. } => message,
                other => other.to_string(),
            },
        }),
    }
}

/// Why a saved plan cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub address: String,
    pub what: String,
}

/// Compare a saved plan with a fresh one made from the same config and a new observation.
/// Empty when the saved plan may run as it is.
///
/// A saved action has moved when
/// - an observed resource it relied on has a different fingerprint now,
/// - a fresh plan would not do exactly the same to its address (other op or other effects:
///   the config changed, or the account did), or
/// - a fresh plan has to do something first that the saved action depends on (e.g. a key pair
///   deleted by hand under a compile the plan runs).
///
/// What the saved plan does not touch and does not depend on never counts: an out-of-band change
/// to another profile shows in the next plan, and does not block this one.
pub fn moved_since(saved: &Plan, fresh: &Plan) -> Vec<Moved> {
    use crate::plan::Op;
    if saved.project != fresh.project {
        return vec![Moved {
            address: "project".into(),
            what: format!(
                "the plan is for project {}, the config is for {}",
                saved.project, fresh.project
            ),
        }];
    }
    let fresh_index: BTreeMap<String, usize> = fresh
        .actions
        .iter()
        .enumerate()
        .map(|(i, a)| (a.address.to_string(), i))
        .collect();
    // One observation: the same key has the same fingerprint wherever a fresh action relies on it.
    let fresh_seen: BTreeMap<&crate::plan::Reliance, &String> = fresh
        .actions
        .iter()
        .flat_map(|a| a.relies_on.iter())
        .collect();
    let saved_addresses: std::collections::BTreeSet<String> = saved
        .actions
        .iter()
        .map(|a| a.address.to_string())
        .collect();
    let mut moved = Vec::new();
    for a in saved.actions.iter().filter(|a| a.op != Op::Blocked) {
        let address = a.address.to_string();
        let fresh_action = fresh_index.get(&address).map(|&i| (i, &fresh.actions[i]));
        let mut found = false;
        for (key, was) in &a.relies_on {
            let now = fresh_action
                .and_then(|(_, f)| f.relies_on.get(key))
                .or_else(|| fresh_seen.get(key).copied());
            if now.is_some_and(|now| now != was) {
                moved.push(Moved {
                    address: address.clone(),
                    what: format!("{key} changed since the plan was made"),
                });
                found = true;
            }
        }
        match fresh_action {
            None if !found => moved.push(Moved {
                address: address.clone(),
                what: "a fresh plan has nothing to do here any more".into(),
            }),
            None => {}
            Some((_, f)) if (f.op != a.op || f.effects != a.effects) && !found => {
                moved.push(Moved {
                    address: address.clone(),
                    what: format!(
                        "a fresh plan would {} it instead: {}",
                        f.op.as_str(),
                        f.reason
                    ),
                });
            }
            Some((i, _)) => {
                for d in fresh.dependencies(i) {
                    let dep = &fresh.actions[d];
                    if !saved_addresses.contains(&dep.address.to_string()) {
                        moved.push(Moved {
                            address: address.clone(),
                            what: format!(
                                "it depends on {}, which now needs to {} first: {}",
                                dep.address,
                                dep.op.as_str(),
                                dep.reason
                            ),
                        });
                    }
                }
            }
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Effect, Op};
    use crate::Address;

    fn put(address: Address, op: Op, param: &str, version: &str, text: &str) -> Action {
        Action {
            address,
            op,
            reason: "profile text changed".into(),
            attributes: Vec::new(),
            changes: Vec::new(),
            effects: vec![Effect::PutParameter {
                name: param.into(),
                value: crate::model::Value::literal(text),
                tags: Default::default(),
            }],
            relies_on: [(crate::plan::Reliance::parameter(param), version.to_string())].into(),
        }
    }

    fn plan(actions: Vec<Action>, edges: Vec<(usize, usize)>) -> Plan {
        Plan {
            project: "p".into(),
            actions,
            edges,
            notes: Vec::new(),
            cost: None,
        }
    }

    fn phone(version: &str) -> Action {
        put(
            Address::profile("phone"),
            Op::Update,
            "/p/profiles/phone",
            version,
            "CONFIG_ENCODER=lame\n",
        )
    }

    #[test]
    fn the_same_plan_from_the_same_account_has_not_moved() {
        let saved = plan(vec![phone("v1")], vec![]);
        assert!(moved_since(&saved, &saved.clone()).is_empty());
    }

    #[test]
    fn a_resource_the_plan_updates_that_changed_is_named() {
        let saved = plan(vec![phone("v1")], vec![]);
        let moved = moved_since(&saved, &plan(vec![phone("v2")], vec![]));
        assert_eq!(
            moved,
            vec![Moved {
                address: "profile.phone".into(),
                what: "parameter:/p/profiles/phone changed since the plan was made".into()
            }]
        );
    }

    #[test]
    fn a_change_to_a_resource_the_plan_does_not_touch_does_not_count() {
        let saved = plan(vec![phone("v1")], vec![]);
        let laptop = put(
            Address::profile("laptop"),
            Op::Update,
            "/p/profiles/laptop",
            "v7",
            "CONFIG_ENCODER=opusenc\n",
        );
        assert!(moved_since(&saved, &plan(vec![laptop, phone("v1")], vec![])).is_empty());
    }

    #[test]
    fn an_address_a_fresh_plan_leaves_alone_has_moved() {
        let saved = plan(vec![phone("v1")], vec![]);
        let moved = moved_since(&saved, &plan(vec![], vec![]));
        assert_eq!(
            moved[0].what,
            "a fresh plan has nothing to do here any more"
        );
    }

    #[test]
    fn other_effects_for_the_same_address_have_moved() {
        let saved = plan(vec![phone("v1")], vec![]);
        let fresh = put(
            Address::profile("phone"),
            Op::Update,
            "/p/profiles/phone",
            "v1",
            "CONFIG_ENCODER=flac\n",
        );
        let moved = moved_since(&saved, &plan(vec![fresh], vec![]));
        assert_eq!(moved.len(), 1);
        assert!(
            moved[0]
                .what
                .starts_with("a fresh plan would update it instead"),
            "{moved:?}"
        );
    }

    #[test]
    fn new_work_that_a_saved_action_depends_on_has_moved() {
        let mut compile = phone("v1");
        compile.address = Address::compile();
        compile.op = Op::Run;
        compile.relies_on.clear();
        let key = put(
            Address::key("worker"),
            Op::Create,
            "/p/ec2/keys/worker",
            "absent",
            "",
        );
        let saved = plan(vec![compile.clone()], vec![]);
        let moved = moved_since(&saved, &plan(vec![key, compile], vec![(0, 1)]));
        assert_eq!(moved.len(), 1, "{moved:?}");
        assert_eq!(moved[0].address, "compile");
        assert!(moved[0].what.contains("key.worker"), "{moved:?}");
    }

    #[test]
    fn a_plan_for_another_project_is_refused() {
        let saved = plan(vec![phone("v1")], vec![]);
        let mut other = saved.clone();
        other.project = "q".into();
        assert_eq!(moved_since(&saved, &other)[0].address, "project");
    }

    #[test]
    fn allow_mass_delete_is_kept_in_a_saved_plan_and_absent_means_off() {
        let options = crate::plan::PlanOptions {
            allow_mass_delete: true,
            ..Default::default()
        };
        let saved = SavedPlan::new(plan(vec![phone("v1")], vec![]), &options);
        let back = SavedPlan::from_json(&saved.to_json(), "plan.json").unwrap();
        assert!(back.options().allow_mass_delete);
        // A plan saved before the flag existed does not allow it.
        let old = saved.to_json().replace("\"allow_mass_delete\": true,", "");
        assert_ne!(old, saved.to_json());
        let back = SavedPlan::from_json(&old, "plan.json").unwrap();
        assert!(!back.options().allow_mass_delete);
    }

    #[test]
    fn a_saved_plan_round_trips_and_refuses_bad_targets_and_versions() {
        let saved = SavedPlan::new(
            plan(vec![phone("v1")], vec![]),
            &crate::plan::PlanOptions::default(),
        );
        let text = saved.to_json();
        assert_eq!(SavedPlan::from_json(&text, "plan.json").unwrap(), saved);
        let bad = text.replace("\"targets\": []", "\"targets\": [\"nonsense\"]");
        assert!(
            matches!(
                SavedPlan::from_json(&bad, "plan.json"),
                Err(SavedPlanError::Malformed { .. })
            ),
            "{bad}"
        );
        let newer = text.replacen(
            &format!("\"format_version\": {PLAN_FORMAT_VERSION}"),
            "\"format_version\": 99",
            1,
        );
        let err = SavedPlan::from_json(&newer, "plan.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("99") && err.contains(&PLAN_FORMAT_VERSION.to_string()),
            "{err}"
        );
    }
}
