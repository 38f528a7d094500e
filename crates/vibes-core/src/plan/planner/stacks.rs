//! CloudFormation stacks.
//!
//! A stack made by hand under vibes' name is adopted only when applying vibes' template would
//! change nothing but its tags: its live template (GetTemplate) and parameters are those vibes
//! would give it. Otherwise vibes would be updating someone else's resources, so the stack is
//! blocked, with the difference shown, until the config matches it or `--replace stack.NAME`.

use super::sources::SOURCES_BUCKET_PARAMETER;
use super::stack_reads::{declares, filled_buckets, parameter_default};
use super::{action, plural, seen, Cx};
use crate::address::{Address, Kind};
use crate::model::{StackSpec, Value};
use crate::noecho;
use crate::observed::ObservedStack;
use crate::plan::action::{Action, Attribute, Effect, Op, TextChange};
use crate::plan::ownership::{self, standing, Standing, Thing};
use crate::plan::reliance::Reliance;
use crate::stack_changes::{
    template_resources, update_key, ChangeAction, Previewed, ResourceChange, StackPreviewRequest,
};
use crate::tags::{self, fingerprint_of, idempotency_token};
use std::collections::BTreeMap;

/// How CloudFormation shows the value of a NoEcho parameter: it cannot be compared.
const MASKED: &str = "****";

/// How a live stack differs from what vibes would apply to it.
struct StackDiff {
    template: bool,
    /// Parameter → (live, desired as known now; `None` when known only after apply).
    parameters: Vec<(String, Option<String>, Option<String>)>,
    /// Parameters the config leaves unset whose live value cannot be read back (NoEcho).
    masked: Vec<String>,
}

impl StackDiff {
    fn is_empty(&self) -> bool {
        !self.template && self.parameters.is_empty() && self.masked.is_empty()
    }

    fn describe(&self) -> String {
        let mut what = Vec::new();
        if self.template {
            what.push("template changed".to_string());
        }
        if !self.parameters.is_empty() {
            what.push(format!(
                "{} changed",
                plural(self.parameters.len(), "parameter", "parameters")
            ));
        }
        if !self.masked.is_empty() {
            what.push(format!(
                "NoEcho {} {} cannot be compared",
                if self.masked.len() == 1 {
                    "parameter"
                } else {
                    "parameters"
                },
                self.masked.join(", ")
            ));
        }
        what.join(", ")
    }
}

