//! Images: an AMI per recipe, built by CodeBuild when the recipe changes, the newest `keep`
//! kept, and the parameter that points at the current one.

use super::{action, address_of, newest_first, outputs, plural, seen, Cx};
use crate::address::{Address, Kind};
use crate::arch::Arch;
use crate::model::{ImageSpec, Value};
use crate::observed::{Observed, ObservedImage};
use crate::plan::action::{Action, Attribute, Effect, Op, TextChange};
use crate::plan::reliance::Reliance;
use crate::tags;
use std::collections::BTreeMap;

impl<'a> Cx<'a> {
    fn images_of(&self, address: &Address) -> Vec<&'a ObservedImage> {
        let v: Vec<_> = Observed::tagged(self.observed.images.values(), &address.to_string())
            .into_iter()
            .filter(|i| self.ours(&i.tags) && !i.state.is_deregistered())
            .collect();
        newest_first(v, |i| (i.created.as_str(), i.image_id.as_str()))
    }

    /// What an instance of image `name` launches from: the current AMI, or the one this plan
    /// builds. `None` when the config names no such image.
    pub(super) fn image_value(&self, name: &str) -> Option<Value> {
        let spec = self.desired.images.get(name)?;
        let address = Address::image(name);
        let current = self
            .images_of(&address)
            .into_iter()
            .find(|i| is_current(i, spec));
        Some(match current {
            Some(i) => Value::literal(&i.image_id),
            None => Value::Output {
                address,
                output: outputs::IMAGE_ID.into(),
            },
        })
    }

    /// Why image `name` cannot launch on `instance_type`: EC2 refuses an image of another
    /// architecture than the instance type's ("The architecture 'arm64' of the specified
    /// instance type does not match the architecture 'x86_64' of the specified AMI"), so the
    /// plan refuses it first, before an image is built or a worker paid for. An image is built
    /// for the type that launches it unless `[images.NAME] arch` says otherwise; that is how the
    /// two can differ.
    pub(super) fn architecture_mismatch(
        &self,
        name: &str,
        section: &str,
        instance_type: &str,
    ) -> Option<String> {
        let spec = self.desired.images.get(name)?;
        let runs = Arch::of_instance_type(instance_type)?;
        (runs != spec.arch.arch).then(|| {
            format!(
                "{section} instance type {instance_type} runs {runs} and image.{name} is built for {}: EC2 launches an \
                 image only on an instance type of its architecture; set arch = \"{runs}\" under [images.{name}] (or \
                 drop it: the image is then built for {instance_type}), or choose an instance type that runs {}",
                spec.arch.shown(),
                spec.arch.arch,
            )
        })
    }

    pub(super) fn plan_images(&self) -> Vec<Action> {
        let mut out = Vec::new();
        for (name, spec) in &self.desired.images {
            let address = Address::image(name);
            let tags = self.tags(&address, &spec.recipe_hash);
            let existing = self.images_of(&address);
            let current = existing.iter().find(|i| is_current(i, spec));
            let pointer = self.observed.parameters.get(&spec.parameter);
            let keep = spec.keep.max(1) as usize;
            let blocked = self
                .pointer_blocked(&address, pointer)
                .or_else(|| arch_ignored(name, existing.first().copied(), spec));
            // `--replace image.NAME` builds it again from the same recipe: the base image and the
            // packages it installs are the newest then (security updates).
            let current =
                current.filter(|_| blocked.is_some() || !self.replace_requested(&address));
            let mut a = match current {
                // Every path below writes the pointer when it is not vibes' own.
                _ if blocked.is_some() => {
                    action(address.clone(), Op::Blocked, blocked.unwrap_or_default())
                }
                Some(cur) => {
                    // Built already: keep the pointer right and prune old images.
                    let mut prune: Vec<&ObservedImage> = existing
                        .iter()
                        .filter(|i| i.image_id != cur.image_id)
                        .copied()
                        .collect();
                    prune = prune.into_iter().skip(keep - 1).collect();
                    let pointer_ok = pointer.is_some_and(|p| {
                        p.value.as_deref() == Some(cur.image_id.as_str()) && self.ours(&p.tags)
                    });
                    if pointer_ok && prune.is_empty() {
                        continue;
                    }
                    let mut why = Vec::new();
                    let mut a = action(address.clone(), Op::Update, "");
                    if !pointer_ok {
                        why.push(format!(
                            "{} does not point at the current image {}",
                            spec.parameter, cur.image_id
                        ));
                        a.changes.push(TextChange {
                            label: "value".into(),
                            before: pointer.and_then(|p| p.value.clone()),
                            after: Some(cur.image_id.clone()),
                        });
                        a.effects.push(Effect::PutParameter {
                            name: spec.parameter.clone(),
                            value: Value::literal(&cur.image_id),
                            tags: tags.clone(),
                        });
                    }
                    if !prune.is_empty() {
                        why.push(format!(
                            "{} beyond the newest {keep}",
                            plural(prune.len(), "old image", "old images")
                        ));
                        for i in &prune {
                            a.attributes.push(Attribute::new(
                                "deregister",
                                format!("{} ({})", i.image_id, i.created),
                            ));
                            a.effects.push(Effect::DeregisterImage {
                                image_id: i.image_id.clone(),
                            });
                        }
                    }
                    a.reason = why.join("; ");
                    a
                }
                None => {
                    let (op, reason) =
                        match existing.first() {
                            Some(prev) if same_recipe(prev, spec) && !fits(prev, spec) => (
                                Op::Replace,
                                format!(
                                    "image {} is built for {}; the image must be {}",
                                    prev.image_id,
                                    prev.architecture.map_or("another architecture", |a| a.as_str()),
                                    spec.arch.shown()
                                ),
                            ),
                            Some(prev) if same_recipe(prev, spec) => (
                                Op::Replace,
                                format!(
                                    "--replace {address}: built again from the same recipe {} (image {} is kept until retention)",
                                    spec.recipe_hash, prev.image_id
                                ),
                            ),
                            Some(prev) => (
                                Op::Replace,
                                format!(
                                "recipe changed: image {} was built from {}, the recipe is now {}",
                                prev.image_id,
                                prev.tags.get(tags::FINGERPRINT).map(String::as_str).unwrap_or("?"),
                                spec.recipe_hash
                            ),
                            ),
                            None => (
                                Op::Create,
                                "no image built from this recipe yet".to_string(),
                            ),
                        };
                    let mut a = action(address.clone(), op, reason);
                    a.effects.push(Effect::BuildImage {
                        image: name.clone(),
                        recipe: spec.recipe.display().to_string(),
                        files: spec.files.clone(),
                        built_in: spec.built_in.clone(),
                        recipe_hash: spec.recipe_hash.clone(),
                        parameter: spec.parameter.clone(),
                        artifacts_bucket: self.main_output(outputs::ARTIFACTS_BUCKET),
                        codebuild_project: self.main_output(outputs::IMAGE_BUILD_PROJECT),
                        tags: tags.clone(),
                        arch: spec.arch.arch,
                        rebuilds: existing
                            .first()
                            .filter(|prev| {
                                prev.tags.get(tags::FINGERPRINT) == Some(&spec.recipe_hash)
                            })
                            .map(|prev| prev.image_id.clone()),
                    });
                    // After the build the new image is the newest: keep `keep - 1` of the old ones.
                    for i in existing.iter().skip(keep - 1) {
                        a.attributes.push(Attribute::new(
                            "deregister",
                            format!("{} ({}) after the build", i.image_id, i.created),
                        ));
                        a.effects.push(Effect::DeregisterImage {
                            image_id: i.image_id.clone(),
                        });
                    }
                    a
                }
            };
            a.attributes
                .insert(0, Attribute::new("recipe", spec.recipe_shown()));
            a.attributes
                .insert(1, Attribute::new("recipe_hash", &spec.recipe_hash));
            a.attributes
                .insert(2, Attribute::new("arch", spec.arch.shown()));
            a.relies_on
                .insert(Reliance::images(&address), seen(Some(&existing)));
            a.relies_on
                .insert(Reliance::parameter(&spec.parameter), seen(pointer));
            out.push(a);
        }
        // Images of recipes the config no longer names.
        let mut gone: BTreeMap<Address, Vec<&ObservedImage>> = BTreeMap::new();
        for i in self.observed.images.values() {
            if let Some(address) =
                address_of(&i.tags).filter(|a| a.kind == Kind::Image && self.ours(&i.tags))
            {
                if !self.desired.images.contains_key(address.name()) && !i.state.is_deregistered() {
                    gone.entry(address).or_default().push(i);
                }
            }
        }
        for (address, images) in gone {
            let mut a = action(address.clone(), Op::Delete, "no longer in the config");
            for i in newest_first(images.clone(), |i| {
                (i.created.as_str(), i.image_id.as_str())
            }) {
                a.attributes.push(Attribute::new(
                    "deregister",
                    format!("{} ({})", i.image_id, i.created),
                ));
                a.effects.push(Effect::DeregisterImage {
                    image_id: i.image_id.clone(),
                });
            }
            let param = self
                .desired
                .project
                .ssm_path(&format!("ami/{}", address.name()));
            if let Some(p) = self
                .observed
                .parameters
                .get(&param)
                .filter(|p| self.ours(&p.tags))
            {
                a.effects.push(Effect::DeleteParameter {
                    name: p.name.clone(),
                });
            }
            a.relies_on
                .insert(Reliance::images(&address), seen(Some(&images)));
            out.push(a);
        }
        out
    }
}

