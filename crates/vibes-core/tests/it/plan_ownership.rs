//! Whose is it? The planner on accounts where the conventional names are taken: by another
//! project, by hand, or by something that carries vibes' tags under a name vibes does not give.
//! A resource is vibes' when it carries the project's tags *and* vibes' name for it; adoption
//! only ever adds tags; nothing of another project is written, replaced or deleted.

use crate::support::apply::summary;
use std::collections::BTreeMap;
use std::path::PathBuf;
use vibes_core::model::*;
use vibes_core::observed::*;
use vibes_core::plan::{plan, Action, Effect, Op, Plan, PlanOptions};
use vibes_core::tags::{self, fingerprint_of, Tags};
use vibes_core::Address;

const P: &str = "vibes";

fn run(d: &Desired, o: &Observed) -> Plan {
    plan(d, o, &PlanOptions::default()).expect("a valid plan")
}

fn find<'p>(p: &'p Plan, addr: &str) -> &'p Action {
    p.find(&addr.parse().unwrap())
        .unwrap_or_else(|| panic!("{addr} not in the plan: {}", summary(p)))
}

fn attribute<'a>(a: &'a Action, name: &str) -> Option<&'a str> {
    a.attributes
        .iter()
        .find(|x| x.name == name)
        .and_then(|x| x.value.as_deref())
}

fn ours(addr: &str, fp: &str) -> Tags {
    tags::ownership(P, &addr.parse().unwrap(), fp)
}

fn of_project(project: &str, addr: &str) -> Tags {
    tags::ownership(project, &addr.parse().unwrap(), "0123456789abcdef")
}

fn generated_keys(names: &[&str]) -> Desired {
    let mut d = Desired::empty(P);
    for k in names {
        d.keys.insert(
            k.to_string(),
            KeySpec {
                key_name: format!("{P}-{k}"),
                private_key_path: format!("/{P}/ec2/keys/{k}"),
                public_key: None,
            },
        );
    }
    d
}

fn key_pair(name: &str, tags: Tags) -> ObservedKeyPair {
    ObservedKeyPair {
        key_name: name.into(),
        key_pair_id: format!("key-{name}"),
        tags,
    }
}

fn secure(name: &str, tags: Tags) -> ObservedParameter {
    ObservedParameter {
        name: name.into(),
        secure: true,
        value: None,
        tags,
        version: 1,
    }
}

fn no_effects_but_tags(a: &Action) -> bool {
    a.effects
        .iter()
        .all(|e| matches!(e, Effect::TagKeyPair { .. } | Effect::TagParameter { .. }))
}

// ------------------------------------------------------------------ secrets

#[test]
fn a_secure_string_of_another_project_at_a_keys_path_is_never_overwritten() {
    let d = generated_keys(&["k"]);
    let mut o = Observed::default();
    o.parameters.insert(
        "/vibes/ec2/keys/k".into(),
        secure("/vibes/ec2/keys/k", of_project("other", "key.k")),
    );
    let p = run(&d, &o);
    let a = find(&p, "key.k");
    assert_eq!(a.op, Op::Blocked, "{}", summary(&p));
    assert!(a.effects.is_empty());
    assert!(
        a.reason.contains("project other") && a.reason.contains("/vibes/ec2/keys/k"),
        "the owner and the parameter are named: {}",
        a.reason
    );
}

#[test]
fn a_secure_string_made_by_hand_without_its_key_pair_is_not_overwritten() {
    let d = generated_keys(&["k"]);
    let mut o = Observed::default();
    o.parameters.insert(
        "/vibes/ec2/keys/k".into(),
        secure("/vibes/ec2/keys/k", Tags::new()),
    );
    let p = run(&d, &o);
    let a = find(&p, "key.k");
    assert_eq!(a.op, Op::Blocked, "{}", summary(&p));
    assert!(a.effects.is_empty());
    assert!(
        a.reason
            .contains("aws ssm delete-parameter --name /vibes/ec2/keys/k"),
        "says how to proceed: {}",
        a.reason
    );
}

#[test]
fn a_private_key_vibes_left_behind_without_its_key_pair_is_still_replaced() {
    // The crash-repair path of a replace: the key pair was deleted, the new one not yet made.
    let d = generated_keys(&["k"]);
    let mut o = Observed::default();
    let fp = fingerprint_of(&("generate",));
    o.parameters.insert(
        "/vibes/ec2/keys/k".into(),
        secure("/vibes/ec2/keys/k", ours("key.k", &fp)),
    );
    let p = run(&d, &o);
    let a = find(&p, "key.k");
    assert_eq!(a.op, Op::Create, "{}", summary(&p));
}

