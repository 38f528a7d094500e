//! The compile: a run on a worker whenever what the builds are made from (sources, profiles,
//! engine, worker image) differs from the newest builds snapshot; leftover workers are ended.

use super::{action, newest_first, outputs, seen, Cx};
use crate::address::Address;
use crate::compile_report::{compile_progress_parameter, compile_report_parameter};
use crate::model::{Value, ENGINE_VERSION};
use crate::observed::{Observed, ObservedInstance, ObservedSnapshot, ObservedVolume};
use crate::plan::action::{Action, Attribute, Effect, Op};
use crate::plan::reliance::Reliance;
use crate::states::VolumeState;
use crate::tags::{self, fingerprint_of, idempotency_token, Tags};
use std::collections::BTreeMap;

/// Why a compile runs when `--replace compile` asks for it.
const REBUILD_REASON: &str = "--replace compile: every output is encoded again";

impl<'a> Cx<'a> {
    /// What a builds snapshot is made from: sources, profiles, engine and worker image.
    pub(super) fn built_from(&self) -> Option<(String, Tags)> {
        let manifest = self.desired.sources.as_ref()?.manifest.as_ref()?;
        let revision = manifest.revision();
        let profiles: BTreeMap<&String, &String> = self
            .desired
            .profiles
            .iter()
            .map(|(k, v)| (k, &v.text))
            .collect();
        let profiles_hash = fingerprint_of(&profiles);
        let worker = self
            .desired
            .images
            .get("worker")
            .map(|i| i.recipe_hash.clone())
            .unwrap_or_default();
        // A format named in vibes.toml is part of what the builds are made from (the same files
        // read as another format make other outputs); left out when unnamed, as before it existed.
        let format = self
            .desired
            .sources
            .as_ref()
            .and_then(|s| s.format.clone())
            .filter(|f| f != "auto");
        let built_from = match &format {
            None => fingerprint_of(&(&revision, &profiles_hash, ENGINE_VERSION, &worker)),
            Some(f) => fingerprint_of(&(&revision, &profiles_hash, ENGINE_VERSION, &worker, f)),
        };
        let mut t = Tags::new();
        if let Some(f) = format {
            t.insert(tags::SOURCES_FORMAT.into(), f);
        }
        t.insert(tags::BUILT_FROM.into(), built_from.clone());
        t.insert(tags::SOURCES_REVISION.into(), revision);
        t.insert("vibes:profiles".into(), profiles_hash);
        t.insert("vibes:engine".into(), ENGINE_VERSION.into());
        t.insert("vibes:worker-image".into(), worker);
        Some((built_from, t))
    }