/// Built from the recipe as it is now.
fn same_recipe(i: &ObservedImage, spec: &ImageSpec) -> bool {
    i.tags.get(tags::FINGERPRINT) == Some(&spec.recipe_hash)
}

/// Built for the architecture the image must have. An image whose architecture EC2 does not
/// name as one vibes builds for is taken as it is, rather than rebuilt on every apply.
fn fits(i: &ObservedImage, spec: &ImageSpec) -> bool {
    i.architecture.is_none_or(|a| a == spec.arch.arch)
}

/// The image instances launch from: the recipe as it is, for the right architecture, ready.
fn is_current(i: &ObservedImage, spec: &ImageSpec) -> bool {
    same_recipe(i, spec) && fits(i, spec) && i.state.is_available()
}

/// Why a build of this recipe would be no use: its newest image was asked for the architecture
/// wanted now (its `vibes:arch` tag) and registered for another, so the recipe does not build
/// for its `arch` variable, and building again would only make the same image.
fn arch_ignored(name: &str, newest: Option<&ObservedImage>, spec: &ImageSpec) -> Option<String> {
    let i = newest.filter(|i| same_recipe(i, spec))?;
    let registered = i.architecture.filter(|a| *a != spec.arch.arch)?;
    let asked = i.tags.get(tags::ARCH).and_then(|a| Arch::parse(a))?;
    (asked == spec.arch.arch).then(|| {
        format!(
            "image {} was built from this recipe for {asked} and registered for {registered}: the recipe does not build for its \
             `arch` variable, and building it again would make the same image; make the recipe use var.arch, or set \
             arch = \"{registered}\" under [images.{name}] with instance types of that architecture",
            i.image_id,
        )
    })
}