// ------------------------------------------------------------------ key pairs

#[test]
fn a_hand_made_key_pair_without_its_private_key_in_ssm_is_adopted_and_kept() {
    let d = generated_keys(&["server"]);
    let mut o = Observed::default();
    o.key_pairs
        .insert("vibes-server".into(), key_pair("vibes-server", Tags::new()));
    let p = run(&d, &o);
    let a = find(&p, "key.server");
    assert_eq!(a.op, Op::Adopt, "{}", summary(&p));
    assert!(
        no_effects_but_tags(a),
        "adoption only tags: {:?}",
        a.effects
    );
    assert_eq!(
        attribute(a, "private_key"),
        Some("not held by vibes"),
        "{:?}",
        a.attributes
    );
}

#[test]
fn a_hand_made_key_pair_with_its_private_key_in_ssm_says_where_it_is() {
    let d = generated_keys(&["builds"]);
    let mut o = Observed::default();
    o.key_pairs
        .insert("vibes-builds".into(), key_pair("vibes-builds", Tags::new()));
    o.parameters.insert(
        "/vibes/ec2/keys/builds".into(),
        secure("/vibes/ec2/keys/builds", Tags::new()),
    );
    let p = run(&d, &o);
    let a = find(&p, "key.builds");
    assert_eq!(a.op, Op::Adopt);
    assert!(no_effects_but_tags(a));
    assert_eq!(
        attribute(a, "private_key"),
        Some("SSM SecureString /vibes/ec2/keys/builds")
    );
}

/// The observed account after the adoption's tags are applied.
fn after_tagging(o: &Observed, a: &Action) -> Observed {
    let mut o = o.clone();
    for e in &a.effects {
        match e {
            Effect::TagKeyPair { key_name, tags } => o
                .key_pairs
                .get_mut(key_name)
                .unwrap()
                .tags
                .extend(tags.clone()),
            Effect::TagParameter { name, tags } => o
                .parameters
                .get_mut(name)
                .unwrap()
                .tags
                .extend(tags.clone()),
            other => panic!("adoption does {other:?}"),
        }
    }
    o
}

#[test]
fn an_adopted_key_pair_without_its_private_key_is_kept_on_every_later_plan() {
    let d = generated_keys(&["server"]);
    let mut o = Observed::default();
    o.key_pairs
        .insert("vibes-server".into(), key_pair("vibes-server", Tags::new()));
    let first = run(&d, &o);
    let adopt = find(&first, "key.server");
    assert_eq!(adopt.op, Op::Adopt, "{}", summary(&first));
    let o = after_tagging(&o, adopt);
    let second = run(&d, &o);
    assert!(
        second.is_empty(),
        "adopted once, then left as it is: {}",
        summary(&second)
    );
    // Even when the config then asks for an imported key: an adopted key is replaced on request only.
    let mut d = d;
    d.keys.get_mut("server").unwrap().public_key = Some("ssh-ed25519 AAAAC3Nz me@host".into());
    let third = run(&d, &o);
    assert!(third.is_empty(), "{}", summary(&third));
}

#[test]
fn a_key_pair_with_our_tags_but_not_our_name_is_not_deleted() {
    let d = Desired::empty(P);
    let mut o = Observed::default();
    o.key_pairs.insert(
        "other-thing".into(),
        key_pair("other-thing", ours("key.thing", "x")),
    );
    let p = run(&d, &o);
    assert!(
        p.actions.iter().all(|a| a.effects.iter().all(
            |e| !matches!(e, Effect::DeleteKeyPair { key_name } if key_name == "other-thing")
        )),
        "{}",
        summary(&p)
    );
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("other-thing") && n.contains("vibes-thing")),
        "a note says why it is left alone: {:?}",
        p.notes
    );
}

#[test]
fn a_key_pair_tagged_for_another_address_of_ours_is_blocked() {
    let d = generated_keys(&["builds"]);
    let mut o = Observed::default();
    o.key_pairs.insert(
        "vibes-builds".into(),
        key_pair("vibes-builds", ours("key.worker", "x")),
    );
    let p = run(&d, &o);
    let a = find(&p, "key.builds");
    assert_eq!(a.op, Op::Blocked, "{}", summary(&p));
    assert!(a.reason.contains("key.worker"), "{}", a.reason);
}

