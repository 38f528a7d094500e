//! The fake's reads: `observe`, what one look at a project over every service answers, shown
//! as the AWS adapter's observe shows it; and `list_bucket`, a bucket's objects.

use super::{owned_by, FakeCloud};
use async_trait::async_trait;
use vibes_core::cloud::CloudResult;
use vibes_core::cloud::Observe;
use vibes_core::observed::{
    Observed, ObservedBucket, ObservedKeyPair, ObservedParameter, ObservedStack,
};

#[async_trait]
impl Observe for FakeCloud {
    async fn observe(&self, project: &str, sources_bucket: Option<&str>) -> CloudResult<Observed> {
        let _s = self.enter("observe", project).await?;
        let w = self.world();
        let prefix = format!("{project}-");
        let mut o = Observed::default();
        // As the AWS observe: tagged for the project, or under its names whoever tagged them
        // (so that the planner sees what holds a name it would use).
        for (name, st) in &w.stacks {
            let in_view = owned_by(&st.tags, project) || name.starts_with(&prefix);
            if !in_view || st.status == "DELETE_COMPLETE" {
                continue;
            }
            o.stacks.insert(
                name.clone(),
                ObservedStack {
                    stack_name: name.clone(),
                    stack_id: st.id.clone(),
                    status: st.status.clone().into(),
                    template_body: st.template.clone(),
                    // As CloudFormation's DescribeStacks: a NoEcho value reads back as `****`
                    // (AWS CloudFormation User Guide, "Parameters": "If you set the NoEcho
                    // attribute to true, CloudFormation returns the parameter value masked as
                    // asterisks (*****) for any calls that describe the stack"). moto does not
                    // mask (it compares values, not names, with the NoEcho keys).
                    parameters: {
                        let secret = vibes_core::noecho::declared(&st.template);
                        st.parameters
                            .iter()
                            .map(|(k, v)| {
                                let shown = if secret.contains(k) {
                                    "****"
                                } else {
                                    v.as_str()
                                };
                                (k.clone(), shown.to_string())
                            })
                            .collect()
                    },
                    outputs: st.outputs.clone(),
                    tags: st.tags.clone(),
                },
            );
        }
        for (name, k) in &w.key_pairs {
            if owned_by(&k.tags, project) || name.starts_with(&prefix) {
                o.key_pairs.insert(
                    name.clone(),
                    ObservedKeyPair {
                        key_name: name.clone(),
                        key_pair_id: k.id.clone(),
                        tags: k.tags.clone(),
                    },
                );
            }
        }
        let path = format!("/{project}/");
        for (name, p) in w.parameters.iter().filter(|(n, _)| n.starts_with(&path)) {
            o.parameters.insert(
                name.clone(),
                ObservedParameter {
                    name: name.clone(),
                    secure: p.secure,
                    value: (!p.secure).then(|| p.value.clone()),
                    tags: p.tags.clone(),
                    version: p.version,
                },
            );
        }
        o.images = w
            .images
            .iter()
            .filter(|(_, i)| owned_by(&i.tags, project))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        o.volumes = w
            .volumes
            .iter()
            .filter(|(_, v)| owned_by(&v.tags, project))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        o.snapshots = w
            .snapshots
            .iter()
            .filter(|(_, (s, _))| owned_by(&s.tags, project))
            .map(|(k, (s, _))| (k.clone(), s.clone()))
            .collect();
        o.instances = Self::observed_instances(&w, project);
        o.addresses = w
            .addresses
            .iter()
            .filter(|(_, a)| owned_by(&a.tags, project))
            .map(|(k, a)| (k.clone(), a.clone()))
            .collect();
        o.sources_bucket = sources_bucket.and_then(|b| {
            w.buckets.get(b).map(|objects| ObservedBucket {
                bucket: b.into(),
                objects: objects.clone(),
            })
        });
        Ok(o)
    }

    async fn list_bucket(&self, bucket: &str) -> CloudResult<Option<ObservedBucket>> {
        let _s = self.enter("list_bucket", bucket).await?;
        Ok(self
            .world()
            .buckets
            .get(bucket)
            .map(|objects| ObservedBucket {
                bucket: bucket.into(),
                objects: objects.clone(),
            }))
    }
}