    pub(super) fn builds_snapshots(&self) -> Vec<&'a ObservedSnapshot> {
        let v: Vec<_> = Observed::tagged(
            self.observed.snapshots.values(),
            &Address::snapshot("builds").to_string(),
        )
        .into_iter()
        .filter(|s| self.ours(&s.tags) && !s.state.is_failed())
        .collect();
        newest_first(v, |s| (s.started.as_str(), s.snapshot_id.as_str()))
    }

    fn workers(&self) -> Vec<&'a ObservedInstance> {
        Observed::tagged(
            self.observed.instances.values(),
            &Address::compile().to_string(),
        )
        .into_iter()
        .filter(|i| self.ours(&i.tags) && i.state.is_live())
        .collect()
    }

    /// Builds volumes an unfinished compile kept (a Spot worker's after an interruption, or
    /// one a resumed compile ran on): free, of this project, tagged with the compile.
    fn kept_builds_volumes(&self) -> Vec<&'a ObservedVolume> {
        Observed::tagged(
            self.observed.volumes.values(),
            &Address::compile().to_string(),
        )
        .into_iter()
        .filter(|v| self.ours(&v.tags) && v.state == VolumeState::Available)
        .collect()
    }

    pub(super) fn plan_compile(&self) -> Option<Action> {
        let address = Address::compile();
        let leftovers = self.workers();
        let kept = self.kept_builds_volumes();
        let mut terminate: Vec<Effect> = leftovers
            .iter()
            .map(|i| Effect::TerminateInstance {
                instance_id: i.instance_id.clone(),
            })
            .collect();
        // A compile that runs resumes on the first kept volume (`skip` 1); the others, or all
        // of them when none runs, are deleted.
        let delete_kept = |skip: usize| {
            kept.iter().skip(skip).map(|v| Effect::DeleteVolume {
                volume_id: v.volume_id.clone(),
                size_gib: v.size_gib,
            })
        };
        // What becomes of the leftovers, for the reason.
        let leftover_note = |skip: usize| {
            let ids = |ids: Vec<&str>| ids.join(", ");
            let mut notes = Vec::new();
            if !leftovers.is_empty() {
                notes.push(format!(
                    "worker {} left over from an interrupted compile is terminated",
                    ids(leftovers.iter().map(|i| i.instance_id.as_str()).collect())
                ));
            }
            if let Some(v) = kept.first().filter(|_| skip == 1) {
                notes.push(format!(
                    "it resumes on builds volume {}, kept by an unfinished compile",
                    v.volume_id
                ));
            }
            if kept.len() > skip {
                notes.push(format!(
                    "builds volume {} kept by an unfinished compile is deleted",
                    ids(kept
                        .iter()
                        .skip(skip)
                        .map(|v| v.volume_id.as_str())
                        .collect())
                ));
            }
            notes
        };
        let nothing_left = leftovers.is_empty() && kept.is_empty();
        let mut a = match &self.desired.compile {
            None => {
                // What the last worker wrote of its compile: its report and its progress.
                let records: Vec<&str> = [
                    compile_report_parameter(&self.desired.project.name),
                    compile_progress_parameter(&self.desired.project.name),
                ]
                .iter()
                .filter_map(|p| self.observed.parameters.get(p))
                .map(|p| p.name.as_str())
                .collect();
                if nothing_left && records.is_empty() {
                    return None;
                }
                let mut notes = leftover_note(0);
                if !records.is_empty() {
                    notes.push(format!(
                        "the last compile's record {} is deleted",
                        records.join(", ")
                    ));
                }
                let mut a = action(address.clone(), Op::Delete, notes.join("; "));
                terminate.extend(delete_kept(0));
                terminate.extend(records.iter().map(|name| Effect::DeleteParameter {
                    name: name.to_string(),
                }));
                a.effects = terminate;
                a
            }
            Some(c) => {
                let Some((built_from, snapshot_tags)) = self.built_from() else {
                    return Some(action(
                        address,
                        Op::Blocked,
                        "the sources tree has not been read (run plan, not validate)",
                    ));
                };
                let newest = self
                    .builds_snapshots()
                    .into_iter()
                    .find(|s| s.state.is_complete());
                let why = match newest {
                    Some(s) if s.tags.get(tags::BUILT_FROM) == Some(&built_from) => None,
                    Some(s) => {
                        let mut parts = Vec::new();
                        for (tag, what) in [
                            (tags::SOURCES_REVISION, "sources"),
                            ("vibes:profiles", "profiles"),
                            ("vibes:engine", "compile engine"),
                            ("vibes:worker-image", "worker image"),
                        ] {
                            let was = s.tags.get(tag).map(String::as_str).unwrap_or("?");
                            let now = snapshot_tags.get(tag).map(String::as_str).unwrap_or("?");
                            if was != now {
                                parts.push(format!("{what} changed ({was} -> {now})"));
                            }
                        }
                        if parts.is_empty() {
                            parts.push(
                                "the newest builds snapshot was made from something else".into(),
                            );
                        }
                        Some(format!(
                            "{} since snapshot {}",
                            parts.join(", "),
                            s.snapshot_id
                        ))
                    }
                    None => Some("no builds snapshot yet".to_string()),
                };
                // `--replace compile` (after an encoder bug): run even when up to date, and have
                // the worker encode every output again.
                let rebuild = self.replace_requested(&address);
                let why = match (why, rebuild) {
                    (None, true) => Some(REBUILD_REASON.to_string()),
                    (Some(w), true) => Some(format!("{w}; {REBUILD_REASON}")),
                    (w, false) => w,
                };
                match why {
                    None if nothing_left => return None,
                    None => {
                        let mut a =
                            action(address.clone(), Op::Delete, leftover_note(0).join("; "));
                        terminate.extend(delete_kept(0));
                        a.effects = terminate;
                        a
                    }
                    Some(why) => {
                        // The compile resumes on the first kept volume: what an interrupted
                        // attempt built is not built again.
                        let resume = kept.first();
                        let reason = std::iter::once(why)
                            .chain(leftover_note(1))
                            .collect::<Vec<_>>()
                            .join("; ");
                        let mut a = action(address.clone(), Op::Run, reason);
                        terminate.extend(delete_kept(1));
                        a.effects = terminate;
                        // The run's volume is made from the newest good builds snapshot: what is
                        // up to date in it (the worker's records say) is not compiled again. A
                        // standing builds volume of an earlier vibes whose builds no snapshot
                        // holds is snapshotted first (plan_volumes), and that snapshot is newer.
                        let builds_snapshot = if self.retire_snapshots_volume() {
                            Some(Value::Output {
                                address: Address::volume("builds"),
                                output: outputs::SNAPSHOT_ID.into(),
                            })
                        } else {
                            newest.map(|s| Value::literal(&s.snapshot_id))
                        };
                        let mut instance_tags = self.tags(&address, &built_from);
                        if rebuild {
                            instance_tags.insert(tags::REBUILD.into(), "all".into());
                        }
                        if let Some(f) = snapshot_tags.get(tags::SOURCES_FORMAT) {
                            instance_tags.insert(tags::SOURCES_FORMAT.into(), f.clone());
                        }
                        instance_tags
                            .insert("Name".into(), self.desired.project.aws_name("worker"));
                        let mut st = self.tags(&Address::snapshot("builds"), &built_from);
                        st.extend(snapshot_tags.clone());
                        a.attributes
                            .push(Attribute::new("instance_type", &c.instance_type));
                        if c.spot {
                            a.attributes.push(Attribute::new("market", "spot"));
                        }
                        if let Some(v) = resume {
                            a.attributes
                                .push(Attribute::new("resumes_on", &v.volume_id));
                        }
                        a.attributes.push(Attribute::new("built_from", &built_from));
                        let Some(image) = self.image_value("worker") else {
                            return Some(action(
                                address,
                                Op::Blocked,
                                "[compile] needs [images.worker]: the worker image carries the encoders and the compile engine",
                            ));
                        };
                        if let Some(why) =
                            self.architecture_mismatch("worker", "[compile]", &c.instance_type)
                        {
                            return Some(action(address, Op::Blocked, why));
                        }
                        if let Some(blocked) = self.blocked_by_source_faults(&address) {
                            return Some(blocked);
                        }
                        a.effects.push(Effect::RunCompile {
                            launch_template: self.main_output(outputs::WORKER_LAUNCH_TEMPLATE),
                            image,
                            instance_type: c.instance_type.clone(),
                            builds_snapshot,
                            builds_volume_gib: c.builds_volume_gib,
                            built_from: built_from.clone(),
                            sources_revision: snapshot_tags
                                .get(tags::SOURCES_REVISION)
                                .cloned()
                                .unwrap_or_default(),
                            timeout_minutes: c.timeout_minutes,
                            snapshot_tags: st,
                            instance_tags,
                            // What the launch is for; apply makes each attempt's ClientToken
                            // from it (apply::launch): a rerun must never get the worker of a
                            // failed or interrupted compile back.
                            token: idempotency_token(self.project, &address, &built_from),
                            spot: c.spot,
                            resume_volume: resume.map(|v| v.volume_id.clone()),
                        });
                        a
                    }
                }
            }
        };
        a.relies_on.insert(
            Reliance::instances(&Address::compile()),
            seen(Some(&leftovers)),
        );
        a.relies_on
            .insert(Reliance::volumes(&Address::compile()), seen(Some(&kept)));
        a.relies_on.insert(
            Reliance::snapshots(&Address::snapshot("builds")),
            seen(Some(&self.builds_snapshots())),
        );
        Some(a)
    }
}