// ------------------------------------------------------------------ stacks

fn one_stack(template: &str, params: &[(&str, &str)]) -> Desired {
    let mut d = Desired::empty(P);
    d.stacks.insert(
        "vpc".into(),
        StackSpec {
            stack_name: "vibes-vpc".into(),
            template_path: PathBuf::from("cfn/vpc.yaml"),
            template_built_in: false,
            template_body: template.into(),
            parameters: params
                .iter()
                .map(|(k, v)| (k.to_string(), Value::literal(*v)))
                .collect(),
            depends_on: vec![],
        },
    );
    d
}

fn live_stack(template: &str, params: &[(&str, &str)], tags: Tags) -> ObservedStack {
    ObservedStack {
        stack_name: "vibes-vpc".into(),
        stack_id: "arn:stack/vibes-vpc/1".into(),
        status: "CREATE_COMPLETE".into(),
        template_body: template.into(),
        parameters: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        outputs: BTreeMap::new(),
        tags,
    }
}

#[test]
fn an_untagged_stack_that_vibes_would_change_is_blocked_not_updated() {
    let d = one_stack("Description: vibes' network\n", &[("Project", "vibes")]);
    let mut o = Observed::default();
    o.stacks.insert(
        "vibes-vpc".into(),
        live_stack(
            "Description: someone's network\n",
            &[("Project", "vibes")],
            Tags::new(),
        ),
    );
    let p = run(&d, &o);
    let a = find(&p, "stack.vpc");
    assert_eq!(a.op, Op::Blocked, "{}", summary(&p));
    assert!(a.effects.is_empty());
    assert!(
        a.reason.contains("template") && a.reason.contains("--replace stack.vpc"),
        "the reason says what differs and how to proceed: {}",
        a.reason
    );
    // The difference is shown, so the user can judge it.
    assert!(a.changes.iter().any(|c| c.label == "template"));

    // A parameter differing is enough, too.
    let d = one_stack("Description: n\n", &[("Project", "vibes")]);
    o.stacks.insert(
        "vibes-vpc".into(),
        live_stack("Description: n\n", &[("Project", "theirs")], Tags::new()),
    );
    let p = run(&d, &o);
    let a = find(&p, "stack.vpc");
    assert_eq!(a.op, Op::Blocked, "{}", summary(&p));
    assert!(a.reason.contains("parameter"), "{}", a.reason);
}

#[test]
fn an_untagged_stack_matching_the_config_is_adopted_with_tags_alone() {
    let body = "Description: n\nParameters:\n  Project: {Type: String}\n  Extra: {Type: String, Default: a}\n";
    let d = one_stack(body, &[("Project", "vibes")]);
    let mut o = Observed::default();
    // `Extra` is not in the config; the stack was made with a non-default value for it.
    o.stacks.insert(
        "vibes-vpc".into(),
        live_stack(
            &format!("{body}\n"),
            &[("Project", "vibes"), ("Extra", "b")],
            Tags::new(),
        ),
    );
    let p = run(&d, &o);
    let a = find(&p, "stack.vpc");
    assert_eq!(a.op, Op::Adopt, "{}", summary(&p));
    let [Effect::UpdateStack {
        template_body,
        parameters,
        tags,
        ..
    }] = a.effects.as_slice()
    else {
        panic!("one update that carries the tags: {:?}", a.effects)
    };
    assert_eq!(template_body.trim_end(), body.trim_end());
    assert_eq!(tags.get(tags::PROJECT).map(String::as_str), Some(P));
    assert_eq!(
        parameters.get("Extra"),
        Some(&Value::literal("b")),
        "a parameter the config leaves unset keeps its live value: the update changes nothing but tags"
    );
    assert_eq!(parameters.get("Project"), Some(&Value::literal("vibes")));
}

#[test]
fn a_tagged_stack_whose_name_is_not_ours_is_not_deleted() {
    let d = Desired::empty(P);
    let mut o = Observed::default();
    let mut s = live_stack("x", &[], ours("stack.vpc", "x"));
    s.stack_name = "someone-vpc".into();
    o.stacks.insert("someone-vpc".into(), s);
    let p = run(&d, &o);
    assert!(p.actions.is_empty(), "{}", summary(&p));
    assert!(
        p.notes.iter().any(|n| n.contains("someone-vpc")),
        "{:?}",
        p.notes
    );
}