impl Cx<'_> {
    pub(super) fn plan_stacks(&self) -> Vec<Action> {
        let mut out: Vec<Action> = self
            .desired
            .stacks
            .iter()
            .filter_map(
                |(name, spec)| match self.with_zone(name, self.with_kept_bucket(spec)) {
                    Ok(spec) => self.plan_stack(name, &spec),
                    Err(why) => Some(action(Address::stack(name), Op::Blocked, why)),
                },
            )
            .collect();
        out.extend(self.stacks_no_longer_named());
        out
    }

    /// The spec as applied: a stack whose template takes `SourcesBucketName`, and whose config
    /// does not set it, is handed the sources bucket an earlier deployment kept — when it is
    /// created again (so the collection is not uploaded into a second bucket), and afterwards
    /// (its live value kept, so that no update ever takes the bucket away from it).
    fn with_kept_bucket<'s>(&self, spec: &'s StackSpec) -> std::borrow::Cow<'s, StackSpec> {
        use std::borrow::Cow;
        if spec.parameters.contains_key(SOURCES_BUCKET_PARAMETER)
            || !declares(&spec.template_body, SOURCES_BUCKET_PARAMETER)
        {
            return Cow::Borrowed(spec);
        }
        let value = match self.observed.stacks.get(&spec.stack_name) {
            Some(live) => live.parameters.get(SOURCES_BUCKET_PARAMETER).cloned(),
            None => self.kept_sources_bucket().map(|b| b.bucket.clone()),
        };
        match value {
            Some(v) if !v.is_empty() => {
                let mut spec = spec.clone();
                spec.parameters
                    .insert(SOURCES_BUCKET_PARAMETER.into(), Value::literal(v));
                Cow::Owned(spec)
            }
            _ => Cow::Borrowed(spec),
        }
    }

    fn stack_diff(&self, s: &ObservedStack, spec: &StackSpec) -> StackDiff {
        let mut parameters = Vec::new();
        let record = s.tags.get(tags::NOECHO).map(String::as_str);
        for (k, v) in &spec.parameters {
            let now = self.resolve_now(v);
            let was = s.parameters.get(k);
            let same = match (&now, was) {
                // A NoEcho value is compared with the hash the last write recorded.
                (Some(now), Some(was)) if was == MASKED => {
                    noecho::matches(record, k, now) == Some(true)
                }
                _ => now.as_ref() == was,
            };
            if !same {
                parameters.push((k.clone(), was.cloned(), now));
            }
        }
        let masked = s
            .parameters
            .iter()
            .filter(|(k, v)| !spec.parameters.contains_key(*k) && v.as_str() == MASKED)
            .map(|(k, _)| k.clone())
            .collect();
        StackDiff {
            template: s.template_body.trim_end() != spec.template_body.trim_end(),
            parameters,
            masked,
        }
    }

    fn plan_stack(&self, name: &str, spec: &StackSpec) -> Option<Action> {
        let address = Address::stack(name);
        let fp = fingerprint_of(&(&spec.template_body, &spec.parameters));
        let tags = tags::stack_ownership(self.project, &address);
        let token = idempotency_token(self.project, &address, &fp);
        let seen_stack = self.observed.stacks.get(&spec.stack_name);
        let thing = Thing {
            what: "stack",
            name: &spec.stack_name,
        };
        let diff = seen_stack.map(|s| self.stack_diff(s, spec));
        let st = standing(self.project, &address, seen_stack.map(|s| &s.tags), || {
            diff.as_ref().is_some_and(|d| {
                // Unset parameters keep their live values only in an adoption; for a stack of
                // ours they fall back to the template's defaults, as they always have.
                !d.template && d.parameters.is_empty()
            })
        });
        let create = || Effect::CreateStack {
            stack_name: spec.stack_name.clone(),
            template_body: spec.template_body.clone(),
            parameters: spec.parameters.clone(),
            tags: tags.clone(),
            token: token.clone(),
        };
        let update =
            |template_body: &str, parameters: BTreeMap<String, Value>| Effect::UpdateStack {
                stack_name: spec.stack_name.clone(),
                template_body: template_body.to_string(),
                parameters,
                tags: tags.clone(),
                token: token.clone(),
            };
        let template_change = |s: &ObservedStack, after: bool| TextChange {
            label: "template".into(),
            before: Some(s.template_body.clone()),
            after: after.then(|| spec.template_body.clone()),
        };
        let mut a = match (seen_stack, st) {
            (None, _) | (_, Standing::Missing) => {
                let mut a = action(address.clone(), Op::Create, "not found");
                let secret = noecho::declared(&spec.template_body);
                for (k, v) in &spec.parameters {
                    let label = format!("parameter {k}");
                    a.attributes.push(if secret.contains(k) {
                        Attribute::sensitive(&label)
                    } else {
                        Attribute::new(&label, self.describe_value(v))
                    });
                }
                a.changes.push(TextChange {
                    label: "template".into(),
                    before: None,
                    after: Some(spec.template_body.clone()),
                });
                a.effects.push(create());
                a
            }
            (Some(_), Standing::Foreign { owner }) => action(
                address.clone(),
                Op::Blocked,
                ownership::foreign(thing, owner),
            ),
            (Some(_), Standing::Misaddressed { tagged }) => action(
                address.clone(),
                Op::Blocked,
                ownership::misaddressed(thing, tagged, &address),
            ),
            (Some(s), Standing::Drifted | Standing::InSync) if s.status.is_rollback_failed() => {
                // The stack takes no update, and no change set, until its rollback is
                // continued: the update waits for the next plan, which can list what it touches.
                let mut a = action(
                    address.clone(),
                    Op::Update,
                    format!(
                        "stack {} is UPDATE_ROLLBACK_FAILED: its rollback is continued; the next plan updates it to vibes.toml, listing what the update touches",
                        s.stack_name
                    ),
                );
                if let Some(diff) = &diff {
                    self.show_diff(&mut a, s, diff);
                }
                a.effects.push(Effect::ContinueRollback {
                    stack_name: s.stack_name.clone(),
                    token: format!("{token}-continue"),
                });
                a
            }
            (Some(s), _) if s.status.is_rollback_failed() => action(
                address.clone(),
                Op::Blocked,
                format!(
                    "stack {name} is UPDATE_ROLLBACK_FAILED and was not made by vibes, which continues only its own stacks' rollbacks: continue it by hand (aws cloudformation continue-update-rollback --stack-name {name}), then run vibes again",
                    name = s.stack_name
                ),
            ),
            (Some(s), _) if s.status.is_in_progress() => action(
                address.clone(),
                Op::Blocked,
                format!(
                    "stack {} is {}; run vibes again when it has finished",
                    s.stack_name, s.status
                ),
            ),
            (Some(s), st) if s.status.is_failed_create() => {
                let untagged = matches!(st, Standing::Untagged { .. });
                if untagged && !self.replace_requested(&address) {
                    action(
                        address.clone(),
                        Op::Blocked,
                        format!(
                            "stack {name} exists without vibes tags and is {status}: vibes does not delete a stack it did not make; \
                             delete it (aws cloudformation delete-stack --stack-name {name}) or pass --replace {address}",
                            name = s.stack_name,
                            status = s.status
                        ),
                    )
                } else {
                    let why = if s.status.is_never_executed() {
                        "made by a change set never executed, it holds no resources"
                    } else {
                        "after a failed create"
                    };
                    let mut a = action(
                        address.clone(),
                        Op::Replace,
                        format!(
                            "stack {} is {} {why}: it is deleted and created again",
                            s.stack_name, s.status
                        ),
                    );
                    a.changes.push(template_change(s, true));
                    a.effects.push(Effect::DeleteStack {
                        stack_name: spec.stack_name.clone(),
                        token: format!("{token}-del"),
                        empties: filled_buckets(s),
                    });
                    a.effects.push(create());
                    a
                }
            }
            (Some(s), Standing::Untagged { .. }) => {
                let diff = diff.expect("a stack was seen");
                if diff.is_empty() {
                    // The live template and parameters, exactly: the update carries only tags.
                    let mut parameters = spec.parameters.clone();
                    for (k, v) in &s.parameters {
                        parameters
                            .entry(k.clone())
                            .or_insert_with(|| Value::literal(v));
                    }
                    let mut a = action(
                        address.clone(),
                        Op::Adopt,
                        format!(
                            "stack {} exists without vibes tags and matches vibes.toml: it is tagged through an update that changes nothing else",
                            s.stack_name
                        ),
                    );
                    a.effects.push(update(&s.template_body, parameters));
                    a
                } else {
                    let replace = self.replace_requested(&address);
                    let mut a = if replace {
                        action(
                            address.clone(),
                            Op::Adopt,
                            format!(
                                "stack {} exists without vibes tags; --replace {address}: it is tagged and vibes' template and parameters are applied to it ({})",
                                s.stack_name,
                                diff.describe()
                            ),
                        )
                    } else {
                        action(
                            address.clone(),
                            Op::Blocked,
                            ownership::differs(thing, &diff.describe(), &address),
                        )
                    };
                    self.show_diff(&mut a, s, &diff);
                    if replace {
                        a.effects
                            .push(update(&spec.template_body, spec.parameters.clone()));
                        self.list_stack_changes(&mut a, spec);
                    }
                    a
                }
            }
            (Some(_), Standing::InSync) => return None,
            (Some(s), Standing::Drifted) => {
                // Unset parameters of a stack of ours take the template's defaults: not compared.
                let diff = StackDiff {
                    masked: Vec::new(),
                    ..diff.expect("a stack was seen")
                };
                let mut a = action(address.clone(), Op::Update, diff.describe());
                self.show_diff(&mut a, s, &diff);
                a.effects
                    .push(update(&spec.template_body, spec.parameters.clone()));
                self.list_stack_changes(&mut a, spec);
                a
            }
        };
        a.attributes
            .insert(0, Attribute::new("stack_name", &spec.stack_name));
        if a.op != Op::Blocked || !a.changes.is_empty() {
            a.attributes
                .insert(1, Attribute::new("template", spec.template_shown()));
        }
        a.relies_on
            .insert(Reliance::stack(&spec.stack_name), seen(seen_stack));
        Some(a)
    }

    /// The updates in `actions` whose change set `observed` does not hold yet: an update of a
    /// stack of ours, or an adoption under `--replace` (a tag-only adoption changes no
    /// resource).
    pub(super) fn previews_wanted(&self, actions: &[Action]) -> Vec<StackPreviewRequest> {
        actions
            .iter()
            .filter(|a| a.address.kind == Kind::Stack)
            .filter(|a| {
                a.op == Op::Update
                    || (a.op == Op::Adopt && self.options.replace.contains(&a.address))
            })
            .filter_map(|a| self.desired.stacks.get(a.address.name()))
            // A stack whose rollback failed takes no change set until the rollback is continued.
            .filter(|spec| {
                !self
                    .observed
                    .stacks
                    .get(&spec.stack_name)
                    .is_some_and(|s| s.status.is_rollback_failed())
            })
            .map(|spec| self.update_preview(&self.with_kept_bucket(spec)))
            .filter(|want| {
                self.observed
                    .stack_changes
                    .get(&want.stack_name)
                    .is_none_or(|c| c.key != want.key)
            })
            .collect()
    }

    /// What the update would be previewed as: its key and its parameters as known now. A value
    /// known only after apply keeps the stack's live one (UsePreviousValue); a parameter the
    /// live stack does not have yet has none to keep (CloudFormation refuses UsePreviousValue
    /// for it), so the new template's default stands in for the preview, when it gives one.
    pub(super) fn update_preview(&self, spec: &StackSpec) -> StackPreviewRequest {
        let live = self.observed.stacks.get(&spec.stack_name);
        let parameters: BTreeMap<String, Option<String>> = spec
            .parameters
            .iter()
            .map(|(k, v)| {
                let now = self.resolve_now(v).or_else(|| {
                    live.filter(|s| !s.parameters.contains_key(k))
                        .and_then(|_| parameter_default(&spec.template_body, k))
                });
                (k.clone(), now)
            })
            .collect();
        StackPreviewRequest {
            key: update_key(
                &seen(self.observed.stacks.get(&spec.stack_name)),
                &spec.template_body,
                &parameters,
            ),
            stack_name: spec.stack_name.clone(),
            template_body: spec.template_body.clone(),
            parameters,
        }
    }

    /// The resources the update adds, modifies, replaces or removes, as the change set the
    /// workspace made for it listed them; an update that would replace or remove a resource
    /// holding data is blocked without `--include-data`.
    fn list_stack_changes(&self, a: &mut Action, spec: &StackSpec) {
        let want = self.update_preview(spec);
        let Some(seen) = self
            .observed
            .stack_changes
            .get(&spec.stack_name)
            .filter(|c| c.key == want.key)
        else {
            return;
        };
        let live = self
            .observed
            .stacks
            .get(&spec.stack_name)
            .map(|s| template_resources(&s.template_body))
            .unwrap_or_default();
        let block = |a: &mut Action, reason: String| {
            if !self.options.include_data {
                a.op = Op::Blocked;
                a.reason = reason;
                a.effects.clear();
            }
        };
        let changes = match &seen.outcome {
            Previewed::Unavailable(why) => {
                a.attributes.push(Attribute::new(
                    "resources",
                    format!("(no change set: {why})"),
                ));
                // Unlisted, the update may lose what the stack holds: not without the opt-in.
                let held: Vec<String> = live
                    .iter()
                    .filter(|r| r.holds_data())
                    .map(|r| format!("{} ({})", r.logical_id, r.resource_type))
                    .collect();
                if !held.is_empty() {
                    block(
                        a,
                        format!(
                            "CloudFormation could not list what the update would do, and the stack holds data ({}); \
                             pass --include-data to update it without the listing",
                            held.join(", ")
                        ),
                    );
                }
                return;
            }
            Previewed::Changes(c) if c.is_empty() => {
                let unknown = want.parameters.values().any(Option::is_none);
                a.attributes.push(Attribute::new(
                    "resources",
                    if unknown {
                        "no resource changes listed (values known only after apply were kept as they are)"
                    } else {
                        "no resource changes (the change set lists none)"
                    },
                ));
                return;
            }
            Previewed::Changes(c) => c,
        };
        for c in changes {
            a.attributes.push(Attribute::new("resource", c.line()));
        }
        // A resource the template retains on delete keeps its data when it leaves the stack.
        let retained = |c: &ResourceChange| {
            c.action == ChangeAction::Remove
                && live
                    .iter()
                    .any(|r| r.logical_id == c.logical_id && r.retained_on_delete)
        };
        let lost: Vec<String> = changes
            .iter()
            .filter(|c| c.loses_data() && !retained(c))
            .map(|c| format!("{} ({})", c.logical_id, c.resource_type))
            .collect();
        if !lost.is_empty() {
            block(
                a,
                format!(
                    "the update would replace or remove {}, which {} data: a new one starts empty; \
                     pass --include-data to update it all the same, or change the template so that it keeps {}",
                    lost.join(", "),
                    if lost.len() == 1 { "holds" } else { "hold" },
                    if lost.len() == 1 { "it" } else { "them" },
                ),
            );
        }
    }

    /// The template diff and the changed parameters, under an update or a refused adoption.
    fn show_diff(&self, a: &mut Action, s: &ObservedStack, diff: &StackDiff) {
        if diff.template {
            a.changes.push(TextChange {
                label: "template".into(),
                before: Some(s.template_body.clone()),
                after: self
                    .desired
                    .stacks
                    .values()
                    .find(|d| d.stack_name == s.stack_name)
                    .map(|d| d.template_body.clone()),
            });
        }
        let secret = self
            .desired
            .stacks
            .values()
            .find(|d| d.stack_name == s.stack_name)
            .map(|d| noecho::declared(&d.template_body))
            .unwrap_or_default();
        for (k, was, now) in &diff.parameters {
            if secret.contains(k) || was.as_deref() == Some(MASKED) {
                a.attributes
                    .push(Attribute::sensitive(&format!("parameter {k}")));
                continue;
            }
            a.attributes.push(Attribute::new(
                &format!("parameter {k}"),
                format!(
                    "{} -> {}",
                    was.as_deref().unwrap_or("(none)"),
                    now.as_deref().unwrap_or("(known after apply)")
                ),
            ));
        }
    }

    /// Stacks of this project that the config no longer names, under vibes' name for them.
    fn stacks_no_longer_named(&self) -> Vec<Action> {
        let mut out = Vec::new();
        for s in self.observed.stacks.values() {
            let thing = Thing {
                what: "stack",
                name: &s.stack_name,
            };
            let Some(address) = self.ours_by_name(Kind::Stack, thing, &s.tags, |a| {
                self.desired.project.aws_name(a.name())
            }) else {
                continue;
            };
            if self.desired.stacks.contains_key(address.name()) || s.status.is_deleted() {
                continue;
            }
            let mut a = action(address.clone(), Op::Delete, "no longer in the config");
            a.attributes
                .push(Attribute::new("stack_name", &s.stack_name));
            a.changes.push(TextChange {
                label: "template".into(),
                before: Some(s.template_body.clone()),
                after: None,
            });
            let token = idempotency_token(self.project, &address, "delete");
            let empties = filled_buckets(s);
            for bucket in &empties {
                a.attributes
                    .push(Attribute::new("empties", format!("s3://{bucket}")));
            }
            a.effects.push(Effect::DeleteStack {
                stack_name: s.stack_name.clone(),
                token,
                empties,
            });
            a.relies_on
                .insert(Reliance::stack(&s.stack_name), seen(Some(s)));
            out.push(a);
        }
        out
    }
}