#[test]
fn a_stack_of_another_project_is_blocked_naming_the_owner() {
    let d = one_stack("Description: n\n", &[]);
    let mut o = Observed::default();
    o.stacks.insert(
        "vibes-vpc".into(),
        live_stack("Description: n\n", &[], of_project("other", "stack.vpc")),
    );
    let p = run(&d, &o);
    let a = find(&p, "stack.vpc");
    assert_eq!(a.op, Op::Blocked);
    assert!(a.reason.contains("project other"), "{}", a.reason);
}

// ------------------------------------------------------------------ parameters

#[test]
fn an_untagged_profile_with_other_text_is_not_overwritten() {
    let mut d = Desired::empty(P);
    d.profiles.insert(
        "phone".into(),
        ProfileSpec {
            parameter: "/vibes/profiles/phone".into(),
            text: "CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=-V 6\n".into(),
            encoder: "lame".into(),
        },
    );
    let mut o = Observed::default();
    o.parameters.insert(
        "/vibes/profiles/phone".into(),
        ObservedParameter {
            name: "/vibes/profiles/phone".into(),
            secure: false,
            value: Some("CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=-V 2\n".into()),
            tags: Tags::new(),
            version: 4,
        },
    );
    let p = run(&d, &o);
    let a = find(&p, "profile.phone");
    assert_eq!(a.op, Op::Blocked, "{}", summary(&p));
    assert!(a.effects.is_empty());
    assert!(a.reason.contains("--replace profile.phone"), "{}", a.reason);
    assert!(
        a.changes.iter().any(|c| c.label == "value"),
        "the diff is shown"
    );
}

#[test]
fn an_image_pointer_of_another_project_is_not_overwritten() {
    let mut d = Desired::empty(P);
    d.images.insert(
        "worker".into(),
        ImageSpec {
            recipe: "packer/worker.pkr.hcl".into(),
            files: BTreeMap::new(),
            recipe_hash: "r1".into(),
            parameter: "/vibes/ami/worker".into(),
            keep: 2,
            built_in: BTreeMap::new(),
            arch: Default::default(),
        },
    );
    let mut o = Observed::default();
    o.images.insert(
        "ami-1".into(),
        ObservedImage {
            image_id: "ami-1".into(),
            name: "vibes-worker-r1".into(),
            state: "available".into(),
            created: "2026-01-01T00:00:00Z".into(),
            tags: ours("image.worker", "r1"),
            architecture: None,
        },
    );
    o.parameters.insert(
        "/vibes/ami/worker".into(),
        ObservedParameter {
            name: "/vibes/ami/worker".into(),
            secure: false,
            value: Some("ami-theirs".into()),
            tags: of_project("other", "image.worker"),
            version: 1,
        },
    );
    let p = run(&d, &o);
    let a = find(&p, "image.worker");
    assert_eq!(a.op, Op::Blocked, "{}", summary(&p));
    assert!(a.effects.is_empty());
    assert!(a.reason.contains("project other"), "{}", a.reason);
}

// ------------------------------------------------------------------ --replace

fn replacing(d: &Desired, o: &Observed, addresses: &[&str]) -> Plan {
    let options = PlanOptions {
        replace: addresses.iter().map(|a| a.parse().unwrap()).collect(),
        ..Default::default()
    };
    plan(d, o, &options).expect("a valid plan")
}

#[test]
fn replace_makes_a_new_key_pair_over_one_made_by_hand() {
    let d = generated_keys(&["server"]);
    let mut o = Observed::default();
    o.key_pairs
        .insert("vibes-server".into(), key_pair("vibes-server", Tags::new()));
    o.parameters.insert(
        "/vibes/ec2/keys/server".into(),
        secure("/vibes/ec2/keys/server", Tags::new()),
    );
    let p = replacing(&d, &o, &["key.server"]);
    let a = find(&p, "key.server");
    assert_eq!(a.op, Op::Replace, "{}", summary(&p));
    assert!(a.reason.contains("--replace key.server"), "{}", a.reason);
    assert!(matches!(
        a.effects.as_slice(),
        [
            Effect::DeleteKeyPair { .. },
            Effect::CreateKeyPair {
                overwrite: true,
                ..
            }
        ]
    ));
    assert!(p.notes.is_empty(), "{:?}", p.notes);

    // An adopted key, too: the opt-in is how it is ever made anew.
    let adopted = run(&d, &o);
    let o = after_tagging(&o, find(&adopted, "key.server"));
    assert!(run(&d, &o).is_empty());
    assert_eq!(
        find(&replacing(&d, &o, &["key.server"]), "key.server").op,
        Op::Replace
    );
}

#[test]
fn replace_never_reaches_what_another_project_holds() {
    let d = generated_keys(&["k"]);
    let mut o = Observed::default();
    o.parameters.insert(
        "/vibes/ec2/keys/k".into(),
        secure("/vibes/ec2/keys/k", of_project("other", "key.k")),
    );
    o.key_pairs
        .insert("vibes-k".into(), key_pair("vibes-k", Tags::new()));
    let a = replacing(&d, &o, &["key.k"]);
    let a = find(&a, "key.k");
    assert_eq!(a.op, Op::Blocked);
    assert!(a.effects.is_empty());
    assert!(a.reason.contains("project other"), "{}", a.reason);
}

#[test]
fn replace_applies_vibes_template_to_a_stack_made_by_hand() {
    let d = one_stack("Description: vibes' network\n", &[("Project", "vibes")]);
    let mut o = Observed::default();
    o.stacks.insert(
        "vibes-vpc".into(),
        live_stack(
            "Description: someone's network\n",
            &[("Project", "vibes")],
            Tags::new(),
        ),
    );
    let p = replacing(&d, &o, &["stack.vpc"]);
    let a = find(&p, "stack.vpc");
    assert_eq!(a.op, Op::Adopt, "{}", summary(&p));
    let [Effect::UpdateStack { template_body, .. }] = a.effects.as_slice() else {
        panic!("{:?}", a.effects)
    };
    assert_eq!(template_body, "Description: vibes' network\n");
    assert!(a.changes.iter().any(|c| c.label == "template"));
}

#[test]
fn replace_applies_the_configs_text_to_a_profile_made_by_hand() {
    let mut d = Desired::empty(P);
    d.profiles.insert(
        "phone".into(),
        ProfileSpec {
            parameter: "/vibes/profiles/phone".into(),
            text: "CONFIG_ENCODER=lame\n".into(),
            encoder: "lame".into(),
        },
    );
    let mut o = Observed::default();
    o.parameters.insert(
        "/vibes/profiles/phone".into(),
        ObservedParameter {
            name: "/vibes/profiles/phone".into(),
            secure: false,
            value: Some("CONFIG_ENCODER=flac\n".into()),
            tags: Tags::new(),
            version: 1,
        },
    );
    let p = replacing(&d, &o, &["profile.phone"]);
    let a = find(&p, "profile.phone");
    assert_eq!(a.op, Op::Adopt, "{}", summary(&p));
    assert!(matches!(
        a.effects.as_slice(),
        [Effect::PutParameter { .. }, Effect::TagParameter { .. }]
    ));
}

#[test]
fn a_replace_that_changes_nothing_says_so() {
    let d = one_stack("Description: n\n", &[]);
    let p = replacing(&d, &Observed::default(), &["stack.vpc", "key.nope"]);
    assert_eq!(find(&p, "stack.vpc").op, Op::Create);
    assert!(
        p.notes
            .iter()
            .any(|n| n.starts_with("--replace stack.vpc:") && n.contains("nothing is replaced")),
        "{:?}",
        p.notes
    );
    assert!(
        p.notes
            .iter()
            .any(|n| n.starts_with("--replace key.nope: the config does not name it")),
        "{:?}",
        p.notes
    );
}

#[test]
fn only_keys_stacks_profiles_images_and_the_compile_are_replaced_on_request() {
    for ok in ["key.a", "stack.a", "profile.a", "image.a", "compile"] {
        assert!(vibes_core::plan::replaceable(&ok.parse::<Address>().unwrap()).is_ok());
    }
    let err = vibes_core::plan::replaceable(&Address::volume("builds")).unwrap_err();
    assert!(
        err.contains("key.NAME, stack.NAME, profile.NAME, image.NAME or compile"),
        "{err}"
    );
}
